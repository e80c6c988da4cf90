"""Faithfulness of an attribution: deletion and insertion curves against random orders.

Deletion removes the input's parts (pixels of an image with all their channels, features of a table) in the
order of the attribution for the explained class, highest first, and records the class's output after each
step; insertion starts from the baseline and reveals the parts in the same order. A text's parts are its
distinct words, tokenised as LIME does (``lime.lime_text.IndexedString``): a removed word is taken out
everywhere it occurs, and insertion starts from the text with every word removed. A sequence's parts
``(steps, features)`` are its time steps, ranked by the sum of |attribution| over their features; a removed
step takes the baseline's values at that step (given ``background``: the training rows' mean). Removed parts are filled
with a baseline (black, the blurred image, or a given array); a table's removed features take the values of
background rows instead, and the output is averaged over those rows. The area under the curve over the
fraction removed is compared with the same curves for seeded random orders: a faithful explanation makes the
output fall faster (deletion: lower area) or rise faster (insertion: higher area) than every random order.

References:
    Samek, Binder, Montavon, Lapuschkin, Müller (2017). Evaluating the visualization of what a deep neural
    network has learned. IEEE TNNLS 28(11). (most relevant first, MoRF)
    Petsiuk, Das, Saenko (2018). RISE: Randomized input sampling for explanation of black-box models. BMVC.
    (deletion and insertion metrics)
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dlcore.errors import ExplainError
from dlcore.explain.plan import BatchedPredict
from dlcore.workspace import finite

PredictFn = Callable[[np.ndarray], np.ndarray]
MAX_BACKGROUND_ROWS = 50  # background rows a table's removed features are drawn from
MIN_RANDOM_ORDERS = 10
CHUNK_VALUES = 1 << 24  # input values built and sent to the predict function at once


@dataclass(frozen=True)
class Faithfulness:
    """A deletion or insertion curve of one attribution, against random orders of the same parts.

    Attributes:
        kind: ``deletion`` or ``insertion``.
        fractions: share of the parts removed (deletion) or revealed (insertion) at each step, 0 to 1.
        curve: the explained class's output at each fraction (probability for classifiers).
        auc: area under ``curve`` over the fraction (trapezoid rule).
        random_curve: the mean output of the random orders at each fraction.
        random_curve_std: their standard deviation at each fraction.
        random_auc: mean area under the random orders' curves; random_auc_std: its standard deviation.
        random_aucs: the area of each random order.
        ratio: ``auc / random_auc`` (None when the random area is 0).
        beats_random: the area lies beyond every random order's (deletion: below the smallest; insertion:
            above the largest), outside the random orders' spread. One more random order does that one time
            in ``random_orders + 1``; a mean-minus-two-deviations rule would fail even the exact order of a
            linear model on a table of six features, whose random orders spread widely.
        cls: the explained class (output column); parts: how many parts were ordered.
        baseline: what removed parts were filled with (``black``, ``blur``, ``array`` or ``background``;
            ``removed`` for words taken out of a text).
        model_calls: calls of the predict function; model_rows: model rows (inputs) evaluated.
    """

    kind: str
    fractions: tuple[float, ...]
    curve: tuple[float, ...]
    auc: float
    random_curve: tuple[float, ...]
    random_curve_std: tuple[float, ...]
    random_auc: float
    random_auc_std: float
    random_aucs: tuple[float, ...]
    ratio: float | None
    beats_random: bool
    cls: int
    parts: int
    baseline: str
    model_calls: int
    model_rows: int

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain JSON types (lists for the curves, NaN as ``None``)."""
        return finite(asdict(self))


@dataclass(frozen=True)
class _Setup:
    """One input prepared for curves: its parts' scores, what fills removed parts, and the predict function."""

    x: np.ndarray  # (*shape), the input without batch axis
    scores: np.ndarray  # (parts,) signed attribution per part
    fill: np.ndarray  # (rows, *shape): baseline (one row) or background rows
    pixels: bool  # parts are pixels (or time steps) whose channels (features: the last axis) go together
    baseline: str
    cls: int


class _Counted:
    """The predict function, counting its calls and rows."""

    def __init__(self, predict: PredictFn) -> None:
        self.predict, self.calls, self.rows = predict, 0, 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.asarray(self.predict(x), dtype=np.float64)
        self.calls += 1
        self.rows += len(x)
        return out.reshape(len(x), -1)


def deletion(model_or_predict: Any, x: Any, values: Any, cls: int, *, baseline: Any = None, background: Any = None,
             steps: int = 20, random_orders: int = 10, seed: int = 0, predict: PredictFn | None = None,
             words: Sequence[str] | None = None) -> Faithfulness:
    """How fast the explained class's output falls as the most important parts are removed first.

    Args:
        model_or_predict: a Keras model, or a function from a batch of inputs to outputs ``(rows, n_outputs)``.
        x: one input, ``(1, *shape)`` or ``(*shape)``; images are ``(height, width, channels)``; a text model's
            input is one string.
        values: the attribution shaped like ``x``, or with a trailing class axis (``cls`` picks the column);
            for a text, one value per distinct word, in the order of ``words``.
        cls: the explained class (output column; 0 for a single output).
        baseline: ``black`` (zeros), ``blur`` (a Gaussian blur of the image) or an array shaped like ``x``;
            None: black, or for a table given ``background``, the background rows.
        background: tables: rows whose values replace removed features (up to 50, seeded sample); sequences
            ``(steps, features)``: training rows whose mean fills removed steps.
        steps: fractions evenly spaced from 0 to 1, both included.
        random_orders: seeded random orders of the parts (at least 10).
        seed: seeds the random orders and the background sample.
        predict: a predict function to use instead of the model's batched predict step.
        words: texts only: the word each value belongs to (an ``Attribution`` row's ``feature_names``);
            default: the text's distinct words in order of first occurrence.

    Raises:
        ExplainError: the inputs admit no curve (one line saying why).
    """
    return _faithfulness("deletion", model_or_predict, x, values, cls, baseline, background, steps,
                         random_orders, seed, predict, words)


def insertion(model_or_predict: Any, x: Any, values: Any, cls: int, *, baseline: Any = None,
              background: Any = None, steps: int = 20, random_orders: int = 10, seed: int = 0,
              predict: PredictFn | None = None, words: Sequence[str] | None = None) -> Faithfulness:
    """How fast the explained class's output rises as the most important parts are revealed first.

    Starts from the baseline (or the background rows) and reveals parts of ``x``; arguments as in
    :func:`deletion`.

    Raises:
        ExplainError: the inputs admit no curve (one line saying why).
    """
    return _faithfulness("insertion", model_or_predict, x, values, cls, baseline, background, steps,
                         random_orders, seed, predict, words)


def _faithfulness(kind: str, model: Any, x: Any, values: Any, cls: int, baseline: Any, background: Any,
                  steps: int, random_orders: int, seed: int, predict: PredictFn | None,
                  words: Sequence[str] | None = None) -> Faithfulness:
    if int(steps) < 2:
        raise ExplainError(f"steps must be at least 2 (the fractions 0 and 1); got {steps}")
    if int(random_orders) < MIN_RANDOM_ORDERS:
        raise ExplainError(f"random_orders must be at least {MIN_RANDOM_ORDERS} for a mean and spread; "
                           f"got {random_orders}")
    f = _Counted(_predict_fn(model, predict))
    text = _text_of(x)
    if text is not None:
        if baseline is not None or background is not None:
            raise ExplainError("a text's words are removed, not filled: give no baseline or background")
        return _text_faithfulness(kind, text, values, int(cls), words, int(steps), int(random_orders), seed, f)
    setup = _setup(model, x, values, int(cls), baseline, background, seed)
    n_outputs = f(np.concatenate([setup.x[None], setup.fill[:1]]).astype(np.float32)).shape[1]
    if not 0 <= setup.cls < n_outputs:
        raise ExplainError(f"class {setup.cls} does not exist; the model has {n_outputs} output(s)")
    fractions = np.linspace(0.0, 1.0, int(steps))
    rng = np.random.default_rng(seed)
    orders = [np.argsort(-setup.scores, kind="stable")]
    orders += [rng.permutation(len(setup.scores)) for _ in range(int(random_orders))]
    curves = _curves(kind, setup, np.stack(orders), fractions, f)
    return _result(kind, fractions, curves, setup, f)


def _predict_fn(model: Any, predict: PredictFn | None) -> PredictFn:
    """The function the curves call: ``predict``, the model's batched predict step, or the given function."""
    if predict is not None:
        return predict
    if hasattr(model, "predict_on_batch"):
        return BatchedPredict(model, label="faithfulness")
    if callable(model):
        return model
    raise ExplainError("pass a Keras model or a predict function from a batch of inputs to outputs")


def _one_input(model: Any, x: Any) -> np.ndarray:
    """``x`` as one input without batch axis."""
    x = np.asarray(x, dtype=np.float64)
    shape = tuple(getattr(model, "input_shape", ())[1:]) if hasattr(model, "input_shape") else None
    if shape is not None and x.shape == shape:
        return x
    if shape is None and x.ndim in (1, 3) and x.shape[0] != 1:
        return x
    if x.ndim < 2 or len(x) != 1:
        raise ExplainError(f"faithfulness curves take one input at a time, (1, *shape); got shape {x.shape}")
    return x[0]


def _values(values: Any, x: np.ndarray, cls: int) -> np.ndarray:
    """The attribution for ``cls`` shaped like ``x`` (without batch axis)."""
    v = np.asarray(values, dtype=np.float64)
    if v.shape[:1] == (1,) and v.shape[1:x.ndim + 1] == x.shape and v.ndim > x.ndim:
        v = v[0]
    if v.shape != x.shape and v.shape[:-1] == x.shape:
        if not 0 <= cls < v.shape[-1]:
            raise ExplainError(f"class {cls} does not exist; the values have {v.shape[-1]} class column(s)")
        v = v[..., cls]
    if v.shape != x.shape:
        raise ExplainError(f"values shaped {np.shape(values)} are not shaped like the input {x.shape}")
    if not np.isfinite(v).all():
        raise ExplainError("values contain NaN or infinity; an attribution with gaps gives no order")
    if not np.any(v):
        raise ExplainError("all values are zero, so they give no order to remove the parts in")
    return v


def _setup(model: Any, x: Any, values: Any, cls: int, baseline: Any, background: Any, seed: int) -> _Setup:
    """Check the input and attribution and decide the parts and what fills removed ones."""
    row = _one_input(model, x)
    if not np.isfinite(row).all():
        raise ExplainError("the input contains NaN or infinity; fill the missing values first")
    v = _values(values, row, cls)
    pixels = row.ndim in (2, 3)
    scores = np.abs(v).sum(axis=-1) if row.ndim == 2 else v.sum(axis=-1).ravel() if pixels else v.ravel()
    if scores.size < 2:
        raise ExplainError("the input has a single part, so there is no curve to draw; deletion and insertion "
                           "need at least two features, pixels or steps")
    fill, name = _fill(row, baseline, background, seed)
    if np.array_equal(fill, np.broadcast_to(row, fill.shape)):
        raise ExplainError(f"the input equals its baseline ({name}) everywhere, so removing parts changes nothing; "
                           "choose another baseline")
    return _Setup(row, scores, fill, pixels, name, cls)


def _fill(row: np.ndarray, baseline: Any, background: Any, seed: int) -> tuple[np.ndarray, str]:
    """Rows that removed parts are taken from, and the name of that choice."""
    if background is not None and row.ndim == 2:
        if baseline is not None:
            raise ExplainError("give a sequence either a baseline or background rows (their mean fills), not both")
        bg = np.asarray(background, dtype=np.float64)
        if bg.shape[1:] != row.shape or len(bg) == 0 or not np.isfinite(bg).all():
            raise ExplainError(f"background rows shaped {bg.shape} are not finite sequences shaped {row.shape}")
        return bg.mean(axis=0)[None], "mean"
    if background is not None:
        if row.ndim != 1:
            raise ExplainError("background rows are for tables; fill an image's pixels with baseline black or blur")
        if baseline is not None:
            raise ExplainError("give a table either a baseline or background rows, not both")
        return _background(row, background, seed), "background"
    if baseline is None or (isinstance(baseline, str) and baseline == "black"):
        return np.zeros((1, *row.shape)), "black"
    if isinstance(baseline, str) and baseline == "blur":
        return _blur(row)[None], "blur"
    if isinstance(baseline, str):
        raise ExplainError(f"unknown baseline {baseline!r}; choose black, blur or an array shaped like the input")
    b = np.asarray(baseline, dtype=np.float64)
    b = b[0] if b.shape == (1, *row.shape) else b
    if b.shape != row.shape or not np.isfinite(b).all():
        raise ExplainError(f"a baseline array must be finite and shaped like the input {row.shape}; got {b.shape}")
    return b[None], "array"


def _background(row: np.ndarray, background: Any, seed: int) -> np.ndarray:
    """Up to ``MAX_BACKGROUND_ROWS`` background rows, a seeded sample."""
    bg = np.asarray(background, dtype=np.float64)
    if bg.ndim != 2 or bg.shape[1:] != row.shape or len(bg) == 0:
        raise ExplainError(f"background rows shaped {bg.shape} do not fit the input's {row.shape[0]} features")
    if not np.isfinite(bg).all():
        raise ExplainError("background rows contain NaN or infinity; fill the missing values first")
    if len(bg) > MAX_BACKGROUND_ROWS:
        bg = bg[np.sort(np.random.default_rng(seed).choice(len(bg), MAX_BACKGROUND_ROWS, replace=False))]
    return bg


def _blur(row: np.ndarray) -> np.ndarray:
    """A Gaussian blur of the image, channel by channel, with sigma ``max(1, height / 8)``."""
    from scipy.ndimage import gaussian_filter

    if row.ndim != 3:
        raise ExplainError("the blur baseline is for images (height, width, channels); use black or an array")
    sigma = max(1.0, row.shape[0] / 8)
    return np.stack([gaussian_filter(row[..., c], sigma) for c in range(row.shape[-1])], axis=-1)


def _keep(kind: str, orders: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Which parts are present at each step of each order, ``(orders * steps, parts)``."""
    n_parts = orders.shape[1]
    counts = np.rint(fractions * n_parts).astype(int)
    rank = np.empty_like(orders)
    rank[np.arange(len(orders))[:, None], orders] = np.arange(n_parts)
    moved = rank[:, None, :] < counts[None, :, None]  # (orders, steps, parts): removed or revealed
    keep = ~moved if kind == "deletion" else moved
    return keep.reshape(-1, n_parts)


def _curves(kind: str, setup: _Setup, orders: np.ndarray, fractions: np.ndarray, f: PredictFn) -> np.ndarray:
    """The explained class's output at each fraction for each order, ``(orders, steps)``."""
    n_fill = len(setup.fill)
    keep = _keep(kind, orders, fractions)
    per_mask = n_fill * setup.x.size
    chunk = max(1, CHUNK_VALUES // per_mask)
    out = np.concatenate([_evaluate(setup, keep[i:i + chunk], f) for i in range(0, len(keep), chunk)])
    return out.reshape(len(orders), len(fractions))


def _evaluate(setup: _Setup, keep: np.ndarray, f: PredictFn) -> np.ndarray:
    """The explained class's output, averaged over fill rows, for each mask of kept parts (one call)."""
    shape = setup.x.shape
    mask = keep.reshape(len(keep), *shape[:-1], 1) if setup.pixels else keep.reshape(len(keep), *shape)
    inputs = np.where(mask[:, None], setup.x[None, None], setup.fill[None])  # (masks, fill rows, *shape)
    out = f(inputs.reshape(-1, *shape).astype(np.float32))
    return out[:, setup.cls].reshape(len(keep), len(setup.fill)).mean(axis=1)


def _text_of(x: Any) -> str | None:
    """The text ``x`` holds (a string, or one string in a list or array), else None."""
    if isinstance(x, str):
        return x
    arr = np.asarray(x, dtype=object) if isinstance(x, (list, tuple, np.ndarray)) else None
    if arr is not None and arr.size == 1 and isinstance(arr.ravel()[0], str):
        return str(arr.ravel()[0])
    if arr is not None and arr.size > 1 and all(isinstance(t, str) for t in arr.ravel()):
        raise ExplainError(f"faithfulness curves take one text at a time; got {arr.size}")
    return None


def _word_scores(text: Any, values: Any, cls: int, words: Sequence[str] | None) -> np.ndarray:
    """One score per distinct word of ``text`` (an ``IndexedString``), in its word order."""
    vocab = [str(text.word(j)) for j in range(text.num_words())]
    v = np.asarray(values, dtype=np.float64)
    v = v[0] if v.ndim >= 2 and len(v) == 1 and (v.shape[1] == len(words or vocab)) else v
    if v.ndim == 2:
        if not 0 <= cls < v.shape[1]:
            raise ExplainError(f"class {cls} does not exist; the values have {v.shape[1]} class column(s)")
        v = v[:, cls]
    names = list(words) if words is not None else vocab
    if v.shape != (len(names),):
        raise ExplainError(f"values shaped {np.shape(values)} do not give one value per word ({len(names)} words)")
    if not np.isfinite(v).all():
        raise ExplainError("values contain NaN or infinity; an attribution with gaps gives no order")
    if not np.any(v):
        raise ExplainError("all values are zero, so they give no order to remove the words in")
    given = dict(zip(names, v))
    missing = [w for w in vocab if w not in given]
    if missing:
        raise ExplainError(f"no value for the word(s) {', '.join(missing[:5])} of the text")
    return np.array([given[w] for w in vocab])


def _text_faithfulness(kind: str, text: str, values: Any, cls: int, words: Sequence[str] | None, steps: int,
                       random_orders: int, seed: int, f: _Counted) -> Faithfulness:
    """Deletion or insertion over a text's distinct words, all steps of all orders in one batched call."""
    from lime.lime_text import IndexedString

    from dlcore.explain.plan import TEXT_SPLIT

    indexed = IndexedString(text, bow=True, split_expression=TEXT_SPLIT)
    if indexed.num_words() < 2:
        raise ExplainError(f"the text has {indexed.num_words()} word(s), so there is no curve to draw; deletion "
                           "and insertion need at least two distinct words")
    scores = _word_scores(indexed, values, cls, words)
    rng = np.random.default_rng(seed)
    orders = np.stack([np.argsort(-scores, kind="stable"),
                       *(rng.permutation(len(scores)) for _ in range(random_orders))])
    fractions = np.linspace(0.0, 1.0, steps)
    keep = _keep(kind, orders, fractions)
    texts = np.array([indexed.inverse_removing(np.flatnonzero(~k)) for k in keep], dtype=object)
    out = f(texts)
    if not 0 <= cls < out.shape[1]:
        raise ExplainError(f"class {cls} does not exist; the model has {out.shape[1]} output(s)")
    curves = out[:, cls].reshape(len(orders), len(fractions))
    setup = _Setup(np.zeros(len(scores)), scores, np.zeros((1, len(scores))), False, "removed", cls)
    return _result(kind, fractions, curves, setup, f)


def _auc(fractions: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Trapezoid area under each curve (last axis) over the fractions."""
    return ((curve[..., 1:] + curve[..., :-1]) / 2 * np.diff(fractions)).sum(axis=-1)


def _result(kind: str, fractions: np.ndarray, curves: np.ndarray, setup: _Setup, f: _Counted) -> Faithfulness:
    """The figures from the explanation's curve (row 0) and the random orders' curves."""
    aucs = _auc(fractions, curves)
    auc, random = float(aucs[0]), aucs[1:]
    mean, std = float(random.mean()), float(random.std(ddof=1))
    beats = auc < random.min() if kind == "deletion" else auc > random.max()
    ratio = auc / mean if abs(mean) > 1e-12 else None

    def floats(a: np.ndarray) -> tuple[float, ...]:
        return tuple(float(v) for v in a)

    return Faithfulness(kind, floats(fractions), floats(curves[0]), auc, floats(curves[1:].mean(axis=0)),
                        floats(curves[1:].std(axis=0, ddof=1)), mean, std, floats(random), ratio, bool(beats),
                        setup.cls, len(setup.scores), setup.baseline, f.calls, f.rows)
