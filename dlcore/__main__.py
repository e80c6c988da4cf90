"""The command line: ``python -m dlcore <command> ...``; the same functions the pages call."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up chatter is not for people
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import argparse  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from dlcore import __version__  # noqa: E402
from dlcore.cli import fail, quiet_import_tensorflow  # noqa: E402
from dlcore.errors import DlcoreError  # noqa: E402

COMMAND_MODULES = ("datasets", "train", "models", "validate", "sample", "finetune", "importer", "explain", "trust",
                   "fairness")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    prog = "dlcore" if os.path.basename(sys.argv[0]) == "dlcore" else "python -m dlcore"  # the script or -m
    parser = argparse.ArgumentParser(prog=prog, description="Interpretable deep learning engine.")
    parser.add_argument("--version", action="version", version=f"dlcore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"dlcore.commands.{name}").add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; expected failures print one line on stderr and exit 2, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "needs_tensorflow", True):
            quiet_import_tensorflow()
        return int(args.handler(args) or 0)
    except DlcoreError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except Exception as exc:  # a bug: still one line for the user
        return fail(f"unexpected {type(exc).__name__}: {exc}", 1)


if __name__ == "__main__":
    sys.exit(main())
