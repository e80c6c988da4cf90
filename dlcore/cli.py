"""Shared pieces of the command line: output for people or ``--json``, and one-line errors."""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dlcore.workspace import finite

Handler = Callable[[argparse.Namespace], Any]
Progress = Callable[[float, str], None]


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on the last line of stdout")


def emit(args: argparse.Namespace, result: Any, human: Callable[[Any], str]) -> None:
    """Print ``result`` as JSON (``--json``) or as ``human(result)`` for people."""
    if getattr(args, "json", False):
        print(json.dumps(finite(result), default=str))
    else:
        print(human(result))


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain text table with aligned columns."""
    if not rows:
        return "(none)"
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def quiet_import_tensorflow() -> None:
    """Import TensorFlow and probe its devices with the process's stderr (fd 2) silenced.

    TensorFlow's native code prints start-up lines before its logging is set up, which no environment
    variable silences; the command line promises people one-line errors, so they are dropped here.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the CUDA probe prints its own failure on CPU-only machines
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Progress | None]:
    """A tqdm bar on stderr driven by ``(fraction, text)`` calls, or None when ``enabled`` is false."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", file=sys.stderr, dynamic_ncols=True, leave=False)

    def progress(fraction: float, text: str) -> None:
        bar.set_description(text, refresh=False)
        bar.update(max(0, min(100, round(fraction * 100)) - bar.n))

    try:
        yield progress
    finally:
        bar.close()


def fail(message: str, code: int = 2) -> int:
    """Print an error as one line on stderr and return the exit code."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code
