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


# Exact Shapley values come from one of two shap explainers. shap's KernelExplainer given every coalition
# solves the Shapley kernel's weighted least squares over all 2**M - 2 of them besides the empty and the full
# one, which gives the Shapley values exactly (Lundberg & Lee 2017, "A Unified Approach to Interpreting Model
# Predictions", Theorem 2), and compiles nothing. shap's Exact explainer gives the same values but compiles
# numba helpers on its first call in a process (seconds to tens of seconds on a small CPU; one of them takes
# the link function as an argument, so numba's disk cache reloads it in no later process). Kernel keeps each
# coalition's copy of the background in memory at once, so it serves tables up to this many copied rows.
KERNEL_MAX_ROWS = 2 ** 19


def exact_engine(n_features: int, background_rows: int) -> str:
    """The shap explainer that computes exact Shapley values for a table: ``kernel`` (KernelExplainer over
    every coalition, no compiling) while its ``2**n_features * background_rows`` copied rows fit
    ``KERNEL_MAX_ROWS``, else ``exact`` (shap's Exact explainer)."""
    return "kernel" if 2 ** int(n_features) * int(background_rows) <= KERNEL_MAX_ROWS else "exact"


def kernel_exact(f: BatchedPredict, x: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Exact Shapley values ``(n, features, k)`` and base values ``(n, k)`` with shap's KernelExplainer over
    every coalition; None when shap sampled instead of enumerating them all (then they would not be exact)."""
    import shap

    explainer = shap.KernelExplainer(f, background)
    rows = []
    for i in range(len(x)):
        rows.append(np.asarray(explainer.shap_values(x[i:i + 1], nsamples=2 ** x.shape[1], l1_reg=False,
                                                     silent=True), dtype=np.float64).reshape(1, x.shape[1], -1))
        if explainer.M > 1 and explainer.nsamplesAdded != 2 ** explainer.M - 2:  # M: the features that vary
            return None
    base = np.asarray(explainer.expected_value, dtype=np.float64).reshape(1, -1)
    return np.concatenate(rows), np.repeat(base, len(x), axis=0)


def tabular_shap(f: BatchedPredict, x: np.ndarray, background: np.ndarray, plan: Plan, seed: int) -> RawShap:
    """Shapley values of every output for table rows ``x`` over ``background`` (model inputs)."""
    import shap

    if plan.algorithm == "exact" and exact_engine(x.shape[1], len(background)) == "kernel":
        found = kernel_exact(f, x, background)
        if found is not None:
            return RawShap(*found, None, plan.algorithm)
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


# Keras' TextVectorization strips these characters in its default standardisation (``DEFAULT_STRIP_REGEX``)
KERAS_STRIP = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'


class ModelWords:
    """A tokenizer for ``shap.maskers.Text`` that splits a text into words as the model's ``TextVectorization``
    does: whitespace-separated chunks, lower-cased and stripped of punctuation as its ``standardize`` says; a
    chunk with nothing left (a lone dash) is no word. Offsets point into the raw text, so a masked word is cut
    out of it, punctuation and all, and the model reads the rest exactly as it reads any text.
    ``mask_token`` is empty: a masked word is removed (as LIME removes words), not replaced by an unknown one."""

    mask_token = ""
    mask_token_id = -1

    def __init__(self, standardize: str | None = "lower_and_strip_punctuation") -> None:
        if standardize not in (None, "lower", "strip_punctuation", "lower_and_strip_punctuation"):
            from dlcore.errors import ExplainError

            raise ExplainError(f"SHAP for texts knows Keras' standard text cleaning, not {standardize!r}; use LIME")
        self.lower = standardize in ("lower", "lower_and_strip_punctuation")
        self.strip = standardize in ("strip_punctuation", "lower_and_strip_punctuation")

    def word(self, chunk: str) -> str:
        """The word the model reads for one whitespace-separated chunk ("" for none)."""
        import re

        chunk = chunk.lower() if self.lower else chunk
        return re.sub(KERAS_STRIP, "", chunk) if self.strip else chunk

    def __call__(self, s: str, return_offsets_mapping: bool = True) -> dict[str, list[Any]]:
        import re

        ids, offsets = [], []
        for m in re.finditer(r"\S+", str(s)):
            w = self.word(m.group())
            if w:
                ids.append(w)
                offsets.append(m.span())
        out: dict[str, list[Any]] = {"input_ids": ids}
        if return_offsets_mapping:
            out["offset_mapping"] = offsets
        return out


def model_words(model: Any) -> ModelWords:
    """The tokenizer of ``model``'s ``TextVectorization`` layer (its ``standardize``; only whitespace splits)."""
    from dlcore.errors import ExplainError

    layers = [la for la in getattr(model, "layers", []) if type(la).__name__ == "TextVectorization"]
    config = layers[0].get_config() if layers else {}
    if config.get("split", "whitespace") != "whitespace":
        raise ExplainError(f"SHAP for texts follows a model that splits words on whitespace; this one splits by "
                           f"{config['split']!r}: use LIME (--method lime)")
    return ModelWords(config.get("standardize", "lower_and_strip_punctuation"))


@dataclass(frozen=True)
class RawTextShap:
    """SHAP on texts in LIME's layout: the distinct ``words`` of all texts (as ``dlcore.explain.plan.TEXT_SPLIT``
    splits them, first appearance first), each text's word counts ``(n, words)``, values ``(n, words, k)`` (every
    output; 0 for a word a text lacks) and base values ``(n, k)``: the output with every word removed."""

    words: tuple[str, ...]
    counts: np.ndarray
    values: np.ndarray
    base_values: np.ndarray
    tokens: tuple[tuple[str, ...], ...]  # each text's words as the model reads them (the masker's features)


def _lime_words(segment: str) -> list[str]:
    import re

    from dlcore.explain.plan import TEXT_SPLIT

    return [w for w in re.split(TEXT_SPLIT, segment) if w]


def text_shap(f: BatchedPredict, texts: Any, plan: Plan, seed: int, tokenizer: ModelWords,
              progress: Progress | None = None) -> RawTextShap:
    """``shap.explainers.Partition`` over ``shap.maskers.Text(tokenizer)``, one text at a time (seeded: shap
    breaks ties in its queue with NumPy's global generator), each text's masked copies sent to ``f`` in one
    batch per level of the word tree. A model word holding several of LIME's words (``don't``: ``don``, ``t``)
    shares its value equally among them, so every text's values still add up to the same total."""
    import shap

    from dlcore.errors import ExplainError

    masker = shap.maskers.Text(tokenizer)
    explainer = shap.explainers.Partition(f, masker)
    found = []
    for i, text in enumerate(texts):
        spans = tokenizer(str(text))["offset_mapping"]
        if not spans:
            raise ExplainError(f"text {i} has no words to explain; give a text with words in it")
        with global_numpy_seed(seed + i):
            result = explainer([str(text)], max_evals=plan.samples, batch_size=max(plan.samples, 2), silent=True)
        values = np.asarray(result.values[0], dtype=np.float64).reshape(len(spans), -1)
        found.append((str(text), spans, values, np.asarray(result.base_values[0], dtype=np.float64).reshape(-1)))
        if progress is not None:
            progress((i + 1) / len(texts), f"SHAP (partition): {i + 1} of {len(texts)} text(s)")
    vocab: dict[str, int] = {}
    for text, *_ in found:
        for w in _lime_words(text):
            vocab.setdefault(w, len(vocab))
    k = found[0][2].shape[1]
    n = len(found)
    counts, out, base = np.zeros((n, len(vocab))), np.zeros((n, len(vocab), k)), np.zeros((n, k))
    tokens = []
    for i, (text, spans, values, b) in enumerate(found):
        for w in _lime_words(text):
            counts[i, vocab[w]] += 1
        for (start, end), v in zip(spans, values):
            parts = _lime_words(text[start:end])
            for w in parts:
                out[i, vocab[w]] += v / len(parts)
        base[i] = b
        tokens.append(tuple(tokenizer.word(text[s:e]) for s, e in spans))
    return RawTextShap(tuple(vocab), counts, out, base, tuple(tokens))
