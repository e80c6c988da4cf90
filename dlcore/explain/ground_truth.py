"""Explanations scored against ground truth, where the truly relevant parts of an input are known.

Two kinds of truth: the features that cause a table's target (the generated ``causes`` data set), and the
pixels of the object in an image (the ``shapes`` data sets' masks). For one explained input:

- share: the share of absolute attribution on the true parts (channels summed for images);
- expected share: what an attribution without information gets, the true parts' share of all parts
  (``n_true / n_parts``; for a mask, the share of the image it covers);
- precision at k: of the ``k`` parts with the largest absolute attribution, the share that are true parts,
  with ``k`` the number of true parts (ties: first position first). A random order gets the expected share
  on average.

An explanation beats chance when both its share and its precision at k are at least a quarter of the way
from the expected share to perfect (``expected + MARGIN * (1 - expected)``): with 3 causes among 10
features, one cause in a random top 3 already gives a precision of 1/3, above the expected 0.3, for about
half of the rows of a random order; the margin asks for 2 of 3 and a share of 0.475 (about 1 row in 6 of a
random order).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dlcore.errors import ExplainError
from dlcore.workspace import finite

MARGIN = 0.25


@dataclass(frozen=True)
class GroundTruth:
    """How one explanation scores against the known truth.

    Attributes:
        kind: ``causes`` (features of a table) or ``mask`` (object pixels of an image).
        share: share of absolute attribution on the true parts, in [0, 1].
        expected_share: what an attribution without information gets: true parts / all parts.
        precision_at_k: of the ``k`` parts with the largest absolute attribution, the share that are true.
        k: number of true parts (cause features or mask pixels).
        beats: share and precision at k both at least ``expected + MARGIN * (1 - expected)``.
        truth: the true features (``causes`` kind); empty for masks.
    """

    kind: str
    share: float
    expected_share: float
    precision_at_k: float
    k: int
    beats: bool
    truth: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain JSON-ready values (NaN kept as ``None``)."""
        return finite(asdict(self))


def _checked(values: Any) -> np.ndarray:
    """``values`` (an array or anything with ``.values``) as floats, refused when not finite."""
    arr = np.asarray(getattr(values, "values", values), dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ExplainError("attribution values contain NaN or infinity; recompute the explanation before scoring it")
    return arr


def _score(kind: str, magnitude: np.ndarray, true: np.ndarray, truth: tuple[str, ...] = ()) -> GroundTruth:
    """Score flat absolute values against a flat boolean array of true parts."""
    total = float(magnitude.sum())
    if total == 0.0:
        raise ExplainError("attribution values are all zero: they put no order on the parts, so there is "
                           "nothing to score against the truth")
    k = int(true.sum())
    expected = k / true.size
    share = float(magnitude[true].sum()) / total
    top = np.argsort(-magnitude, kind="stable")[:k]
    precision = float(true[top].mean())
    bar = expected + MARGIN * (1.0 - expected)
    return GroundTruth(kind=kind, share=share, expected_share=expected, precision_at_k=precision, k=k,
                       beats=bool(share >= bar and precision >= bar), truth=truth)


def on_causes(values: Any, feature_names: Sequence[str], causes: Sequence[str]) -> GroundTruth:
    """Score one row's attribution over table features against the features known to cause the target.

    Args:
        values: one row of attribution values, ``(n_features,)`` or ``(1, n_features)``, or an
            ``Attribution`` of one row.
        feature_names: the features' names, in the order of ``values``.
        causes: the names of the features that truly cause the target (``Dataset.causes``).

    Returns:
        A ``GroundTruth`` of kind ``causes``.

    Raises:
        ExplainError: shapes differ, a cause is not a feature, no causes or every feature a cause, values
            not finite or all zero.
    """
    v = _checked(values)
    names = [str(n) for n in feature_names]
    if v.ndim == 2 and v.shape[0] == 1:
        v = v[0]
    if v.shape != (len(names),):
        raise ExplainError(f"attribution values shaped {np.shape(getattr(values, 'values', values))} do not match "
                           f"{len(names)} feature names; pass one row's values, one per feature")
    truth = tuple(dict.fromkeys(str(c) for c in causes))
    unknown = [c for c in truth if c not in names]
    if unknown:
        raise ExplainError(f"cause(s) {', '.join(unknown)} not among the feature names; name causes as the "
                           "data set names its features")
    if not truth or len(truth) == len(names):
        raise ExplainError(f"{len(truth)} of {len(names)} features are causes; scoring needs some features that "
                           "are causes and some that are not")
    true = np.isin(np.asarray(names), truth)
    return _score("causes", np.abs(v), true, truth)


def _pixels(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Absolute values per pixel, shaped like the 2-D ``mask`` (batch of one dropped, channels summed)."""
    v = values
    if v.ndim >= 3 and v.shape[0] == 1 and v.shape[1:3] == mask.shape:
        v = v[0]
    if v.shape == mask.shape:
        return np.abs(v)
    if v.ndim == 3 and v.shape[:2] == mask.shape:
        return np.abs(v).sum(axis=-1)
    raise ExplainError(f"attribution values shaped {values.shape} do not fit the mask shaped {mask.shape}; pass "
                       "one image's values, (height, width) or (height, width, channels)")


def on_mask(values: Any, mask: Any) -> GroundTruth:
    """Score one image's attribution against the mask of the object it shows.

    Args:
        values: one image's attribution values, ``(h, w)`` or ``(h, w, c)``, with or without a batch axis
            of one, or an ``Attribution`` of one image.
        mask: the object's pixels, ``(h, w)`` (or ``(1, h, w)``), true (non-zero) on the object.

    Returns:
        A ``GroundTruth`` of kind ``mask``.

    Raises:
        ExplainError: shapes differ, the mask is empty or covers the whole image, values not finite or all zero.
    """
    v = _checked(values)
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 2:
        raise ExplainError(f"a mask is one image's (height, width) array of object pixels, got shape {m.shape}")
    m = m != 0
    if not m.any():
        raise ExplainError("the mask is empty: no object pixels to score the explanation against")
    if m.all():
        raise ExplainError("the mask covers the whole image: every pixel is the object, so nothing tells "
                           "a good explanation from a random one")
    return _score("mask", _pixels(v, m).ravel(), m.ravel())


__all__ = ["GroundTruth", "on_causes", "on_mask"]
