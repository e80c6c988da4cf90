"""Sensitive columns and their groups: which columns to suggest, how raw values become groups, and what the
data says about each group before any model (its share of the rows and its label rate)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dlcore.errors import FairnessError

MAX_GROUPS = 20  # distinct values a sensitive column may have before it must be binned
MIN_GROUP = 10  # a group with fewer rows is flagged: its rates rest on too few rows to compare
RATE_GAP = 0.1  # label rates further apart than this across groups are flagged in the data
MISSING = "(missing)"  # missing values form a group of their own, never dropped
# Words that make a column look sensitive (matched against the words of its name, any case).
SENSITIVE_WORDS = ("sex", "gender", "race", "ethnicity", "ethnic", "age", "religion", "religious", "nationality",
                   "citizenship", "disability", "disabled", "marital", "married")


def words(name: str) -> list[str]:
    """The lower-case words of a column name: ``MaritalStatus``, ``marital_status`` -> ``marital``, ``status``."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^A-Za-z]+", spaced.lower()) if w]


def suggest(names: Sequence[str]) -> list[str]:
    """The column names that look sensitive (sex, gender, race, age, religion, ...), in their order."""
    return [n for n in names if any(w in SENSITIVE_WORDS for w in words(n))]


def _band_labels(edges: np.ndarray) -> list[str]:
    def fmt(v: float) -> str:
        return f"{v:.0f}" if abs(v) >= 10 else f"{v:.2g}"

    return [f"{fmt(a)}-{fmt(b)}" for a, b in zip(edges[:-1], edges[1:])]


def as_groups(values: Sequence[object] | np.ndarray, name: str, bins: int = 0) -> np.ndarray:
    """Raw values of a sensitive column as group labels (strings); missing values become ``MISSING``.

    Args:
        values: one value per row, as read (numbers, text, None).
        name: the column's name, for messages.
        bins: numbers with more than ``MAX_GROUPS`` distinct values are cut into this many bands of about
            equal size (``22-30``); 0 refuses them instead.

    Raises:
        FairnessError: a column with a single group, or too many distinct values to compare (with the fix).
    """
    s = pd.Series(np.asarray(values, dtype=object))
    blank = s.isna() | (s.astype(str).str.strip() == "")
    numbers = pd.to_numeric(s[~blank], errors="coerce")
    numeric = len(numbers) > 0 and bool(numbers.notna().all())
    distinct = s[~blank].astype(str).str.strip().nunique()
    out = np.full(len(s), MISSING, dtype=object)
    if numeric and distinct > MAX_GROUPS and bins > 0:
        cut, edges = pd.qcut(numbers.to_numpy(dtype=np.float64), q=bins, retbins=True, duplicates="drop")
        labels = np.asarray(_band_labels(edges), dtype=object)
        out[~blank.to_numpy()] = labels[np.asarray(cut.codes)]
    elif distinct > MAX_GROUPS:
        hint = ("bin it into bands (e.g. 4 bands: --bins 4, or 'bands' on the page)" if numeric else
                "merge its values into fewer groups in the file")
        raise FairnessError(f"sensitive column {name!r} has {distinct} distinct values, too many groups to compare "
                            f"(at most {MAX_GROUPS}); {hint}")
    else:
        shown = s[~blank]
        text = shown.map(lambda v: f"{v:g}" if isinstance(v, float) else str(v).strip())
        out[~blank.to_numpy()] = text.to_numpy(dtype=object)
    found = pd.unique(out)
    if len(found) < 2:
        raise FairnessError(f"sensitive column {name!r} has a single group ({found[0]!r} for every row); there is "
                            "nothing to compare: choose a column with at least two groups")
    return out.astype(str)


def combine(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Groups of several sensitive columns at once (their intersections): ``female & 20-30``."""
    if len(columns) == 1:
        return np.asarray(columns[0], dtype=str)
    return np.asarray([" & ".join(parts) for parts in zip(*columns)], dtype=str)


@dataclass(frozen=True)
class GroupShare:
    """One group in the data: its rows, share of all rows, and rate of each class (or mean target)."""

    group: str
    n: int
    share: float
    label_rates: tuple[float, ...]  # per class, or (mean target,) for regression


@dataclass(frozen=True)
class DataGroups:
    """A sensitive column in the data before any model: each group's share and label rate, with warnings."""

    column: str
    classes: tuple[str, ...]
    groups: tuple[GroupShare, ...]
    warnings: tuple[str, ...]


def data_groups(values: Sequence[object] | np.ndarray, y: np.ndarray, column: str,
                class_names: Sequence[str] = (), bins: int = 0) -> DataGroups:
    """Each group's share of the rows and its label rates (per class, or the mean target for regression),
    with a warning for a group under ``MIN_GROUP`` rows and for label rates more than ``RATE_GAP`` apart."""
    groups = as_groups(values, column, bins)
    y = np.asarray(y)
    rows, warnings = [], []
    for g in sorted(pd.unique(groups), key=lambda v: (v == MISSING, v)):
        sel = groups == g
        rates = tuple(float(np.mean(y[sel] == k)) for k in range(len(class_names))) if class_names else (
            float(np.mean(y[sel])),)
        rows.append(GroupShare(str(g), int(sel.sum()), float(sel.mean()), rates))
        if sel.sum() < MIN_GROUP:
            warnings.append(f"group {g!r} of {column!r} has {int(sel.sum())} row(s) (fewer than {MIN_GROUP}): its "
                            "rates are too uncertain to compare")
    if class_names:
        for k in [1] if len(class_names) == 2 else range(len(class_names)):  # binary: the second class only
            cls = class_names[k]
            rates = [r.label_rates[k] for r in rows if r.n >= MIN_GROUP]
            if len(rates) >= 2 and max(rates) - min(rates) > RATE_GAP:
                low, high = (rows[i].group for i in (int(np.argmin(rates)), int(np.argmax(rates))))
                warnings.append(f"the label {cls!r} is {min(rates):.0%} of group {low!r} and {max(rates):.0%} of "
                                f"{high!r}: a model learns that difference unless told otherwise")
    return DataGroups(column, tuple(class_names), tuple(rows), tuple(warnings))
