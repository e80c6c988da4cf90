"""Brute-force Shapley values: every coalition enumerated, each averaged over the same background.

The reference the tests and the benchmark compare shap's Exact explainer against. Feasible up to ~16
features (2**16 coalitions x background rows model evaluations).
"""
from __future__ import annotations

from collections.abc import Callable
from math import factorial

import numpy as np


def coalition_values(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, background: np.ndarray) -> np.ndarray:
    """v(S) = mean over background rows b of f(x on S, b elsewhere), for every coalition S (bit j = feature j)."""
    m = x.shape[0]
    masks = ((np.arange(2 ** m)[:, None] >> np.arange(m)[None, :]) & 1).astype(bool)  # (2**m, m)
    rows = np.where(masks[:, None, :], x[None, None, :], background[None, :, :])  # (2**m, n_bg, m)
    out = np.asarray(f(rows.reshape(-1, m).astype(np.float32)), dtype=np.float64)
    return out.reshape(2 ** m, len(background), -1).mean(axis=1)  # (2**m, n_outputs)


def brute_force_shapley(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                        background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shapley values ``(m, n_outputs)`` of one row ``x`` and the base value v(empty set) ``(n_outputs,)``.

    phi_j = sum over S without j of |S|! (m - |S| - 1)! / m! * (v(S + j) - v(S)).
    """
    m = x.shape[0]
    v = coalition_values(f, x, background)
    ids = np.arange(2 ** m)
    sizes = np.array([bin(i).count("1") for i in ids])
    weight = np.array([factorial(s) * factorial(m - s - 1) / factorial(m) if s < m else 0.0 for s in sizes])
    phi = np.zeros((m, v.shape[1]))
    for j in range(m):
        without = ids[(ids >> j) & 1 == 0]
        phi[j] = (weight[without, None] * (v[without | (1 << j)] - v[without])).sum(axis=0)
    return phi, v[0]
