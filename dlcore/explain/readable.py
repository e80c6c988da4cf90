"""Explanations people can read: each feature's value shown raw, as uploaded (``temp_max = 12.8``,
``sex = female``, ``date = 2012-01-01``), not as the scaled model input, and the model inputs derived from
one original column (one-hot ``sex=...``, date parts ``date.*``) summed back into that column.

Summing is exact for additive explanations: the attributions of a group add up to the attribution of the
group, so SHAP's base value + sum of values = prediction still holds (``Attribution.additivity_gap``).
"""
from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from dlcore.data.preprocess import OTHER, Preprocessing, unscale
from dlcore.errors import ExplainError
from dlcore.explain.attribution import Attribution

EPOCH_DAY = 719163  # date(1970, 1, 1).toordinal(): a grouped date's input is its day number from 1970-01-01


def readable(attr: Attribution, preprocessing: Preprocessing | Mapping[str, Any], group: bool = True) -> Attribution:
    """The same explanation with ``display`` filled with the raw values of the explained rows.

    Args:
        attr: an explanation of model inputs made by ``preprocessing``.
        preprocessing: the model's fitted preprocessing (a ``Preprocessing`` or its ``to_dict()``); anything
            but a table (identity, image, text) returns ``attr`` itself.
        group: sum the inputs derived from one original column (one-hot categories, date parts) into one
            feature named as the column; its values are summed for every class, and its ``inputs`` column
            holds one number: the index of the category in the column's ``categories`` (the last index being
            ``(other)``, -1 when no category is set) for a categorical column, the day number from
            1970-01-01 for a date; other columns keep their model input. LIME's rules are joined with "; ".
            Without grouping every model input stays, one-hot columns shown as 1/0 and date parts as numbers.

    Returns:
        An ``Attribution`` for figures and tables (a grouped one's ``inputs`` are not model inputs).

    Raises:
        ExplainError: when the explanation's features are not the preprocessing's outputs.
    """
    prep = preprocessing if isinstance(preprocessing, Preprocessing) else Preprocessing.from_dict(preprocessing)
    if prep.kind != "tabular" or attr.inputs.ndim != 2 or attr.texts:
        return attr
    columns = list(prep.params["columns"])
    spans = _spans(columns)
    made = spans[-1][1] if spans else 0
    if made != attr.inputs.shape[1]:
        raise ExplainError(f"the explanation has {attr.inputs.shape[1]} input(s) but the model's preprocessing makes "
                           f"{made}; pass the preprocessing of the model explained")
    x = attr.inputs.astype(np.float64)
    if not group:
        shown = [_part_strings(x[:, a:b], col) for col, (a, b) in zip(columns, spans)]
        return replace(attr, display=_rows(shown, attr.n_rows))
    shown = [[_raw_strings(x[:, a:b], col)] for col, (a, b) in zip(columns, spans)]
    inputs = np.column_stack([_grouped_input(x[:, a:b], col) for col, (a, b) in zip(columns, spans)])
    values = np.stack([attr.values[:, a:b].sum(axis=1) for a, b in spans], axis=1)
    rules = tuple(tuple("; ".join(r[a:b]) for a, b in spans) for r in attr.rules)
    return replace(attr, values=values, inputs=inputs.astype(np.float32), rules=rules,
                   display=_rows(shown, attr.n_rows), feature_names=tuple(str(c["name"]) for c in columns))


def _spans(columns: list[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """Where each original column's model inputs start and stop."""
    sizes = [len(Preprocessing("tabular", {"columns": [c]}).output_names()) for c in columns]
    stops = np.cumsum(sizes).tolist()
    return [(stop - size, stop) for size, stop in zip(sizes, stops)]


def _rows(per_column: list[list[list[str]]], n: int) -> tuple[tuple[str, ...], ...]:
    """Strings per column, per output, per row -> per row, per feature."""
    features = [strings for column in per_column for strings in column]
    return tuple(tuple(strings[i] for strings in features) for i in range(n))


def number(v: float) -> str:
    """A raw number as people write it: whole numbers without a point, others to 6 significant digits."""
    if not np.isfinite(v):
        return "(missing)"
    if abs(v - round(v)) <= 1e-6 * max(1.0, abs(v)):
        return str(int(round(v)))
    return np.format_float_positional(v, precision=6, unique=True, fractional=False, trim="-")


def _category_index(block: np.ndarray) -> np.ndarray:
    """Which one-hot column is set in each row; -1 where none is."""
    return np.where(block.max(axis=1, initial=0.0) > 0.5, block.argmax(axis=1), -1)


def _categories(col: Mapping[str, Any]) -> list[str]:
    return [str(c) for c in col["categories"]] + ([OTHER] if col.get("other") else [])


def _raw_strings(block: np.ndarray, col: Mapping[str, Any]) -> list[str]:
    """One original column's raw value per row, from its model inputs."""
    kind = col["kind"]
    if kind == "boolean":
        return ["true" if v > 0.5 else "false" for v in block[:, 0]]
    if kind == "categorical":
        cats = _categories(col)
        return [cats[k] if k >= 0 else "(none)" for k in _category_index(block)]
    if kind == "ordinal":
        cats = [str(c) for c in col["categories"]]
        codes = np.clip(np.rint(unscale(block, col)[:, 0]), 0, len(cats) - 1).astype(int)
        return [cats[k] for k in codes]
    if kind == "date":
        return [_date_text(parts, list(col["parts"])) for parts in unscale(block, col)]
    return [number(v) for v in unscale(block, col)[:, 0]]


def _part_strings(block: np.ndarray, col: Mapping[str, Any]) -> list[list[str]]:
    """Per model input of one original column, the value per row (one-hot as 1/0, date parts as numbers)."""
    if col["kind"] == "categorical":
        return [["1" if v > 0.5 else "0" for v in block[:, j]] for j in range(block.shape[1])]
    if col["kind"] == "date":
        raw = np.rint(unscale(block, col))
        return [[number(v) for v in raw[:, j]] for j in range(raw.shape[1])]
    return [_raw_strings(block, col)]


def _date_parts(parts: np.ndarray, names: list[str]) -> dict[str, int]:
    return {p: int(np.rint(v)) for p, v in zip(names, parts) if np.isfinite(v)}


def _date_text(parts: np.ndarray, names: list[str]) -> str:
    """An ISO date (and hour) when the parts have year, month and day; else the parts joined."""
    got = _date_parts(parts, names)
    if not {"year", "month", "day"} <= got.keys():
        return ", ".join(f"{p} {v}" for p, v in got.items())
    year, month = min(9999, max(1, got["year"])), min(12, max(1, got["month"]))
    day = min(calendar.monthrange(year, month)[1], max(1, got["day"]))
    hour = f" {min(23, max(0, got['hour'])):02d}:00" if got.get("hour") else ""
    return f"{year:04d}-{month:02d}-{day:02d}{hour}"


def _grouped_input(block: np.ndarray, col: Mapping[str, Any]) -> np.ndarray:
    """One number per row for a grouped column: category index, day number from 1970-01-01, or the input."""
    if col["kind"] == "categorical":
        return _category_index(block).astype(np.float64)
    if col["kind"] != "date":
        return block[:, 0]
    names = list(col["parts"])
    if not {"year", "month", "day"} <= set(names):
        return unscale(block, col)[:, 0]
    days = []
    for parts in unscale(block, col):
        year, month, day = (int(v) for v in _date_text(parts, names)[:10].split("-"))
        days.append(float(_ordinal(year, month, day) - EPOCH_DAY))
    return np.asarray(days)


def _ordinal(year: int, month: int, day: int) -> int:
    import datetime

    return datetime.date(year, month, day).toordinal()
