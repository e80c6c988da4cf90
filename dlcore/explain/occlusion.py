"""Occlusion: how much the output drops when part of the input is hidden (Zeiler and Fergus 2014,
"Visualizing and Understanding Convolutional Networks"; leave-one-feature-out for tables).

- images: a ``patch`` x ``patch`` square slides over the image every ``stride`` pixels (the last one flush with
  the edge), filled with the baseline (black by default); a pixel's value is the output drop averaged over the
  patches that cover it, put in every channel;
- tables: feature ``j`` is replaced by each background row's value; value = f(x) - mean f(x with j replaced);
- other inputs (sequences ``(steps, features)``): one cell (a step's feature) at a time is set to the baseline;
  value = f(x) - f(x with that cell hidden);
- texts: one distinct word at a time is removed everywhere it occurs (lime's ``IndexedString`` bag of words);
  the result is shaped like LIME's text attributions (``inputs`` = word counts, ``feature_names`` = the words).

Every copy of every input goes to the model in large batches (``BatchedPredict``), the inputs themselves in the
same calls. Written here because the libraries that offer occlusion (captum, tf-explain) need PyTorch or tf.keras 2
models, not Keras 3.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from dlcore.errors import ExplainError
from dlcore.explain.attribution import Attribution
from dlcore.explain.batch import as_batch, class_names_for, feature_names_for, targets_for
from dlcore.explain.gradients import make_baselines
from dlcore.explain.plan import (
    TEXT_SPLIT,
    BatchedPredict,
    method_plan,
    occlusion_patch,
    patch_starts,
    summarize_background,
    text_occlusion_plan,
)

COPY_VALUES = 1 << 23  # input values of occluded copies built at once


def _group(row_size: int) -> int:
    return max(1, COPY_VALUES // max(1, row_size))


def with_inputs(f: BatchedPredict, xs: np.ndarray, copies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The outputs at the inputs ``xs`` and at their ``copies`` (``(len(xs), copies each, ...)``), from one call:
    ``(len(xs), k)`` and ``(len(xs), copies each, k)``."""
    out = f(np.concatenate([xs, copies.reshape(-1, *xs.shape[1:])]))
    return out[:len(xs)], out[len(xs):].reshape(len(xs), copies.shape[1], -1)


def patch_masks(h: int, w: int, patch: int, stride: int) -> np.ndarray:
    """Where each occlusion patch lies, ``(patches, h, w)`` booleans, row by row from the top left."""
    corners = [(r, c) for r in patch_starts(h, patch, stride) for c in patch_starts(w, patch, stride)]
    masks = np.zeros((len(corners), h, w), dtype=bool)
    for p, (r, c) in enumerate(corners):
        masks[p, r:r + patch, c:c + patch] = True
    return masks


def image_drops(f: BatchedPredict, x: np.ndarray, baselines: np.ndarray, patch: int,
                stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the output drop averaged over the patches covering it, ``(n, h, w, channels, outputs)``, and the
    outputs at ``x``."""
    n, h, w = x.shape[:3]
    masks = patch_masks(h, w, patch, stride)
    cover = masks.reshape(len(masks), -1).astype(np.float64) / masks.sum(axis=0).reshape(1, -1)
    per = max(1, _group(int(np.prod(x.shape[1:]))) // (len(masks) + 1))
    values, outputs = [], []
    for start in range(0, n, per):
        xs, bs = x[start:start + per], baselines[start:start + per]
        copies = np.where(masks[None, :, :, :, None], bs[:, None], xs[:, None])  # (r, patches, h, w, c)
        at_x, hidden = with_inputs(f, xs, copies)
        drops = at_x[:, None] - hidden  # (r, patches, k)
        averaged = np.tensordot(drops, cover, axes=([1], [0]))  # (r, k, h * w), a BLAS product
        values.append(np.moveaxis(averaged, 1, -1).reshape(len(xs), h, w, -1))
        outputs.append(at_x)
    return np.repeat(np.concatenate(values)[:, :, :, None], x.shape[3], axis=3), np.concatenate(outputs)


def feature_drops(f: BatchedPredict, x: np.ndarray, bg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tables: f(x) - mean over background rows of f(x with feature j from that row), ``(n, features, outputs)``,
    and the outputs at ``x``."""
    n, m = x.shape
    values, outputs = [], []
    per = max(1, _group(m * m * len(bg)))
    for start in range(0, n, per):
        xs = x[start:start + per]
        copies = np.repeat(xs[:, None, None], m, axis=1).repeat(len(bg), axis=2)  # (r, m, bg, m)
        for j in range(m):
            copies[:, j, :, j] = bg[:, j]
        at_x, hidden = with_inputs(f, xs, copies.reshape(len(xs), m * len(bg), m))
        values.append(at_x[:, None] - hidden.reshape(len(xs), m, len(bg), -1).mean(axis=2))
        outputs.append(at_x)
    return np.concatenate(values), np.concatenate(outputs)


def cell_drops(f: BatchedPredict, x: np.ndarray, baselines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Other inputs: f(x) - f(x with one cell set to the baseline), ``(n, *input_shape, outputs)``, and the outputs
    at ``x``."""
    n, cells = len(x), int(np.prod(x.shape[1:]))
    flat, flat_base = x.reshape(n, cells), baselines.reshape(n, cells)
    per = max(1, _group(cells * cells))
    idx = np.arange(cells)
    values, outputs = [], []
    for start in range(0, n, per):
        copies = np.repeat(flat[start:start + per, None], cells, axis=1)  # (r, cells, cells)
        copies[:, idx, idx] = flat_base[start:start + per]
        xs = x[start:start + per]
        at_x, hidden = with_inputs(f, xs, copies.reshape(len(xs), cells, *x.shape[1:]))
        values.append(at_x[:, None] - hidden)
        outputs.append(at_x)
    return np.concatenate(values).reshape(*x.shape, -1), np.concatenate(outputs)


def _pick(values: np.ndarray, targets: np.ndarray, all_outputs: bool) -> np.ndarray:
    """Every output's values, or each row's target class only."""
    return values if all_outputs else np.stack([values[i, ..., t] for i, t in enumerate(targets)])


def _drops(f: BatchedPredict, x: np.ndarray, bg: np.ndarray | None, bg_size: int, seed: int,
           options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Every output's occlusion values for tables, images or other inputs, the outputs at ``x`` (run in the same
    calls as the occluded copies) and a note on the settings."""
    if x.ndim == 2:
        bg = summarize_background(bg, bg_size, seed)
        return *feature_drops(f, x, bg), (
            f"each feature replaced by each of {len(bg)} background rows' values, outputs averaged",)
    baseline = options.get("baseline", "black")
    baselines = make_baselines(baseline, x, bg, seed, options.get("blur_sigma"))
    name = baseline if isinstance(baseline, str) else "an array"
    if x.ndim == 4:
        patch, stride = occlusion_patch(x, options.get("patch"), options.get("stride"))
        return *image_drops(f, x, baselines, patch, stride), (
            f"{patch}x{patch} patches every {stride} pixels filled with the baseline ({name}); a pixel's value is "
            "the output drop averaged over the patches covering it, in every channel",)
    return *cell_drops(f, x, baselines), (f"one cell (a step's feature) at a time set to the baseline ({name})",)


def explain_occlusion(model: Any, x: Any, background: Any, seed: int, options: dict[str, Any]) -> Attribution:
    """Occlusion on model inputs ``x`` (see the module docstring and ``dlcore.explain.explain``)."""
    t0 = time.perf_counter()
    x = as_batch(model, x)
    bg = None if background is None else as_batch(model, background)
    target, progress = options.get("target", "predicted"), options.get("progress")
    k = int(np.prod(model.output_shape[1:]))
    given = {key: v for key, v in options.items() if key != "progress"}
    plan = method_plan(x, "occlusion", k, bg, **given)
    f = BatchedPredict(model, progress, plan.model_rows, label=f"OCCLUSION ({plan.algorithm})")
    values, predictions, notes = _drops(f, x, bg, plan.background_size, seed, options)
    targets = targets_for(target, predictions)
    if progress is not None:
        progress(1.0, "OCCLUSION done")
    base = np.zeros((len(x), k)) if target == "all" else np.zeros(len(x))
    return Attribution(values=_pick(values, targets, target == "all"), base_values=base, inputs=x,
                       predictions=predictions, targets=targets, method="occlusion", algorithm=plan.algorithm,
                       seed=int(seed), seconds=time.perf_counter() - t0,
                       feature_names=feature_names_for(options.get("feature_names"), x),
                       class_names=class_names_for(options.get("class_names"), k),
                       background_size=plan.background_size, samples=plan.samples, model_rows=f.rows,
                       output_range=float(np.ptp(predictions, axis=0).max()) or 1.0, notes=notes)


def explain_text_occlusion(model: Any, texts: np.ndarray, seed: int, options: dict[str, Any]) -> Attribution:
    """Occlusion on texts: f(text) - f(text without word j), each distinct word removed everywhere it occurs."""
    from lime.lime_text import IndexedString

    t0 = time.perf_counter()
    target, progress = options.get("target", "predicted"), options.get("progress")
    k = int(np.prod(model.output_shape[1:]))
    plan = text_occlusion_plan(texts, k, target)
    f = BatchedPredict(model, progress, plan.model_rows, label="OCCLUSION (occlusion-words)")
    predictions = f(texts)
    indexed = [IndexedString(str(t), bow=True, split_expression=TEXT_SPLIT) for t in texts]
    for i, words in enumerate(indexed):
        if words.num_words() == 0:
            raise ExplainError(f"text {i} has no words to explain; give a text with words in it")
    copies = [words.inverse_removing([j]) for words in indexed for j in range(words.num_words())]
    hidden = f(np.array(copies, dtype=object))
    vocab: dict[str, int] = {}
    for words in indexed:
        for j in range(words.num_words()):
            vocab.setdefault(str(words.word(j)), len(vocab))
    counts, values = np.zeros((len(texts), len(vocab))), np.zeros((len(texts), len(vocab), k))
    row = 0
    for i, words in enumerate(indexed):
        for j in range(words.num_words()):
            col = vocab[str(words.word(j))]
            counts[i, col] = len(words.string_position(j))
            values[i, col] = predictions[i] - hidden[row]
            row += 1
    targets = targets_for(target, predictions)
    if progress is not None:
        progress(1.0, "OCCLUSION done")
    base = np.zeros((len(texts), k)) if target == "all" else np.zeros(len(texts))
    return Attribution(values=_pick(values, targets, target == "all"), base_values=base, inputs=counts,
                       predictions=predictions, targets=targets, method="occlusion", algorithm="occlusion-words",
                       seed=int(seed), seconds=time.perf_counter() - t0, feature_names=tuple(vocab),
                       class_names=class_names_for(options.get("class_names"), k), samples=plan.samples,
                       model_rows=f.rows, output_range=float(np.ptp(predictions, axis=0).max()) or 1.0,
                       texts=tuple(str(t) for t in texts),
                       notes=("each distinct word removed everywhere it occurs, one word at a time",))

