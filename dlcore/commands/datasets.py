"""``datasets``: list the built-in data sets."""
from __future__ import annotations

import argparse
from dataclasses import asdict

from dlcore.cli import add_json_flag, emit, table
from dlcore.data import list_builtin


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list the built-in data sets")
    add_json_flag(p)
    p.set_defaults(handler=run, needs_tensorflow=False)


def run(args: argparse.Namespace) -> int:
    rows = [asdict(i) for i in list_builtin()]
    emit(args, {"datasets": rows}, lambda r: table(r["datasets"], ["name", "task", "modality", "description"]))
    return 0
