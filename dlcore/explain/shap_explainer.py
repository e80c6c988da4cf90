"""SHAP values with shap's own explainers: Exact / Permutation / Partition for tables, Gradient (and,
behind a guard, Deep) for images. Each function returns raw arrays; ``dlcore.explain`` wraps them into an
``Attribution``.
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcore.explain.plan import BatchedPredict, Plan, Progress, global_numpy_seed


@dataclass(frozen=True)
class RawShap:
    """Values ``(n, *shape, k)`` over the explained outputs ``outputs`` and base values ``(n, k)``."""

    values: np.ndarray
    base_values: np.ndarray
    outputs: tuple[int, ...] | None  # None: every output, in order; else one output per row
    algorithm: str
    notes: tuple[str, ...] = ()


def tabular_shap(f: BatchedPredict, x: np.ndarray, background: np.ndarray, plan: Plan, seed: int) -> RawShap:
    """Shapley values of every output for table rows ``x`` over ``background`` (model inputs)."""
    import shap

    masker = shap.maskers.Independent(background, max_samples=len(background))
    if plan.algorithm == "exact":
        explainer = shap.explainers.Exact(f, masker)
        result = explainer(x, max_evals=max(100000, plan.samples + 1), silent=True)
    elif plan.algorithm == "permutation":
        with global_numpy_seed(seed):  # shap's Permutation explainer shuffles with NumPy's global generator
            explainer = shap.explainers.Permutation(f, masker, seed=seed)
            result = explainer(x, max_evals=plan.samples, silent=True)
    else:
        masker = shap.maskers.Partition(background, max_samples=len(background), clustering="correlation")
        with global_numpy_seed(seed):
            result = shap.explainers.Partition(f, masker)(x, max_evals=plan.samples, silent=True)
    values, base = np.asarray(result.values, dtype=np.float64), np.asarray(result.base_values, dtype=np.float64)
    if values.ndim == x.ndim:  # a single output
        values, base = values[..., None], base.reshape(len(x), 1)
    return RawShap(values, base, None, plan.algorithm)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide the warnings Keras 3 prints when shap hands a single-input model a list of tensors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def gradient_shap(model: Any, x: np.ndarray, background: np.ndarray, plan: Plan, seed: int,
                  targets: np.ndarray | None, progress: Progress | None = None) -> RawShap:
    """Expected gradients (``shap.GradientExplainer``), one input at a time so each row's values depend only
    on that row and the seed. ``targets``: one class per row, or None for every output."""
    import shap

    rows = []
    with _quiet():
        explainer = shap.GradientExplainer(model, background, batch_size=plan.samples)
        for i in range(len(x)):
            with global_numpy_seed(seed):  # shap seeds NumPy's global generator with rseed
                if targets is None:
                    v = explainer.shap_values(x[i:i + 1], nsamples=plan.samples, rseed=seed)
                else:
                    v, _ = explainer.shap_values(x[i:i + 1], nsamples=plan.samples, rseed=seed,
                                                 ranked_outputs=np.array([[int(targets[i])]]),
                                                 output_rank_order="custom")
            v = np.asarray(v, dtype=np.float64)
            rows.append(v if v.ndim == x.ndim + 1 else v[..., None])
            if progress is not None:
                progress((i + 1) / len(x), f"SHAP (gradient): {i + 1} of {len(x)} input(s)")
    base = _background_mean(model, background)
    base = np.tile(base, (len(x), 1)) if targets is None else base[np.asarray(targets, dtype=int)][:, None]
    outputs = None if targets is None else tuple(int(t) for t in targets)
    return RawShap(np.concatenate(rows), base, outputs, "gradient")


def _background_mean(model: Any, background: np.ndarray) -> np.ndarray:
    return BatchedPredict(model)(background).mean(axis=0)


@contextlib.contextmanager
def tf_gradient_guard() -> Iterator[None]:
    """Put back everything ``shap.DeepExplainer`` patches in TensorFlow, whatever happens inside.

    DeepExplainer swaps TensorFlow's eager ``record_gradient`` and entries of the gradient registry for
    its own and restores them only on success; after an error every later ``fit`` in the process fails
    (``LookupError: gradient registry has no entry for: shap_...``). This restores all three pieces.
    """
    from tensorflow.python.eager import execute as tf_execute
    from tensorflow.python.framework import ops as tf_ops
    from tensorflow.python.ops import gradients_util

    registry = tf_ops._gradient_registry._registry
    saved = {name: dict(entry) for name, entry in registry.items()}
    record = tf_execute.record_gradient
    backprop_check = getattr(gradients_util, "_IsBackpropagatable", None)
    try:
        yield
    finally:
        tf_execute.record_gradient = record
        for name in [n for n in registry if n not in saved]:
            del registry[name]
        for name, entry in saved.items():
            registry[name] = entry
        if backprop_check is not None:
            gradients_util._IsBackpropagatable = backprop_check


def deep_shap(model: Any, x: np.ndarray, background: np.ndarray, plan: Plan, seed: int,
              targets: np.ndarray | None, progress: Progress | None = None) -> RawShap:
    """DeepLIFT-style SHAP (``shap.DeepExplainer``) under ``tf_gradient_guard``; when it fails (it does not
    know many Keras 3 layers) fall back to ``gradient_shap`` and say so in the notes."""
    import shap

    try:
        with tf_gradient_guard(), _quiet():
            explainer = shap.DeepExplainer(model, background)
            values = np.asarray(explainer.shap_values(x, check_additivity=False), dtype=np.float64)
            base = np.asarray(explainer.expected_value, dtype=np.float64).reshape(-1)
    except Exception as exc:  # any failure inside shap: the guard restored TensorFlow, fall back
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:160]
        raw = gradient_shap(model, x, background, plan, seed, targets, progress)
        return RawShap(raw.values, raw.base_values, raw.outputs, "gradient",
                       (f"DeepExplainer failed on this model ({reason}); used GradientExplainer instead",))
    if values.ndim == x.ndim:
        values = values[..., None]
    if progress is not None:
        progress(1.0, "SHAP (deep): done")
    if targets is not None:
        t = np.asarray(targets, dtype=int)
        return RawShap(values[np.arange(len(x)), ..., t][..., None], base[t][:, None], tuple(int(v) for v in t), "deep")
    return RawShap(values, np.tile(base, (len(x), 1)), None, "deep")
