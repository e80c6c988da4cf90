"""``import``: check an untrusted ``.keras`` file and store it (refused files are never loaded)."""
from __future__ import annotations

import argparse

from dlcore.cli import add_json_flag, emit


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="check a .keras file for unsafe content and add it to the store")
    p.add_argument("file", help="a Keras 3 .keras file")
    p.add_argument("--name", default="", help="name shown in the model list (default: the file name)")
    p.add_argument("--classes", default="", help="comma-separated class names, one per output")
    add_json_flag(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dlcore.importer import import_model, input_label

    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    record = import_model(args.file, name=args.name, class_names=classes or None)
    meta = record.meta
    result = {"model_id": record.model_id, "path": str(record.model_file), "name": meta["name"], "arch": meta["arch"],
              "task": meta["task"], "input_shape": meta["input_shape"], "output_shape": meta["output_shape"],
              "class_names": meta["class_names"], "params": meta["params"], "sha256": meta["imported"]["sha256"]}
    emit(args, result, lambda r: (f"imported {r['name']!r} as model {r['model_id']} ({r['arch']}, {r['task']}, "
                                  f"{input_label(meta)}, output {tuple(r['output_shape'])}, {r['params']:,} parameters)"))
    return 0
