"""LIME on tables, images and texts with the ``lime`` library doing the sampling and the ridge fits; what is
ours is the fast ``predict_fn`` (large batches, the model called directly), superpixels that suit small
images, and a fresh seed per explained row, so the same call always gives the same weights.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcore.errors import ExplainError
from dlcore.explain.plan import TEXT_SPLIT, BatchedPredict, Plan

SEGMENTATIONS = ("grid", "slic")


@dataclass(frozen=True)
class RawLime:
    """Weights ``(n, *shape, n_outputs)`` (every output), intercepts ``(n, n_outputs)`` and, for each row's
    target class, the surrogate's R² and its prediction at the row."""

    values: np.ndarray
    intercepts: np.ndarray
    local_fit: np.ndarray
    local_pred: np.ndarray
    segments: np.ndarray | None = None
    rules: tuple[tuple[str, ...], ...] = ()


def _label_order(n_outputs: int, target: int) -> list[int]:
    """Every class, the target last: lime keeps the fit score of the last label it fits."""
    return [k for k in range(n_outputs) if k != target] + [int(target)]


def grid_segments(height: int, width: int, cell: int | None = None) -> np.ndarray:
    """Square superpixels of ``cell`` pixels a side. Default: 2-pixel cells on 8 x 8 images (16 superpixels),
    4-pixel cells on 28 x 28 (49), at most an 8 x 8 grid on larger images. lime's default quickshift
    (kernel 4, max_dist 200) makes one or two segments of a small image."""
    side = min(height, width)
    cell = int(cell or (1 if side < 8 else max(2, math.ceil(side / 8))))
    rows, cols = np.arange(height) // cell, np.arange(width) // cell
    return (rows[:, None] * (cols.max() + 1) + cols[None, :]).astype(np.int64)


def segment_fn(kind: str = "grid", cell: int | None = None, n_segments: int = 50) -> Callable[[np.ndarray], np.ndarray]:
    """A segmentation function for ``lime``: RGB image -> labels 0..k-1."""
    if kind not in SEGMENTATIONS:
        raise ExplainError(f"unknown segmentation {kind!r}; choose one of {', '.join(SEGMENTATIONS)}")

    def segment(image: np.ndarray) -> np.ndarray:
        if kind == "grid":
            return grid_segments(image.shape[0], image.shape[1], cell)
        from skimage.segmentation import slic

        labels = slic(image, n_segments=n_segments, compactness=0.1, start_label=0, channel_axis=-1)
        return np.unique(labels, return_inverse=True)[1].reshape(labels.shape)  # 0..k-1 without gaps

    return segment


def tabular_lime(f: BatchedPredict, x: np.ndarray, background: np.ndarray, plan: Plan, seed: int,
                 targets: np.ndarray, n_outputs: int, regression: bool, feature_names: Sequence[str]) -> RawLime:
    """``lime_tabular.LimeTabularExplainer`` (quartile discretisation, lime's defaults) on each row."""
    from lime.lime_tabular import LimeTabularExplainer

    if background is None or len(background) < 2:
        raise ExplainError("LIME on tables needs background rows for its sampling statistics; pass background=")
    state = np.random.RandomState(seed)
    explainer = LimeTabularExplainer(np.asarray(background, dtype=np.float64),
                                     mode="regression" if regression else "classification",
                                     feature_names=list(feature_names), discretize_continuous=True, random_state=state)
    m = x.shape[1]
    out = _empty(x, n_outputs)
    rules: list[tuple[str, ...]] = []
    for i in range(len(x)):
        state.seed(seed)  # every row starts from the seed: its weights do not depend on the other rows
        labels = [0] if regression else _label_order(n_outputs, int(targets[i]))
        exp = explainer.explain_instance(x[i].astype(np.float64), f, labels=labels, num_features=m,
                                         num_samples=plan.samples)
        for k in labels:
            key = 1 if regression else k  # lime stores a regression's weights under label 1
            for j, w in exp.local_exp[key]:
                out.values[i, j, k] = w
            out.intercepts[i, k] = exp.intercept[key]
        out.local_fit[i], out.local_pred[i] = float(exp.score), float(np.ravel(exp.local_pred)[0])
        names = exp.domain_mapper.discretized_feature_names or exp.domain_mapper.feature_names
        rules.append(tuple(str(n) for n in names))
    return RawLime(out.values, out.intercepts, out.local_fit, out.local_pred, rules=tuple(rules))


def _empty(x: np.ndarray, n_outputs: int) -> RawLime:
    n = len(x)
    return RawLime(np.zeros((*x.shape, n_outputs)), np.zeros((n, n_outputs)), np.zeros(n), np.zeros(n))


def _no_bar(iterable: Any, *args: Any, **kwargs: Any) -> Any:
    """A stand-in for ``tqdm`` that draws nothing."""
    return iterable


def image_lime(f: BatchedPredict, x: np.ndarray, plan: Plan, seed: int, targets: np.ndarray, n_outputs: int,
               segmentation: str = "grid", cell: int | None = None, n_segments: int = 50,
               hide_color: float | None = 0.0) -> RawLime:
    """``lime_image.LimeImageExplainer`` on each image, model called on >= 512 perturbed images a call.

    ``hide_color`` fills a switched-off superpixel (0: black, the background of the built-in images;
    None: the superpixel's mean colour, lime's own default).
    """
    import lime.lime_image
    from lime.lime_image import LimeImageExplainer

    # lime draws its own tqdm bar on stderr for every image and offers no switch; the callers show progress
    # (the command's bar, the page's), and `--json` promises one clean line, so lime's bar is replaced for good
    lime.lime_image.tqdm = _no_bar
    state = np.random.RandomState(seed)
    explainer = LimeImageExplainer(random_state=state)
    seg = segment_fn(segmentation, cell, n_segments)
    out = _empty(x, n_outputs)
    segments = np.zeros(x.shape[:3], dtype=np.int64)
    batch = max(512, min(plan.samples, 2048))
    for i in range(len(x)):
        state.seed(seed)
        image = x[i, ..., 0] if x.shape[-1] == 1 else x[i]  # lime turns a 2-D grey image into RGB itself
        labels = _label_order(n_outputs, int(targets[i]))
        exp = explainer.explain_instance(image.astype(np.float64), f, labels=labels, top_labels=None,
                                         hide_color=hide_color, num_features=100000, num_samples=plan.samples,
                                         batch_size=batch, segmentation_fn=seg, random_seed=seed)
        segments[i] = exp.segments
        for k in labels:
            weights = np.zeros(int(exp.segments.max()) + 1)
            for s, w in exp.local_exp[k]:
                weights[s] = w
            out.values[i, ..., k] = weights[exp.segments][..., None]
            out.intercepts[i, k] = exp.intercept[k]
        out.local_fit[i], out.local_pred[i] = float(exp.score), float(np.ravel(exp.local_pred)[0])
    return RawLime(out.values, out.intercepts, out.local_fit, out.local_pred, segments=segments)


@dataclass(frozen=True)
class RawText:
    """LIME on texts: the distinct ``words`` of all texts (first appearance first), each text's word counts
    ``(n, words)``, weights ``(n, words, n_outputs)`` (0 for a word a text lacks) and intercepts
    ``(n, n_outputs)``, and for each text's target class the surrogate's R² and its prediction."""

    words: tuple[str, ...]
    counts: np.ndarray
    values: np.ndarray
    intercepts: np.ndarray
    local_fit: np.ndarray
    local_pred: np.ndarray


def text_lime(f: BatchedPredict, texts: Sequence[str], plan: Plan, seed: int, targets: np.ndarray,
              n_outputs: int) -> RawText:
    """``lime_text.LimeTextExplainer`` (bag of words: a word is switched off everywhere it occurs) on each
    text; lime hands ``f`` all perturbed texts of a text in one call, which ``f`` runs in large batches."""
    from lime.lime_text import IndexedString, LimeTextExplainer

    state = np.random.RandomState(seed)
    explainer = LimeTextExplainer(bow=True, split_expression=TEXT_SPLIT, random_state=state)
    found = []
    for i, text in enumerate(texts):
        words = IndexedString(str(text), bow=True, split_expression=TEXT_SPLIT)
        if words.num_words() == 0:
            raise ExplainError(f"text {i} has no words to explain; give a text with words in it")
        state.seed(seed)  # every text starts from the seed: its weights do not depend on the other texts
        labels = [0] if n_outputs == 1 else _label_order(n_outputs, int(targets[i]))
        exp = explainer.explain_instance(str(text), f, labels=labels, num_features=words.num_words(),
                                         num_samples=plan.samples)
        found.append((exp, labels))
    vocab: dict[str, int] = {}
    for exp, _ in found:
        for j in range(exp.domain_mapper.indexed_string.num_words()):
            vocab.setdefault(str(exp.domain_mapper.indexed_string.word(j)), len(vocab))
    n = len(found)
    counts, values = np.zeros((n, len(vocab))), np.zeros((n, len(vocab), n_outputs))
    intercepts, fit, pred = np.zeros((n, n_outputs)), np.zeros(n), np.zeros(n)
    for i, (exp, labels) in enumerate(found):
        words = exp.domain_mapper.indexed_string
        column = [vocab[str(words.word(j))] for j in range(words.num_words())]
        for j, col in enumerate(column):
            counts[i, col] = len(words.string_position(j))
        for k in labels:
            for j, w in exp.local_exp[k]:
                values[i, column[j], k] = w
            intercepts[i, k] = exp.intercept[k]
        fit[i], pred[i] = float(exp.score), float(np.ravel(exp.local_pred)[0])
    return RawText(tuple(vocab), counts, values, intercepts, fit, pred)


def sequence_lime(f: BatchedPredict, x: np.ndarray, fill: np.ndarray, plan: Plan, seed: int, targets: np.ndarray,
                  n_outputs: int) -> RawLime:
    """LIME on sequences ``(n, steps, features)``, a time step being one interpretable part (as a superpixel is
    for an image): seeded on/off samples of the steps, a switched-off step taking ``fill``'s values (the
    training mean), the model called on all samples of a row at once, and lime's own weighted ridge fit
    (``lime.lime_base.LimeBase``, cosine distance and lime's image kernel width 0.25). A step's weight is
    shared equally by its features, so a step's values add up to its weight."""
    from lime.lime_base import LimeBase
    from sklearn.metrics import pairwise_distances

    steps, features = x.shape[1], x.shape[2]
    out = _empty(x, n_outputs)
    for i in range(len(x)):
        state = np.random.RandomState(seed)  # every row starts from the seed
        z = state.randint(0, 2, size=(plan.samples, steps))
        z[0] = 1  # the first sample is the row itself, as in lime
        inputs = np.where(z[:, :, None] == 1, x[i][None], fill[None])
        labels = f(inputs.astype(np.float32))
        distances = pairwise_distances(z, z[:1], metric="cosine").ravel()
        base = LimeBase(lambda d: np.sqrt(np.exp(-(d ** 2) / 0.25 ** 2)), random_state=state)
        for k in _label_order(n_outputs, int(targets[i])):
            intercept, weights, score, local_pred = base.explain_instance_with_data(
                z, labels, distances, k, steps, feature_selection="none")
            for s, w in weights:
                out.values[i, s, :, k] = w / features
            out.intercepts[i, k] = intercept
            out.local_fit[i], out.local_pred[i] = float(score), float(np.ravel(local_pred)[0])
    return RawLime(out.values, out.intercepts, out.local_fit, out.local_pred)
