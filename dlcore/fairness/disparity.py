"""Explanation disparity: how much each feature matters to the model's decisions in each group.

The mean |SHAP value| of each original column (its one-hot or date inputs summed, which is exact for SHAP's
additive values) over the validation rows of each group, for the audited class. A feature that weighs far more
in one group than another is where the model treats the groups differently.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlcore.data.dataset import Dataset
from dlcore.fairness.shortcuts import column_inputs

ROWS = 200  # validation rows explained (a seeded pick, stratified by group) to keep the audit quick
BACKGROUND = 30  # training rows SHAP compares against: a mean |value| per group needs no finer estimate


@dataclass(frozen=True)
class Disparity:
    """Mean |attribution| per original column, overall and per group."""

    features: tuple[str, ...]
    overall: tuple[float, ...]
    groups: tuple[str, ...]
    by_group: tuple[tuple[float, ...], ...]  # [group][feature]
    method: str
    rows: int

    def importance(self) -> dict[str, float]:
        return dict(zip(self.features, self.overall))


def pick_rows(groups: np.ndarray, n: int = ROWS, seed: int = 0) -> np.ndarray:
    """Up to ``n`` row indices, a seeded pick with every group in proportion (at least a few rows each)."""
    groups = np.asarray(groups)
    if len(groups) <= n:
        return np.arange(len(groups))
    rng = np.random.default_rng(seed)
    out = []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        take = max(min(len(idx), 5), int(round(n * len(idx) / len(groups))))
        out.append(rng.choice(idx, min(take, len(idx)), replace=False))
    return np.sort(np.concatenate(out))


def disparity(ds: Dataset, values: np.ndarray, groups: np.ndarray, method: str = "shap") -> Disparity:
    """Summarise attributions ``values`` (rows x model inputs, for one class) of rows whose groups are ``groups``."""
    spans = column_inputs(ds)
    a = np.abs(np.stack([np.asarray(values)[:, list(idx)].sum(axis=1) for idx in spans.values()], axis=1))
    names = sorted(np.unique(groups).tolist())
    by = tuple(tuple(float(v) for v in a[np.asarray(groups) == g].mean(axis=0)) for g in names)
    return Disparity(tuple(spans), tuple(float(v) for v in a.mean(axis=0)), tuple(names), by, method, len(a))


def explained_disparity(ds: Dataset, model: object, rows: np.ndarray, groups: np.ndarray, target: int,
                        seed: int = 0, progress: Callable[[float, str], None] | None = None) -> Disparity:
    """SHAP values of validation rows ``rows`` for class ``target`` (0 for a regressor), summarised by group."""
    from dlcore.explain import explain

    attr = explain(model, ds.x_val[rows], method="shap", background=ds.x_train, seed=seed, target=target,
                   background_size=BACKGROUND, feature_names=list(ds.feature_names), progress=progress)
    return disparity(ds, attr.values, np.asarray(groups)[rows], "shap")
