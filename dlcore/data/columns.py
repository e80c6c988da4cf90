"""What each column of an uploaded table looks like, and how it will be fed to a model by default.

Inference reads the values with the same parsers the preprocessing uses (``as_number``, ``as_bool``,
``as_dates``), so what the Data page reports is what the model gets. Thresholds are module constants.
"""
from __future__ import annotations

import itertools
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dlcore.data.preprocess import BOOLEAN_WORDS, MAX_ONE_HOT, as_dates, as_number, as_text

SAMPLE = 1000  # values looked at to guess a text column's type (the full column is parsed afterwards)
PARSE_SHARE = 0.95  # share of sampled values that must parse for a text column to count as numbers or dates
MIN_ROWS_FOR_ID = 20  # below this, all-distinct values are normal and say nothing about IDs
MAX_CLASSES_BY_DEFAULT = 20  # a whole-number target with more distinct values is taken as regression
TEXT_WORDS = 4  # mean words per value from which a distinct-valued column is free text
TARGET_NAMES = ("target", "label", "labels", "class", "outcome")
ID_NAME = re.compile(r"(^|[_\W])(id|key|uuid|index)$|^(id|idx|index)([_\W]|$)", re.IGNORECASE)
# Orders that can be recognised without asking; any other order is given by the user (Choices.ordinal).
SCALES = (
    ("low", "medium", "high"), ("very low", "low", "medium", "high", "very high"), ("none", "low", "medium", "high"),
    ("small", "medium", "large"), ("xs", "s", "m", "l", "xl"), ("first", "second", "third"),
    ("never", "rarely", "sometimes", "often", "always"), ("poor", "fair", "good", "very good", "excellent"),
    ("strongly disagree", "disagree", "neutral", "agree", "strongly agree"),
)
USES = ("numeric", "boolean", "categorical", "ordinal", "date", "text")


@dataclass(frozen=True)
class ColumnInfo:
    """One column as understood. ``use`` is how the model gets it (one of ``USES``), None when left out."""

    name: str
    kind: str  # numeric, boolean, categorical, ordinal, date, text, id, constant, empty
    dtype: str
    missing: int  # empty cells, plus values that do not parse (``invalid``), all to be imputed
    invalid: int
    unique: int
    use: str | None
    note: str = ""
    order: tuple[str, ...] = ()
    date_format: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "dtype": self.dtype, "missing": self.missing,
                "invalid": self.invalid, "unique": self.unique, "use": self.use, "note": self.note,
                "order": list(self.order)}


def _scale(values: list[str]) -> tuple[str, ...]:
    """The recognised order ``values`` come from (in their own spelling), or () when none fits."""
    lower = {v.lower(): v for v in values}
    for scale in SCALES:
        if len(lower) >= 3 and set(lower) <= set(scale):
            return tuple(lower[s] for s in scale if s in lower)
    return ()


def _date_format(sample: pd.Series) -> str:
    """``ISO8601`` or ``mixed`` when nearly every sampled value is a date with digits, else ''."""
    text = sample.astype(str)
    if not (text.str.contains(r"\d") & text.str.contains(r"[-/:.]") & (text.str.len() >= 6)).mean() >= PARSE_SHARE:
        return ""
    for fmt in ("ISO8601", "mixed"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if as_dates(sample, fmt).notna().mean() >= PARSE_SHARE:
                return fmt
    return ""


def _info(name: str, s: pd.Series, kind: str, use: str | None, note: str = "", invalid: int = 0,
          unique: int | None = None, blank: int = 0, **extra: Any) -> ColumnInfo:
    return ColumnInfo(name, kind, str(s.dtype), int(s.isna().sum()) + blank + invalid, invalid,
                      int(s.nunique() if unique is None else unique), use, note, **extra)


def _numeric(name: str, s: pd.Series, x: np.ndarray) -> ColumnInfo:
    finite = np.isfinite(x)
    invalid = int(s.notna().sum() - finite.sum())
    present = x[finite]
    values = pd.unique(present)  # hashing, not sorting: this runs on every column of every upload
    n = len(present)
    if len(values) == 2 and set(values.tolist()) <= {0.0, 1.0}:
        return _info(name, s, "boolean", "boolean", invalid=invalid, unique=2)
    if n >= MIN_ROWS_FOR_ID and len(values) == n and bool(np.all(present == np.round(present))):
        if present.max() - present.min() == n - 1 or ID_NAME.search(name):
            return _info(name, s, "id", None, "left out: looks like a row number or ID (every value distinct)",
                         invalid=invalid, unique=n)
    return _info(name, s, "numeric", "numeric", invalid=invalid, unique=len(values))


def _distinct(s: pd.Series) -> tuple[dict[str, int], int]:
    """Counts of the distinct stripped values (as ``as_text`` gives them), most frequent first, and blanks.

    Plain Python over the distinct values: for category columns they are few, and per-call pandas overhead
    would cost more than the work (this runs on every text column of every upload).
    """
    raw = s.value_counts(dropna=True)
    counts: dict[str, int] = {}
    for value, n in zip(raw.index.tolist(), raw.tolist()):
        key = str(value).strip()
        if key:
            counts[key] = counts.get(key, 0) + int(n)
    ordered = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    return ordered, int(raw.sum()) - sum(counts.values())


def categories(s: pd.Series) -> list[str]:
    """The distinct values of a column as the preprocessing reads them, sorted."""
    return sorted(_distinct(s)[0])


def _text(name: str, s: pd.Series) -> ColumnInfo:
    """Understand a text column from its distinct values and their counts."""
    counts, blank = _distinct(s)
    unique, present = len(counts), sum(counts.values())
    if unique == 0:
        return _info(name, s, "empty", None, "left out: no values", unique=0, blank=blank)
    head = dict(itertools.islice(counts.items(), SAMPLE))  # the most frequent distinct values
    keys, weights = pd.Series(list(head), dtype=object), np.fromiter(head.values(), dtype=np.float64)
    if unique == 2 and {k.lower() for k in counts} <= set(BOOLEAN_WORDS):
        return _info(name, s, "boolean", "boolean", unique=2, blank=blank)
    if weights[np.isfinite(as_number(keys))].sum() >= PARSE_SHARE * weights.sum():
        return _numeric(name, s, as_number(s))
    fmt = _date_format(keys)
    if fmt:
        parsed = as_dates(pd.Series(list(counts), dtype=object), fmt).notna().to_numpy()
        invalid = present - int(np.fromiter(counts.values(), dtype=np.int64)[parsed].sum())
        return _info(name, s, "date", "date", invalid=invalid, unique=unique, blank=blank, date_format=fmt)
    words = sum(len(k.split()) * n for k, n in head.items()) / weights.sum()
    distinct = unique / present
    if words >= TEXT_WORDS and distinct > 0.5:
        return _info(name, s, "text", None, f"left out: free text ({unique} distinct values)", unique=unique,
                     blank=blank)
    if present >= MIN_ROWS_FOR_ID and distinct >= PARSE_SHARE and words < 2:
        return _info(name, s, "id", None, f"left out: looks like an ID ({unique} distinct values)", unique=unique,
                     blank=blank)
    if unique <= MAX_ONE_HOT:
        order = _scale(sorted(counts))
        kind = "ordinal" if order else "categorical"
        return _info(name, s, kind, kind, unique=unique, blank=blank, order=order)
    return _info(name, s, "text" if words >= 2 else "id", None, f"left out: {unique} distinct values, too many to "
                 f"one-hot (at most {MAX_ONE_HOT} kept if you use it)", unique=unique, blank=blank)


def infer_column(name: str, s: pd.Series) -> ColumnInfo:
    """Understand one column on its own: its kind, missing values, and whether it is used by default."""
    present = int(s.notna().sum())
    if present == 0:
        return _info(name, s, "empty", None, "left out: no values", unique=0)
    if pd.api.types.is_bool_dtype(s):
        return _info(name, s, "boolean", "boolean")
    if pd.api.types.is_numeric_dtype(s):
        info = _numeric(name, s, s.to_numpy(dtype=np.float64, na_value=np.nan))
    else:
        info = _text(name, s)
    if info.unique == 1:
        return _info(name, s, "constant", None, "left out: a single value, nothing to learn from", unique=1)
    return info


def infer_task(s: pd.Series) -> str:
    """``regression`` for numbers with fractions or many distinct whole values, else ``classification``."""
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        return "classification"
    x = s.to_numpy(dtype=np.float64, na_value=np.nan)
    x = x[np.isfinite(x)]
    if len(pd.unique(x)) > MAX_CLASSES_BY_DEFAULT:
        return "regression"
    return "classification" if bool(np.all(x == np.round(x))) else "regression"


def copies_numbers(feature: np.ndarray, target: np.ndarray) -> bool:
    """True when a numeric feature is a rescaled copy of a numeric target (correlation above 0.9999)."""
    ok = np.isfinite(feature) & np.isfinite(target)
    if ok.sum() < MIN_ROWS_FOR_ID or np.std(feature[ok]) == 0 or np.std(target[ok]) == 0:
        return False
    return bool(abs(np.corrcoef(feature[ok], target[ok])[0, 1]) > 0.9999)


def copies_classes(feature: pd.Series, labels: pd.Series) -> bool:
    """True when a feature's values map one to one onto the target's classes (the target in disguise)."""
    pairs = pd.DataFrame({"f": as_text(feature), "t": labels}).dropna()
    if len(pairs) < MIN_ROWS_FOR_ID or pairs["f"].nunique() < 2 or pairs["f"].nunique() != pairs["t"].nunique():
        return False
    return bool((pairs.groupby("f")["t"].nunique() == 1).all() and (pairs.groupby("t")["f"].nunique() == 1).all())


_FILL = {"numeric": "median", "ordinal": "median", "date": "median", "boolean": "most frequent value",
         "categorical": "a category of their own", "text": "empty text"}


def action(info: ColumnInfo) -> str:
    """What will be done with a column, in words (for the Data page and ``dlcore validate``)."""
    if info.use is None:
        return info.note
    what = {"numeric": "standard scaling", "boolean": "0/1",
            "categorical": f"one-hot ({min(info.unique, MAX_ONE_HOT)} categories"
                           + (" + other)" if info.unique > MAX_ONE_HOT else ")"),
            "ordinal": f"ordinal ({' < '.join(info.order)}), scaled", "date": "year, month, day, weekday, scaled",
            "text": "kept as text for a text model"}[info.use]
    if info.missing:
        bad = f", {info.invalid} of them unreadable or infinite" if info.invalid else ""
        what += f"; {info.missing} missing{bad} -> {_FILL[info.use]}"
    return f"{what}; {info.note}" if info.note else what
