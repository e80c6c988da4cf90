"""``models``: list the stored models."""
from __future__ import annotations

import argparse
from typing import Any

from dlcore.cli import add_json_flag, emit, table
from dlcore.store import ModelRecord, ModelStore


def _row(record: ModelRecord) -> dict[str, Any]:
    meta = record.meta
    score = {k: round(v, 4) for k, v in meta.metrics.items() if k.startswith("val_") and isinstance(v, (int, float))}
    return {"model_id": record.model_id, "name": meta.name, "arch": meta.arch, "data": meta.data_name,
            "params": meta.params if meta.params is not None else "", "metrics": score, "created": meta.created,
            "path": str(record.model_file)}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the stored models")
    add_json_flag(p)
    p.set_defaults(handler=run, needs_tensorflow=False)


def run(args: argparse.Namespace) -> int:
    rows = [_row(r) for r in ModelStore().list()]
    columns = ["model_id", "name", "arch", "data", "params", "metrics", "created"]
    emit(args, {"models": rows}, lambda r: table(r["models"], columns))
    return 0
