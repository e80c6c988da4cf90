"""Agreement between two explanations of the same input and class (e.g. SHAP against LIME).

Two numbers, as used to compare attribution methods in Krishna et al. 2022, "The disagreement problem in
explainable machine learning: a practitioner's perspective" (arXiv:2202.01602):

- rank agreement: Spearman's rank correlation of the signed values, over every feature (pixel, word); also
  reported on absolute values, which ignores whether the methods agree on the direction;
- feature agreement: the share of the ``k`` features with the largest absolute values that both methods
  put in their top ``k``: ``|A ∩ B| / k``, against ``k / n`` for two unrelated rankings of ``n`` features.

``agreement_matrix`` compares every pair of more than two explanations.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dlcore.errors import ExplainError
from dlcore.workspace import finite

MIN_ELEMENTS = 3
SMALL = 50  # up to this many features, the top 5 are compared; above it, the top 10%


@dataclass(frozen=True)
class Agreement:
    """How far two explanations agree.

    Attributes:
        rho: Spearman rank correlation of the signed values (NaN when either is constant).
        rho_abs: the same on absolute values.
        overlap: share of the top ``k`` features by absolute value that both share, in [0, 1].
        k: how many top features were compared.
        n: how many features (values) each explanation has.
        chance_overlap: the overlap two unrelated rankings get on average, ``k / n``.
        reason: why a number is undefined (a constant explanation), else empty.
    """

    rho: float
    rho_abs: float
    overlap: float
    k: int
    n: int
    chance_overlap: float
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The numbers as plain JSON-ready values (NaN kept as ``None``)."""
        return finite(asdict(self))


@dataclass(frozen=True, eq=False)
class AgreementMatrix:
    """Pairwise agreement of several explanations: ``rho[i, j]`` and ``overlap[i, j]`` compare ``names[i]``
    with ``names[j]``; both matrices are symmetric with ones on the diagonal."""

    names: tuple[str, ...]
    rho: np.ndarray
    overlap: np.ndarray
    k: int

    def to_dict(self) -> dict[str, Any]:
        """Names and matrices as nested lists (NaN kept as ``None``)."""
        return finite({"names": list(self.names), "k": self.k, "rho": self.rho.tolist(),
                       "overlap": self.overlap.tolist()})


def _flat(values: Any, label: str) -> np.ndarray:
    """``values`` (an array or anything with ``.values``) as a flat float array, checked."""
    arr = np.asarray(getattr(values, "values", values), dtype=np.float64).ravel()
    if arr.size < MIN_ELEMENTS:
        raise ExplainError(f"explanation {label} has {arr.size} value(s); agreement needs at least {MIN_ELEMENTS}")
    if not np.isfinite(arr).all():
        raise ExplainError(f"explanation {label} contains NaN or infinity; recompute it before comparing")
    return arr


def default_k(n: int) -> int:
    """Top features compared for ``n`` features: 5 (at most half of them) up to 50 features, else 10%."""
    if n <= SMALL:
        return max(1, min(5, n // 2))
    return max(1, round(0.1 * n))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two flat arrays; NaN when either is constant."""
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Share of the ``k`` largest absolute values of ``a`` and ``b`` at the same positions (ties: first
    position first)."""
    top_a = np.argsort(-np.abs(a), kind="stable")[:k]
    top_b = np.argsort(-np.abs(b), kind="stable")[:k]
    return len(np.intersect1d(top_a, top_b)) / k


def agreement(values_a: Any, values_b: Any, *, k: int | None = None) -> Agreement:
    """Compare two explanations of the same input(s) and class, value by value.

    Args:
        values_a: attribution values (any shape), or an ``Attribution``.
        values_b: values shaped like ``values_a``.
        k: top features compared; default ``default_k(n)``.

    Returns:
        An ``Agreement``.

    Raises:
        ExplainError: shapes differ, values are not finite, fewer than 3 values, or ``k`` not in 1..n-1.
    """
    shape_a = np.shape(getattr(values_a, "values", values_a))
    shape_b = np.shape(getattr(values_b, "values", values_b))
    if shape_a != shape_b:
        raise ExplainError(f"explanations shaped {shape_a} and {shape_b} cannot be compared; explain the same "
                           "input(s) and class with both methods")
    a, b = _flat(values_a, "a"), _flat(values_b, "b")
    n = a.size
    k = default_k(n) if k is None else int(k)
    if not 1 <= k < n:
        raise ExplainError(f"top-k overlap needs 1 <= k < {n} (the number of values), got k={k}")
    rho, rho_abs = spearman(a, b), spearman(np.abs(a), np.abs(b))
    constant = [name for name, v in (("a", a), ("b", b)) if np.ptp(v) == 0]
    reason = f"explanation {' and '.join(constant)} is constant: rank correlation undefined" if constant else ""
    return Agreement(rho=rho, rho_abs=rho_abs, overlap=top_k_overlap(a, b, k), k=k, n=n, chance_overlap=k / n,
                     reason=reason)


def agreement_matrix(named: Mapping[str, Any], k: int | None = None) -> AgreementMatrix:
    """Pairwise ``agreement`` of two or more named explanations of the same input(s) and class.

    Args:
        named: method name -> values (or ``Attribution``), all shaped alike.
        k: top features compared; default ``default_k(n)``.

    Returns:
        An ``AgreementMatrix``.

    Raises:
        ExplainError: fewer than two explanations, or any pair ``agreement`` refuses.
    """
    names = tuple(str(name) for name in named)
    if len(names) < 2:
        raise ExplainError(f"agreement needs at least two explanations, got {len(names)}")
    items = list(named.values())
    rho, overlap = np.eye(len(names)), np.eye(len(names))
    used = 0
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            pair = agreement(items[i], items[j], k=k)
            rho[i, j] = rho[j, i] = pair.rho
            overlap[i, j] = overlap[j, i] = pair.overlap
            used = pair.k
    return AgreementMatrix(names=names, rho=rho, overlap=overlap, k=used)
