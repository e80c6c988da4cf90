"""``validate``: read a data file and print what was understood, or the one-line error (exit code 2)."""
from __future__ import annotations

import argparse
from typing import Any

from dlcore.cli import add_json_flag, emit, table


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a CSV, ZIP or NPZ file and show what was understood")
    p.add_argument("file", help="a CSV table or texts, a ZIP of images in class folders, or an NPZ with x and y")
    p.add_argument("--target", default=None, help="target column (tables; default: guessed)")
    p.add_argument("--task", choices=("classification", "regression"), default=None)
    p.add_argument("--exclude", action="append", default=None, metavar="COL",
                   help="leave a column out (repeat; replaces the default choice of columns left out)")
    p.add_argument("--ordinal", action="append", default=[], metavar="COL=A,B,C",
                   help="encode a column as ordered categories, in this order (repeat)")
    p.add_argument("--validation-split", type=float, default=0.2)
    p.add_argument("--read-as", choices=("image", "sequence"), default=None,
                   help="an .npz x shaped (n, a, b): grey images or sequences (default: images when a, b >= 8)")
    add_forecast_arguments(p)
    p.add_argument("--save", default=None, metavar="NAME", help="keep the file in the workspace under NAME")
    add_json_flag(p)
    p.set_defaults(handler=run, needs_tensorflow=False)


def add_forecast_arguments(p: argparse.ArgumentParser) -> None:
    """The options that read a table as a series to forecast (shared with ``train``)."""
    f = p.add_argument_group("forecasting a series (a table with a date/time column)")
    f.add_argument("--time", default=None, metavar="COL", help="the date/time column: read the table as a series")
    f.add_argument("--window", type=int, default=24, help="steps in each input window (default 24)")
    f.add_argument("--horizon", type=int, default=1, help="forecast the target this many steps after the window")
    f.add_argument("--values", default=None, metavar="A,B",
                   help="value columns fed to the model (default: every numeric column); --target is forecast")
    f.add_argument("--season", type=int, default=0, help="steps in a season for the seasonal baseline (0: inferred)")


def forecast_spec(args: argparse.Namespace):
    """The ForecastSpec the options ask for, or None without --time."""
    from dlcore.data.forecast import ForecastSpec

    if not args.time:
        return None
    values = tuple(v.strip() for v in args.values.split(",") if v.strip()) if args.values else ()
    return ForecastSpec(time=args.time, window=args.window, horizon=args.horizon, target=args.target, values=values,
                        season=args.season)


def _choices(args: argparse.Namespace):
    from dlcore.data.upload import Choices
    from dlcore.errors import DataError

    ordinal = {}
    for item in args.ordinal:
        col, _, order = item.partition("=")
        if not col or not order:
            raise DataError(f"--ordinal {item!r}: write COLUMN=first,second,third")
        ordinal[col] = tuple(v.strip() for v in order.split(","))
    return Choices(target=args.target, task=args.task, ordinal=ordinal,
                   exclude=None if args.exclude is None else tuple(args.exclude), read_as=args.read_as,
                   forecast=forecast_spec(args))


def _human(r: dict[str, Any]) -> str:
    lines = [f"{r['file']}: {r['kind']} ({r['modality']}), {r['rows']} of {r['rows_read']} rows used; "
             + "; ".join(r["notes"]),
             f"target: {r['target']} ({r['task']})"
             + (": " + ", ".join(f"{k} {v}" for k, v in r["classes"].items()) if r["classes"] else "")]
    if r["columns"]:
        lines.append(table(r["columns"], ["name", "kind", "missing", "action"]))
    if "windows" in r:
        lines.append(f"series by {r['time']!r} every {r['gaps']['interval']}: {r['windows']} windows of "
                     f"{r['window']} steps of {', '.join(r['features'])}, forecast {r['horizon']} step(s) ahead; "
                     f"{r['train_windows']} for training, then the last {r['val_windows']} for validation; season "
                     f"{r['season']} ({r['season_reason']})")
    lines += [f"warning: {w}" for w in r["warnings"]]
    if r.get("saved"):
        lines.append(f"kept as {r['saved']!r}: train with `python -m dlcore train --data {r['saved']}`")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from dlcore.data.readers import read_path
    from dlcore.data.stored import DatasetStore
    from dlcore.data.upload import understand

    choices = _choices(args)
    raw = read_path(args.file, image_size=choices.image_size)
    result = understand(raw, choices, args.validation_split).to_dict()
    if args.save:
        from pathlib import Path

        DatasetStore().save(args.save, Path(args.file).read_bytes(), Path(args.file).name, choices)
        result["saved"] = args.save
    emit(args, result, _human)
    return 0
