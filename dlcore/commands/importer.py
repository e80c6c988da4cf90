"""``import``: check an untrusted ``.keras`` file and store it (refused files are never loaded)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from dlcore.cli import add_json_flag, emit


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="check a .keras file for unsafe content and add it to the store",
                       epilog="The file is first loaded and checked in a child process limited to "
                              "DLCORE_IMPORT_MEMORY_MB MiB of address space (default 4096) and DLCORE_IMPORT_SECONDS "
                              "seconds (default 120); a model that needs more is refused.")
    p.add_argument("file", help="a Keras 3 .keras file")
    p.add_argument("--name", default="", help="name shown in the model list (default: the file name)")
    p.add_argument("--classes", default="", help="comma-separated class names, one per output")
    add_json_flag(p)
    p.set_defaults(handler=run)
    c = sub.add_parser("check-import", help="(internal) load and check a .keras file in a capped child process")
    c.add_argument("file")
    c.add_argument("--source", required=True, help="the file's name in messages")
    c.add_argument("--classes-json", default="[]", help="class names as a JSON list")
    c.add_argument("--allowed-json", default="{}", help="registered classes allowed, and their modules, as JSON")
    c.set_defaults(handler=run_check)


def run(args: argparse.Namespace) -> int:
    from dlcore.importer import import_model

    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    record = import_model(args.file, name=args.name, class_names=classes or None)
    meta = record.meta
    result = {"model_id": record.model_id, "path": str(record.model_file), "name": meta.name, "arch": meta.arch,
              "task": meta.task, "input_shape": list(meta.input_shape), "output_shape": list(meta.output_shape),
              "class_names": list(meta.class_names), "params": meta.params,
              "sha256": meta.imported.sha256 if meta.imported is not None else ""}
    emit(args, result, lambda r: (f"imported {r['name']!r} as model {r['model_id']} ({r['arch']}, {r['task']}, "
                                  f"{meta.input_label()}, output {tuple(r['output_shape'])}, "
                                  f"{r['params']:,} parameters)"))
    return 0


def run_check(args: argparse.Namespace) -> int:
    """The capped child of ``dlcore.importer.check_isolated``: says when it is ready to read the file, then
    prints one JSON line with the file's metadata or why it was refused."""
    from dlcore.importer import READY, child_check, prepare_child

    prepare_child(json.loads(args.allowed_json))
    print(READY, flush=True)
    print(json.dumps(child_check(Path(args.file), args.source, json.loads(args.classes_json))), flush=True)
    return 0
