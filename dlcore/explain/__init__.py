"""Explanations: ``explain(model, x, method="shap"|"lime"|..., background=None, seed=0, **options) -> Attribution``.

``x`` and ``background`` are model inputs (after preprocessing), batch first; one input without the
batch axis is accepted too. Tables (``(n, features)``) get exact Shapley values up to 15 features (shap's
KernelExplainer over every coalition for small tables, its Exact explainer for larger ones:
``shap_explainer.exact_engine``) and the Permutation explainer above; images get ``GradientExplainer``.
LIME uses the lime library with a fast ``predict_fn``; text models (strings in) get SHAP (shap's Partition
explainer over ``shap.maskers.Text`` with the model's own word splitting), LIME and occlusion, each text's
words being its features.
``ig``, ``smoothgrad`` and ``gradcam`` (``dlcore.explain.gradients``), ``occlusion`` (``dlcore.explain.occlusion``)
and ``attention`` (``dlcore.explain.attention``) are dispatched to their modules.
``dlcore.explain.service`` explains a stored model (its record, data set and trust figures) with these.
Importing this package imports neither TensorFlow nor shap nor lime.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcore.errors import ExplainError
from dlcore.explain.attribution import Attribution
from dlcore.explain.batch import as_batch, class_names_for, feature_names_for, targets_for
from dlcore.explain.plan import (
    DEFAULTS,
    GRADIENT_METHODS,
    BatchedPredict,
    Plan,
    Progress,
    is_text_model,
    make_plan,
    method_plan,
    summarize_background,
    text_occlusion_plan,
    text_plan,
    text_shap_plan,
)

METHODS = ("shap", "lime", "ig", "smoothgrad", "gradcam", "occlusion", "attention")


def _as_texts(x: Any) -> np.ndarray:
    """One text or a batch of texts as a 1-D object array of strings."""
    texts = np.asarray(x, dtype=object).reshape(-1)
    if len(texts) == 0 or not all(isinstance(t, str) for t in texts):
        raise ExplainError("a text model explains texts: pass one string or a list of strings")
    return texts


def _check_method(model: Any, method: str) -> None:
    if method not in METHODS:
        raise ExplainError(f"unknown method {method!r}; choose shap or lime, or one of {', '.join(METHODS[2:])}")
    if method == "attention":
        import importlib.util

        if importlib.util.find_spec("dlcore.explain.attention") is None:
            raise ExplainError("the attention method is not available in this version; use ig, occlusion or shap")
    if method in GRADIENT_METHODS and is_text_model(model):
        raise ExplainError(f"{method} needs gradients, which texts (strings) do not have; use occlusion or lime")


def estimate(model: Any, x: Any, method: str = "shap", background: Any = None, **options: Any) -> Plan:
    """What ``explain`` with the same arguments will run, and how many model evaluations it needs."""
    n_outputs = int(np.prod(model.output_shape[1:])) if hasattr(model, "output_shape") else 0
    _check_method(model, method)
    if method == "attention":
        from dlcore.explain.attention import attention_plan

        return attention_plan(model, x, **options)
    if is_text_model(model):
        if method == "occlusion":
            return text_occlusion_plan(_as_texts(x), n_outputs, options.get("target", "predicted"))
        if method == "shap":
            return _text_shap_plan(model, _as_texts(x), n_outputs, options)
        return text_plan(_as_texts(x), n_outputs, options.get("target", "predicted"), options.get("num_samples"))
    x = as_batch(model, x)
    if method in (*GRADIENT_METHODS, "occlusion"):
        return _method_plan(model, x, method, n_outputs, background, options)
    return make_plan(x, method, n_outputs, None if background is None else np.asarray(background), **options)


def _text_shap_plan(model: Any, texts: np.ndarray, n_outputs: int, options: dict[str, Any]) -> Plan:
    from dlcore.explain.shap_explainer import model_words

    words = model_words(model)
    return text_shap_plan(texts, n_outputs, options.get("target", "predicted"), options.get("max_evals"),
                          lambda t: len(words(t)["input_ids"]))


def _method_plan(model: Any, x: np.ndarray, method: str, n_outputs: int, background: Any,
                 options: dict[str, Any]) -> Plan:
    """The plan of ig, smoothgrad, gradcam or occlusion (Grad-CAM's layer is looked up, so a wrong name fails here)."""
    given = {key: v for key, v in options.items() if key not in ("progress", "layer")}
    layer = None
    if method == "gradcam":
        from dlcore.explain.gradients import conv_layer

        layer = conv_layer(model, options.get("layer")).name
    bg = None if background is None else as_batch(model, background)
    return method_plan(x, method, n_outputs, bg, **given, layer=layer)


def explain(model: Any, x: Any, method: str = "shap", background: Any = None, seed: int = 0,
            **options: Any) -> Attribution:
    """Explain ``model`` on inputs ``x`` with SHAP, LIME, Integrated Gradients, SmoothGrad, Grad-CAM, occlusion
    or attention.

    Args:
        model: a Keras model (classifiers output probabilities; regressors one value).
        x: model inputs, ``(n, *input_shape)`` or one input ``input_shape``; for a text model, a string or
            a list of strings (SHAP, LIME, occlusion).
        method: ``shap``, ``lime``, ``ig``, ``smoothgrad``, ``gradcam``, ``occlusion`` or ``attention``.
        background: model inputs the explanation compares against (training rows): needed by SHAP and by
            LIME on tables; summarised to ``background_size`` rows with a seeded sample.
        seed: every random choice (background sample, permutations, LIME's perturbations) follows it.
        **options: ``target`` ("predicted", "all" or a class index), ``algorithm`` (SHAP: auto, exact,
            permutation, partition, gradient, deep), ``background_size``, ``nsamples`` (gradient),
            ``max_evals`` (permutation, partition), ``num_samples`` (LIME), ``segmentation`` ("grid" or
            "slic"), ``cell``, ``hide_color``, ``feature_names``, ``class_names``, ``progress``
            (a callable ``(fraction, text)``); ig: ``baseline`` ("black", "blur", "mean", "noise" or an
            array), ``steps`` (64), ``blur_sigma``; smoothgrad: ``n_samples`` (50), ``noise`` (0.15),
            ``over`` ("ig" for SmoothGrad-IG, with ig's options); gradcam: ``layer`` (default: the last
            convolutional layer); occlusion: ``patch``, ``stride``, ``baseline`` (images and sequences),
            ``background_size`` (tables).

    Returns:
        An ``Attribution``.
    """
    _check_method(model, method)
    t0 = time.perf_counter()
    if method == "attention":
        from dlcore.explain.attention import explain_attention

        return explain_attention(model, x, seed=seed, **options)
    if method == "occlusion":
        from dlcore.explain.occlusion import explain_occlusion, explain_text_occlusion

        if is_text_model(model):
            return explain_text_occlusion(model, _as_texts(x), seed, options)
        return explain_occlusion(model, x, background, seed, options)
    if method in GRADIENT_METHODS:
        from dlcore.explain.gradients import explain_gradients

        return explain_gradients(model, x, method, background, seed, options)
    if is_text_model(model):
        if method == "shap":
            return _explain_text_shap(model, _as_texts(x), seed, options, t0)
        return _explain_text(model, _as_texts(x), seed, options, t0)
    x = as_batch(model, x)
    target = options.get("target", "predicted")
    progress: Progress | None = options.get("progress")
    bg, notes = _background(model, background, method, x, seed, options.get("background_size"))
    predictions = BatchedPredict(model)(x)
    k = predictions.shape[1]
    given = {key: v for key, v in options.items() if key not in ("progress", "background_size")}
    plan = make_plan(x, method, k, bg, **given, background_size=None if bg is None else len(bg))
    targets = targets_for(target, predictions)
    f = BatchedPredict(model, progress, plan.model_rows, channels=x.shape[-1] if x.ndim == 4 else None,
                       label=f"{method.upper()} ({plan.algorithm})")
    names = feature_names_for(options.get("feature_names"), x)
    if method == "shap":
        fields = _shap(model, f, x, bg, plan, seed, targets, target == "all", progress)
    else:
        fields = _lime(f, x, bg, plan, seed, targets, target == "all", names, k, options)
    if progress is not None:
        progress(1.0, f"{method.upper()} done")
    scale = np.concatenate([predictions, BatchedPredict(model)(bg)]) if bg is not None else predictions
    if method == "lime" and x.ndim == 3:
        bg = None  # the fill row is no background sample to report
    return Attribution(inputs=x, predictions=predictions, targets=targets, method=method, seed=int(seed),
                       seconds=time.perf_counter() - t0, feature_names=names,
                       class_names=class_names_for(options.get("class_names"), k), background_size=plan.background_size,
                       samples=plan.samples, model_rows=f.rows, output_range=float(np.ptp(scale, axis=0).max()) or 1.0,
                       notes=(*notes, *fields.pop("notes", ())), **fields)


def _background(model: Any, background: Any, method: str, x: np.ndarray, seed: int,
                size: int | None) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """The background rows summarised to ``size`` (a seeded sample), and a note saying so."""
    if method == "lime" and x.ndim == 3:  # LIME on sequences: a switched-off step takes the training mean
        if background is None:
            raise ExplainError("LIME on sequences needs background rows (their mean fills switched-off steps); "
                               "pass background= (e.g. training rows)")
        return as_batch(model, background).mean(axis=0, keepdims=True), ()
    if method == "lime" and x.ndim != 2:
        return None, ()  # LIME on images perturbs the image itself
    if background is None:
        raise ExplainError(f"{method.upper()} on this input needs background rows; "
                           "pass background= (e.g. training rows)")
    full = as_batch(model, background)
    size = int(size or DEFAULTS["background_size" if method == "shap" else "lime_background_size"])
    bg = summarize_background(full, size, seed)
    if len(bg) < len(full):
        return bg, (f"background: a seeded sample of {len(bg)} of {len(full)} rows",)
    return bg, ()


def _shap(model: Any, f: BatchedPredict, x: np.ndarray, bg: np.ndarray, plan: Plan, seed: int,
          targets: np.ndarray, all_outputs: bool, progress: Progress | None) -> dict[str, Any]:
    from dlcore.explain import shap_explainer as se

    if plan.algorithm in ("exact", "permutation", "partition"):
        raw = se.tabular_shap(f, x, bg, plan, seed)
    elif plan.algorithm == "deep":
        raw = se.deep_shap(model, x, bg, plan, seed, None if all_outputs else targets, progress)
    else:
        raw = se.gradient_shap(model, x, bg, plan, seed, None if all_outputs else targets, progress)
        f.rows += len(x) * plan.samples * raw.values.shape[-1]  # gradient evaluations run inside shap
    values, base = raw.values, raw.base_values
    if raw.outputs is not None or not all_outputs:  # one class per row
        if raw.outputs is None:
            values = np.stack([values[i, ..., t] for i, t in enumerate(targets)])
            base = base[np.arange(len(x)), targets]
        else:
            values, base = values[..., 0], base[:, 0]
    return {"values": values, "base_values": base, "algorithm": raw.algorithm, "notes": raw.notes}


def _lime(f: BatchedPredict, x: np.ndarray, bg: np.ndarray | None, plan: Plan, seed: int, targets: np.ndarray,
          all_outputs: bool, names: tuple[str, ...], k: int, options: dict[str, Any]) -> dict[str, Any]:
    from dlcore.explain import lime_explainer as le

    if x.ndim == 2:
        raw = le.tabular_lime(f, x, bg, plan, seed, targets, k, regression=k == 1, feature_names=names)
    elif x.ndim == 3:
        raw = le.sequence_lime(f, x, bg[0], plan, seed, targets, k)
    else:
        raw = le.image_lime(f, x, plan, seed, targets, k, options.get("segmentation", "grid"), options.get("cell"),
                            int(options.get("n_segments", 50)), options.get("hide_color", 0.0))
    values, base = _per_target(raw.values, raw.intercepts, targets, all_outputs)
    return {"values": values, "base_values": base, "algorithm": plan.algorithm, "segments": raw.segments,
            "local_fit": raw.local_fit, "local_pred": raw.local_pred, "rules": raw.rules}


def _per_target(values: np.ndarray, base: np.ndarray, targets: np.ndarray,
                all_outputs: bool) -> tuple[np.ndarray, np.ndarray]:
    """Every output's values and intercepts, or each row's target class only."""
    if all_outputs:
        return values, base
    return np.stack([values[i, ..., t] for i, t in enumerate(targets)]), base[np.arange(len(targets)), targets]


def _explain_text(model: Any, texts: np.ndarray, seed: int, options: dict[str, Any], t0: float) -> Attribution:
    """LIME on a text model: each text's words are its features (``Attribution.inputs`` holds their counts)."""
    from dlcore.explain import lime_explainer as le

    target, progress = options.get("target", "predicted"), options.get("progress")
    predictions = BatchedPredict(model)(texts)
    k = predictions.shape[1]
    plan = text_plan(texts, k, target, options.get("num_samples"))
    targets = targets_for(target, predictions)
    f = BatchedPredict(model, progress, plan.model_rows, label="LIME (lime-text)")
    raw = le.text_lime(f, texts, plan, seed, targets, k)
    values, base = _per_target(raw.values, raw.intercepts, targets, target == "all")
    if progress is not None:
        progress(1.0, "LIME done")
    return Attribution(values=values, base_values=base, inputs=raw.counts, predictions=predictions, targets=targets,
                       method="lime", algorithm="lime-text", seed=int(seed), seconds=time.perf_counter() - t0,
                       feature_names=raw.words, class_names=class_names_for(options.get("class_names"), k),
                       samples=plan.samples, model_rows=f.rows, local_fit=raw.local_fit, local_pred=raw.local_pred,
                       texts=tuple(str(t) for t in texts))


def _explain_text_shap(model: Any, texts: np.ndarray, seed: int, options: dict[str, Any], t0: float) -> Attribution:
    """SHAP on a text model (Partition over the model's words), in LIME's layout: one value per distinct word."""
    from dlcore.explain import shap_explainer as se

    target, progress = options.get("target", "predicted"), options.get("progress")
    predictions = BatchedPredict(model)(texts)
    k = predictions.shape[1]
    plan = _text_shap_plan(model, texts, k, options)
    targets = targets_for(target, predictions)
    f = BatchedPredict(model, progress, plan.model_rows, label="SHAP (partition)")
    raw = se.text_shap(f, texts, plan, seed, se.model_words(model), progress)
    values, base = _per_target(raw.values, raw.base_values, targets, target == "all")
    if progress is not None:
        progress(1.0, "SHAP done")
    return Attribution(values=values, base_values=base, inputs=raw.counts, predictions=predictions, targets=targets,
                       method="shap", algorithm="partition-text", seed=int(seed), seconds=time.perf_counter() - t0,
                       feature_names=raw.words, class_names=class_names_for(options.get("class_names"), k),
                       samples=plan.samples, model_rows=f.rows + len(texts), texts=tuple(str(t) for t in texts),
                       notes=("words masked as the model splits them (removed, not replaced); a word's values "
                              "are summed over its occurrences",))


@dataclass(frozen=True)
class WarmUp:
    """What ``warm_up`` spent: seconds importing the explainers' libraries, and compiling shap's numba helpers
    (0 when not asked to)."""

    import_seconds: float
    compile_seconds: float


def warm_up(compile: bool = True) -> WarmUp:
    """Import shap and lime, then (``compile``) compile shap's numba helpers on tiny problems, in this process.

    Exact SHAP of a small table compiles nothing (``shap_explainer.exact_engine``), but larger tables (shap's
    Exact and Permutation explainers) and texts (Partition over words) compile numba helpers on first use,
    seconds to tens of seconds on a small CPU, and numba's disk cache cannot keep the one that takes the link
    function as an argument. A server calls this once in a background thread; it never imports TensorFlow.
    """
    t0 = time.perf_counter()
    import lime.lime_tabular  # noqa: F401  (imported for its import time only)
    import shap

    imported = time.perf_counter()
    if compile:
        _compile_shap(shap)
    return WarmUp(imported - t0, time.perf_counter() - imported if compile else 0.0)


def _compile_shap(shap: Any) -> None:
    """Run shap's Exact explainer on a table and its Partition explainer on a text, both tiny."""
    background = np.linspace(0.0, 1.0, 12, dtype=np.float32).reshape(4, 3)

    def f(x: np.ndarray) -> np.ndarray:
        return np.stack([x.sum(axis=1), -x.sum(axis=1)], axis=1).astype(np.float64)

    masker = shap.maskers.Independent(background, max_samples=len(background))
    shap.explainers.Exact(f, masker)(background[:1], silent=True)
    from dlcore.explain.shap_explainer import ModelWords

    def g(texts: np.ndarray) -> np.ndarray:  # SHAP for texts: the Partition explainer's word tree compiles too
        return np.array([[len(str(t))] for t in texts], dtype=np.float64)

    shap.explainers.Partition(g, shap.maskers.Text(ModelWords()))(["a b c d"], max_evals=20, silent=True)


__all__ = ["METHODS", "Attribution", "Plan", "WarmUp", "estimate", "explain", "warm_up"]
