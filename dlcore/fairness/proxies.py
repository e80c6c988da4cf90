"""Proxies: model inputs that carry a sensitive attribute the model is not given.

For each original column a small decision tree learns the sensitive groups from that column's model inputs
alone (training rows) and is scored on the validation rows by balanced accuracy, whose chance level is one
over the number of groups whatever the groups' sizes; all inputs together get the same test. A model that
never sees ``sex`` can still act on it through a column that predicts it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dlcore.data.dataset import Dataset
from dlcore.fairness.shortcuts import column_inputs

PROXY_FLAG = 0.7  # balanced accuracy from which a column is named as a proxy (0.5 is chance for two groups)
MAX_ROWS = 5000  # training rows the trees learn from (a seeded pick beyond it)
DEPTH = 4
ALL_INPUTS = "(all inputs)"


@dataclass(frozen=True)
class Proxy:
    """How well one column (or all inputs together) predicts a sensitive column's groups."""

    feature: str
    score: float  # balanced accuracy on the validation rows
    chance: float  # 1 / number of groups
    flagged: bool
    importance_rank: int | None = None  # 1 = the model's most attributed column, when known


def _score(x_train: np.ndarray, g_train: np.ndarray, x_val: np.ndarray, g_val: np.ndarray, seed: int) -> float:
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.tree import DecisionTreeClassifier

    tree = DecisionTreeClassifier(max_depth=DEPTH, class_weight="balanced", random_state=seed).fit(x_train, g_train)
    return float(balanced_accuracy_score(g_val, tree.predict(x_val)))


def find_proxies(ds: Dataset, train_groups: np.ndarray, val_groups: np.ndarray, seed: int = 0,
                 importance: Mapping[str, float] | None = None) -> tuple[Proxy, ...]:
    """Every original column's proxy score for the groups, strongest first, then all inputs together.

    Args:
        ds: a tabular data set (model inputs in ``x_train`` / ``x_val``).
        train_groups, val_groups: the group of each training and validation row (``as_groups``).
        importance: mean |attribution| per original column, to rank the proxies among the model's features.
    """
    if ds.modality != "tabular" or ds.x_train.ndim != 2:
        return ()
    rng = np.random.default_rng(seed)
    rows = np.arange(ds.n_train)
    if len(rows) > MAX_ROWS:
        rows = np.sort(rng.choice(rows, MAX_ROWS, replace=False))
    x_tr, g_tr = ds.x_train[rows], np.asarray(train_groups)[rows]
    chance = 1.0 / max(1, len(np.unique(g_tr)))
    ranks = {}
    if importance:
        ranks = {c: i + 1 for i, c in enumerate(sorted(importance, key=lambda c: -importance[c]))}
    out = []
    for name, idx in column_inputs(ds).items():
        cols = list(idx)
        score = _score(x_tr[:, cols], g_tr, ds.x_val[:, cols], val_groups, seed)
        out.append(Proxy(name, score, chance, score >= PROXY_FLAG, ranks.get(name)))
    out.sort(key=lambda p: -p.score)
    together = _score(x_tr, g_tr, ds.x_val, val_groups, seed)
    return (*out, Proxy(ALL_INPUTS, together, chance, together >= PROXY_FLAG))


def proxy_warnings(proxies: tuple[Proxy, ...], column: str, is_input: bool) -> list[str]:
    """Sentences for the flagged proxies: "the model never sees sex, but club predicts it with ..."."""
    out = []
    lead = f"the model never sees {column!r}, but" if not is_input else f"besides {column!r} itself,"
    for p in proxies:
        if not p.flagged or p.feature == ALL_INPUTS or p.feature == column:
            continue
        rank = f" and is its feature number {p.importance_rank} by attribution" if p.importance_rank else ""
        out.append(f"{lead} {p.feature!r} predicts it with balanced accuracy {p.score:.2f} (chance {p.chance:.2f})"
                   f"{rank}: a proxy")
    return out
