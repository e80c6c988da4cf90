"""Explanations scored against ground truth, where the truly relevant parts of an input are known.

Four kinds of truth: the features that cause a table's target (the generated ``causes`` data set), the
pixels of the object in an image (the ``shapes`` data sets' masks), the planted cue words a text's label
depends on (``reviews``: ``Dataset.causes``), and the window of time steps that decides a series' class
(``sensors``: ``Dataset.masks_*``, one ``(steps,)`` mask per series). For one explained input:

- share: the share of absolute attribution on the true parts (channels summed for images, features summed
  for a series' steps; a text's parts are its tokens);
- expected share: what an attribution without information gets, the true parts' share of all parts
  (``n_true / n_parts``; for a mask, the share of the image it covers; for a text, the cue tokens' share of
  its tokens; for a window, its share of the steps);
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
        kind: ``causes`` (features of a table), ``mask`` (object pixels of an image), ``words`` (cue tokens of
            a text) or ``window`` (time steps of a series).
        share: share of absolute attribution on the true parts, in [0, 1].
        expected_share: what an attribution without information gets: true parts / all parts.
        precision_at_k: of the ``k`` parts with the largest absolute attribution, the share that are true.
        k: number of true parts (cause features, mask pixels, cue tokens or window steps).
        beats: share and precision at k both at least ``expected + MARGIN * (1 - expected)``.
        truth: the true features (``causes``) or the cue words found in the text (``words``); empty for
            masks and windows.
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


def on_words(values: Any, words: Sequence[str], cues: Sequence[str], counts: Any = None) -> GroundTruth:
    """Score one text's attribution against the planted cue words its label depends on.

    The parts scored are the text's tokens. An entry of ``values`` that stands for ``c`` tokens (a word that
    occurs ``c`` times, in a bag-of-words explanation such as LIME's) spreads its absolute value evenly over
    them: the share is the share on the cue words, the expected share is the cue tokens' share of all tokens,
    and precision at k ranks tokens, with ``k`` the number of cue tokens.

    Args:
        values: one value per entry of ``words``, with or without a batch axis of one, or an ``Attribution``
            of one text.
        words: the word each value belongs to: a text's tokens in order (e.g. ``text.split()``), or its
            distinct words (``Attribution.feature_names`` of LIME on texts). Compared with ``cues`` in lower case.
        cues: the words the label depends on (``Dataset.causes`` of ``reviews``).
        counts: how many tokens each entry stands for (LIME's ``Attribution.inputs`` row: each word's count in
            the text); entries counted 0 (words of other texts) are left out. None: each entry is one token.

    Returns:
        A ``GroundTruth`` of kind ``words``; ``truth`` holds the cue words found in the text, first one first.

    Raises:
        ExplainError: shapes differ, counts negative or not whole, no cue token or only cue tokens, values not
            finite or all zero.
    """
    v = _checked(values)
    names = [str(w).lower() for w in words]
    if v.ndim == 2 and v.shape[0] == 1:
        v = v[0]
    n = np.ones(len(names)) if counts is None else np.asarray(counts, dtype=np.float64).reshape(-1)
    if v.shape != (len(names),) or n.shape != v.shape:
        raise ExplainError(f"attribution values shaped {np.shape(getattr(values, 'values', values))}, "
                           f"{len(names)} words and {n.size} counts do not match; pass one text's values, one per "
                           "word, and one count per word")
    if (n < 0).any() or not np.array_equal(n, np.round(n)):
        raise ExplainError("word counts must be whole numbers of tokens, 0 or more; pass each word's count in the text")
    cue_words = {str(c).lower() for c in cues}
    used = n > 0
    true_entry = np.isin(np.asarray(names, dtype=object), list(cue_words)) & used
    if not true_entry.any() or true_entry.sum() == used.sum():
        raise ExplainError(f"{int(n[true_entry].sum())} of {int(n.sum())} tokens are cue words; scoring needs a text "
                           "with some cue words and some other words")
    reps = n.astype(np.int64)
    magnitude = np.repeat(np.abs(v) / np.where(used, n, 1.0), reps)
    truth = tuple(dict.fromkeys(w for w, t in zip(names, true_entry) if t))
    return _score("words", magnitude, np.repeat(true_entry, reps), truth)


def on_window(values: Any, window: Any) -> GroundTruth:
    """Score one series' attribution against the window of time steps that decides its class.

    Args:
        values: one series' attribution values, ``(steps,)`` or ``(steps, features)``, with or without a batch
            axis of one, or an ``Attribution`` of one series. Features are summed per step (absolute values).
        window: ``(steps,)`` (or ``(1, steps)``), true (non-zero) on the window's steps (``Dataset.masks_*`` of
            ``sensors``).

    Returns:
        A ``GroundTruth`` of kind ``window``.

    Raises:
        ExplainError: shapes differ, the window is empty or covers every step, values not finite or all zero.
    """
    v = _checked(values)
    w = np.asarray(window)
    if w.ndim == 2 and w.shape[0] == 1:
        w = w[0]
    if w.ndim != 1:
        raise ExplainError(f"a window is one series' (steps,) array of flags, got shape {w.shape}")
    w = w != 0
    if not w.any():
        raise ExplainError("the window is empty: no time steps to score the explanation against")
    if w.all():
        raise ExplainError("the window covers every step: nothing tells a good explanation from a random one")
    if v.ndim in (2, 3) and v.shape[0] == 1 and v.shape[1] == w.size:  # a batch of one (w has 2+ steps here)
        v = v[0]
    if v.ndim == 1 and v.shape == w.shape:
        magnitude = np.abs(v)
    elif v.ndim == 2 and v.shape[0] == w.size:
        magnitude = np.abs(v).sum(axis=1)
    else:
        raise ExplainError(f"attribution values shaped {v.shape} do not fit a window of {w.size} steps; pass one "
                           "series' values, (steps,) or (steps, features)")
    return _score("window", magnitude, w)


__all__ = ["GroundTruth", "on_causes", "on_mask", "on_window", "on_words"]
