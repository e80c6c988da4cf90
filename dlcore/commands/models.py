"""``models``: list the stored models."""
from __future__ import annotations

import argparse

from dlcore.cli import add_json_flag, emit, table
from dlcore.store import ModelStore


def _row(record) -> dict:
    meta = record.meta
    metrics = meta.get("metrics", {})
    score = {k: round(v, 4) for k, v in metrics.items() if k.startswith("val_") and isinstance(v, (int, float))}
    return {"model_id": record.model_id, "name": meta.get("name", ""), "arch": meta.get("arch", ""),
            "data": (meta.get("dataset") or {}).get("name", ""), "params": meta.get("params", ""),
            "metrics": score, "created": meta.get("created", ""), "path": str(record.model_file)}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the stored models")
    add_json_flag(p)
    p.set_defaults(handler=run, needs_tensorflow=False)


def run(args: argparse.Namespace) -> int:
    rows = [_row(r) for r in ModelStore().list()]
    emit(args, {"models": rows}, lambda r: table(r["models"], ["model_id", "name", "arch", "data", "params", "metrics", "created"]))
    return 0
