"""Per-group metrics of a model's predictions and the disparities between groups, computed by Fairlearn.

Fairlearn's ``MetricFrame`` gives each group's accuracy, precision, true and false positive rates, false
negative rate and selection rate, and its ``demographic_parity_difference`` / ``_ratio`` and
``equalized_odds_difference`` the disparities; nothing here recomputes them by hand. A classifier with more
than two classes is audited as one chosen class against the rest (accuracy stays the multi-class one). For
a regressor each group's mean absolute error and mean prediction are compared instead.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dlcore.errors import FairnessError
from dlcore.fairness.groups import MIN_GROUP, combine

FOUR_FIFTHS = 0.8  # a selection-rate ratio below this fails the four-fifths rule (US EEOC guidelines)
DISPARITY_FLAG = 0.1  # a demographic parity or equalized odds difference above this is flagged


@dataclass(frozen=True)
class GroupMetrics:
    """One group's figures (None where they do not apply: rates for a regressor, errors for a classifier).

    ``confusion`` is ``((tn, fp), (fn, tp))`` for the audited class against the rest.
    """

    group: str
    n: int
    accuracy: float | None = None
    precision: float | None = None
    tpr: float | None = None
    fpr: float | None = None
    fnr: float | None = None
    selection_rate: float | None = None
    confusion: tuple[tuple[int, int], tuple[int, int]] | None = None
    mae: float | None = None
    mean_prediction: float | None = None
    mean_target: float | None = None

    @property
    def small(self) -> bool:
        return self.n < MIN_GROUP


@dataclass(frozen=True)
class FairnessReport:
    """The audit of one model's predictions across the groups of one or more sensitive columns.

    With several columns, ``groups`` and the disparities are over their intersections (as Fairlearn treats
    several sensitive features) and ``by_column`` holds each column's own report.
    """

    sensitive: tuple[str, ...]
    task: str
    positive: str | None  # the class audited against the rest (classifiers)
    groups: tuple[GroupMetrics, ...]
    overall: GroupMetrics
    demographic_parity_difference: float | None = None
    demographic_parity_ratio: float | None = None
    equalized_odds_difference: float | None = None
    warnings: tuple[str, ...] = ()
    by_column: Mapping[str, FairnessReport] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)  # proxies, disparity, shortcuts: see dlcore.fairness

    @property
    def four_fifths_pass(self) -> bool | None:
        r = self.demographic_parity_ratio
        return None if r is None else bool(r >= FOUR_FIFTHS)

    def group(self, name: str) -> GroupMetrics:
        for g in self.groups:
            if g.group == name:
                return g
        raise FairnessError(f"no group {name!r}; the groups are {', '.join(g.group for g in self.groups)}")

    def to_dict(self) -> dict[str, Any]:
        """The ``dlcore fairness --json`` keys for this part (groups with n, accuracy, selection_rate, tpr, fpr
        and the rest; the disparities; warnings)."""
        return {"sensitive": list(self.sensitive), "task": self.task, "positive": self.positive,
                "groups": {g.group: _group_dict(g) for g in self.groups}, "overall": _group_dict(self.overall),
                "demographic_parity_difference": self.demographic_parity_difference,
                "demographic_parity_ratio": self.demographic_parity_ratio,
                "equalized_odds_difference": self.equalized_odds_difference,
                "four_fifths_pass": self.four_fifths_pass, "warnings": list(self.warnings),
                "by_column": {c: r.to_dict() for c, r in self.by_column.items()}}


def _group_dict(g: GroupMetrics) -> dict[str, Any]:
    out = {k: v for k, v in asdict(g).items() if k != "group"}
    out["confusion"] = [list(r) for r in g.confusion] if g.confusion is not None else None
    out["small"] = g.small
    return out


def _num(v: Any) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def _classification(y: np.ndarray, pred: np.ndarray, groups: np.ndarray, positive: int,
                    classes: Sequence[str]) -> tuple[list[GroupMetrics], GroupMetrics, dict[str, float | None]]:
    from fairlearn.metrics import (
        MetricFrame,
        count,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import confusion_matrix, precision_score

    yb, pb = (y == positive).astype(int), (pred == positive).astype(int)
    correct = (y == pred).astype(int)  # the multi-class accuracy, through the same frame

    def accuracy(yt: np.ndarray, yp: np.ndarray) -> float:
        return float(np.mean(yt == yp))

    def precision(yt: np.ndarray, yp: np.ndarray) -> float:
        return float(precision_score(yt, yp, zero_division=np.nan))

    def confusion(yt: np.ndarray, yp: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
        m = confusion_matrix(yt, yp, labels=[0, 1])
        return (int(m[0, 0]), int(m[0, 1])), (int(m[1, 0]), int(m[1, 1]))

    metrics = {"n": count, "precision": precision, "tpr": true_positive_rate, "fpr": false_positive_rate,
               "fnr": false_negative_rate, "selection_rate": selection_rate, "confusion": confusion}
    frame = MetricFrame(metrics=metrics, y_true=yb, y_pred=pb, sensitive_features=groups)
    acc = MetricFrame(metrics=accuracy, y_true=correct, y_pred=np.ones_like(correct), sensitive_features=groups)

    def one(name: str, row: Mapping[str, Any], a: float) -> GroupMetrics:
        return GroupMetrics(name, int(row["n"]), _num(a), _num(row["precision"]), _num(row["tpr"]), _num(row["fpr"]),
                            _num(row["fnr"]), _num(row["selection_rate"]), row["confusion"])

    by = frame.by_group
    rows = [one(str(g), by.loc[g], acc.by_group.loc[g]) for g in by.index]
    overall = one("all", frame.overall, acc.overall)
    disparities = {
        "demographic_parity_difference": _num(demographic_parity_difference(yb, pb, sensitive_features=groups)),
        "demographic_parity_ratio": _num(demographic_parity_ratio(yb, pb, sensitive_features=groups)),
        "equalized_odds_difference": _num(equalized_odds_difference(yb, pb, sensitive_features=groups)),
    }
    return rows, overall, disparities


def _regression(y: np.ndarray, pred: np.ndarray, groups: np.ndarray) -> tuple[list[GroupMetrics], GroupMetrics]:
    from fairlearn.metrics import MetricFrame, count
    from sklearn.metrics import mean_absolute_error

    def mean_prediction(yt: np.ndarray, yp: np.ndarray) -> float:
        return float(np.mean(yp))

    def mean_target(yt: np.ndarray, yp: np.ndarray) -> float:
        return float(np.mean(yt))

    frame = MetricFrame(metrics={"n": count, "mae": mean_absolute_error, "mean_prediction": mean_prediction,
                                 "mean_target": mean_target}, y_true=y, y_pred=pred, sensitive_features=groups)

    def one(name: str, row: Mapping[str, Any]) -> GroupMetrics:
        return GroupMetrics(name, int(row["n"]), mae=_num(row["mae"]), mean_prediction=_num(row["mean_prediction"]),
                            mean_target=_num(row["mean_target"]))

    return [one(str(g), frame.by_group.loc[g]) for g in frame.by_group.index], one("all", frame.overall)


def _warnings(report: FairnessReport) -> tuple[str, ...]:
    out = [f"group {g.group!r} has {g.n} row(s) (fewer than {MIN_GROUP}): its rates are too uncertain to compare"
           for g in report.groups if g.small]
    dpd, ratio, eod = (report.demographic_parity_difference, report.demographic_parity_ratio,
                       report.equalized_odds_difference)
    rates = [g for g in report.groups if g.selection_rate is not None]
    if dpd is not None and dpd > DISPARITY_FLAG and rates:
        low = min(rates, key=lambda g: g.selection_rate)  # type: ignore[arg-type, return-value]
        high = max(rates, key=lambda g: g.selection_rate)  # type: ignore[arg-type, return-value]
        out.append(f"demographic parity difference {dpd:.2f} (above {DISPARITY_FLAG}): {report.positive!r} is "
                   f"predicted for {low.selection_rate:.0%} of {low.group!r} and {high.selection_rate:.0%} of "
                   f"{high.group!r}")
    if ratio is not None and ratio < FOUR_FIFTHS:
        out.append(f"fails the four-fifths rule: the lowest selection rate is {ratio:.0%} of the highest "
                   f"(below {FOUR_FIFTHS:.0%})")
    if eod is not None and eod > DISPARITY_FLAG:
        out.append(f"equalized odds difference {eod:.2f} (above {DISPARITY_FLAG}): true or false positive rates "
                   "differ across groups")
    return tuple(out)


def audit(y_true: Any, y_pred: Any, sensitive: Mapping[str, np.ndarray], task: str = "classification",
          class_names: Sequence[str] = (), positive: int | None = None) -> FairnessReport:
    """Audit predictions across the groups of each sensitive column (already grouped, see ``as_groups``).

    Args:
        y_true: true labels (class indices) or targets.
        y_pred: predicted labels (class indices) or values, one per row.
        sensitive: column name -> group label per row; several columns are audited together (intersections)
            and one by one (``by_column``).
        task: ``classification`` or ``regression``.
        class_names: the classes (classifiers).
        positive: the class audited against the rest; default: the second of two classes, else the first.
    """
    if not sensitive:
        raise FairnessError("no sensitive column to audit by; mark one (e.g. --sensitive sex)")
    y, pred = np.asarray(y_true), np.asarray(y_pred)
    names = tuple(sensitive)
    groups = combine([np.asarray(sensitive[c], dtype=str) for c in names])
    if len(groups) != len(y) or len(pred) != len(y):
        raise FairnessError(f"{len(y)} labels, {len(pred)} predictions and {len(groups)} group labels: they must "
                            "match row for row")
    if task == "classification":
        k = len(class_names)
        positive = (1 if k == 2 else 0) if positive is None else int(positive)
        if not 0 <= positive < max(k, 2):
            raise FairnessError(f"class {positive} is not one of the model's {k} classes")
        rows, overall, disparities = _classification(y, pred, groups, positive, class_names)
        label = str(class_names[positive]) if class_names else str(positive)
        report = FairnessReport(names, task, label, tuple(rows), overall, **disparities)
    else:
        rows, overall = _regression(y.astype(np.float64), pred.astype(np.float64), groups)
        report = FairnessReport(names, task, None, tuple(rows), overall)
    by_column = {}
    if len(names) > 1:
        by_column = {c: audit(y, pred, {c: sensitive[c]}, task, class_names, positive) for c in names}
    from dataclasses import replace

    return replace(report, warnings=_warnings(report), by_column=by_column)
