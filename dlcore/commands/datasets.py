"""``datasets``: list the built-in data sets and the uploads kept in the workspace."""
from __future__ import annotations

import argparse
from dataclasses import asdict

from dlcore.cli import add_json_flag, emit, table
from dlcore.data import list_builtin


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list the built-in data sets and stored uploads")
    add_json_flag(p)
    p.set_defaults(handler=run, needs_tensorflow=False)


def run(args: argparse.Namespace) -> int:
    from dlcore.data.stored import DatasetStore

    rows = [asdict(i) for i in list_builtin()]
    for d in DatasetStore().list():
        summary = d.summary
        rows.append({"name": d.name, "task": summary.task, "modality": summary.modality,
                     "description": f"upload {d.filename}: {'?' if summary.rows is None else summary.rows} rows, "
                                    f"target {'?' if summary.target is None else summary.target!r}"})
    emit(args, {"datasets": rows}, lambda r: table(r["datasets"], ["name", "task", "modality", "description"]))
    return 0
