"""One service for "explain this stored model on this input": the command line (``dlcore explain``), the
Explain page and the fine-tune page's before/after view all call it.

``cost(record, model, ds, x, request)`` says what ``explain_record`` with the same arguments will run, before
it runs (the page shows it first and waits for a click above a threshold); ``explain_record`` runs it and
returns the attribution, the same explanation with other seeds when the request asks for the stability check,
and the trust figures (``dlcore.explain.trust.assess``, with the data set's object masks when it has them).
Outputs are named by one rule, ``ModelMeta.output_names`` of the data set's class names. ``sample_counts``
describes the sample counts a data set's explanations offer, for a page to render as inputs.

Importing this module imports neither TensorFlow nor shap nor lime.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dlcore.errors import ExplainError
from dlcore.explain import estimate, explain
from dlcore.explain.attribution import Attribution
from dlcore.explain.batch import METHOD_LABELS
from dlcore.explain.plan import DEFAULTS, EXACT_MAX_FEATURES, BatchedPredict, Plan, Progress, is_text_model
from dlcore.explain.report import RANDOM_ORDERS, STEPS, TrustReport, check
from dlcore.explain.trust import Trust, assess, rerun_seeds
from dlcore.record import ModelMeta

RERUNS = 2  # the stability check explains again with seeds seed + 1 and seed + 2
COUNTS = ("background_size", "nsamples", "max_evals", "num_samples")  # the sample-count fields of a Request


@dataclass(frozen=True)
class Request:
    """What to explain and how.

    ``method``: ``shap`` or ``lime``; ``target``: ``"predicted"`` (each row's predicted class), ``"all"``
    (every output) or a class index; ``algorithm``: SHAP's (auto, exact, permutation, partition, gradient,
    deep). The sample counts (None: the defaults of ``dlcore.explain.plan.DEFAULTS``): ``background_size``
    (SHAP background rows), ``nsamples`` (gradient samples), ``max_evals`` (permutation, partition) and
    ``num_samples`` (LIME). ``stability``: also explain with ``RERUNS`` other seeds and compare the rankings.
    ``settings``: (name, value) options of the other methods (``ig``'s ``baseline`` and ``steps``, ``smoothgrad``'s
    ``noise`` and ``n_samples``, ``gradcam``'s ``layer``, ``occlusion``'s ``patch``), passed to ``explain``.
    """

    method: str = "shap"
    seed: int = 0
    target: str | int = "predicted"
    algorithm: str = "auto"
    background_size: int | None = None
    nsamples: int | None = None
    max_evals: int | None = None
    num_samples: int | None = None
    stability: bool = False
    settings: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.target, str) and self.target not in ("predicted", "all"):
            raise ExplainError(f"unknown target {self.target!r}; choose 'predicted', 'all' or a class index")

    @property
    def runs(self) -> int:
        """How many explanations it runs: one, or one per seed of the stability check."""
        return 1 + RERUNS if self.stability else 1

    def with_counts(self, counts: Mapping[str, int | None]) -> Request:
        """This request with the sample counts ``counts`` names (``SampleCount.option`` -> value)."""
        unknown = set(counts) - set(COUNTS)
        if unknown:
            raise ExplainError(f"unknown sample count(s) {', '.join(sorted(unknown))}; use {', '.join(COUNTS)}")
        return replace(self, **{k: None if v is None else int(v) for k, v in counts.items()})

    def options(self) -> dict[str, Any]:
        """The ``explain`` options it sets (the method's own sample counts; unset ones left to the defaults)."""
        out: dict[str, Any] = {"target": self.target}
        if self.method == "shap":
            out["algorithm"] = self.algorithm
            names: tuple[str, ...] = ("background_size", "nsamples", "max_evals")
        elif self.method == "lime":
            names = ("background_size", "num_samples")
        else:
            names = ()
        out.update({k: getattr(self, k) for k in names if getattr(self, k) is not None})
        out.update(dict(self.settings))
        return out


@dataclass(frozen=True)
class Cost:
    """What an explanation will run, before it runs: the plan of one run and how many runs there are."""

    plan: Plan
    runs: int = 1

    @property
    def model_rows(self) -> int:
        """Model evaluations (rows) all runs need together."""
        return self.plan.model_rows * self.runs

    def describe(self) -> str:
        """One sentence for people, shown before running."""
        again = f" (x{self.runs} for the stability check)" if self.runs > 1 else ""
        return self.plan.describe() + again


@dataclass(frozen=True, eq=False)
class Result:
    """An explanation of a stored model: the attribution, its reruns with other seeds (empty without the
    stability check), its trust figures for each row's target class, and what it cost."""

    attribution: Attribution
    reruns: tuple[Attribution, ...]
    trust: Trust
    cost: Cost
    masks: np.ndarray | None = None

    def trust_for(self, cls: int | None = None) -> Trust:
        """The trust figures for class ``cls`` (None: each row's target)."""
        return assess(self.attribution, cls, self.reruns, self.masks)


@dataclass(frozen=True)
class SampleCount:
    """One sample count a data set's explanations offer: the ``Request`` field it sets (``option``), for which
    method, how it reads for people, its bounds, its default and a step."""

    method: str
    option: str
    label: str
    low: int
    high: int
    default: int
    step: int
    help: str = ""


def meta_of(record: ModelMeta | Any) -> ModelMeta:
    """The typed record of ``record``: a ``ModelMeta``, or the store's ``ModelRecord`` holding one."""
    meta = record if isinstance(record, ModelMeta) else getattr(record, "meta", None)
    if not isinstance(meta, ModelMeta):
        raise TypeError(f"expected a ModelMeta or a ModelRecord, got {type(record).__name__}")
    return meta


def refuse_generative(record: ModelMeta | Any) -> None:
    """Refuse a VAE or GAN (it draws images and predicts nothing), saying what to do instead."""
    meta = meta_of(record)
    if meta.generative:
        model_id = getattr(record, "model_id", "") or meta.model_id or "?"
        raise ExplainError(f"model {model_id} is a {meta.arch.upper()}: it draws images and makes no predictions to "
                           "explain; give --model a classifier or regressor (`python -m dlcore models`), or sample "
                           f"it with `python -m dlcore sample --model {model_id} --out FILE.png`")


def training_data(record: ModelMeta | Any, data: str | None = None) -> Any:
    """The data set to explain a stored model with: the one it was trained on, split as in training; for a
    model imported without one, the data set ``data`` names, checked to fit it (``ModelMeta.training_dataset``)."""
    refuse_generative(record)
    return meta_of(record).training_dataset(data)


def explain_options(record: ModelMeta | Any, ds: Any, request: Request) -> dict[str, Any]:
    """The ``explain`` options of ``request`` on data set ``ds``: its feature names, and outputs named by
    ``ModelMeta.output_names`` (the model's own names when it has as many as the data set's classes)."""
    names = meta_of(record).output_names(tuple(ds.class_names or ()))
    return {**request.options(), "feature_names": ds.feature_names, "class_names": names}


def cost(record: ModelMeta | Any, model: Any, ds: Any, x: Any, request: Request) -> Cost:
    """What ``explain_record`` with these arguments will run, and how many model evaluations it needs."""
    refuse_generative(record)
    options = explain_options(record, ds, request)
    return Cost(estimate(model, x, request.method, ds.x_train, **options), request.runs)


def explain_record(record: ModelMeta | Any, model: Any, ds: Any, x: Any, request: Request, *,
                   rows: Sequence[int] | None = None, progress: Progress | None = None) -> Result:
    """Explain ``model`` (the stored model ``record`` describes) on inputs ``x`` against ``ds``'s training rows.

    Args:
        record: the model's ``ModelMeta`` or its ``ModelRecord``.
        model: the loaded Keras model.
        ds: the data set to explain it with (``training_data``): background rows, feature and class names.
        x: model inputs, batch first (texts for a text model).
        request: method, seed, target, algorithm, sample counts and the stability check.
        rows: the validation rows ``x`` holds, if it holds some: their object masks, where ``ds`` has them,
            go into the trust figures.
        progress: a callable ``(fraction, text)`` called as the explanations run, up to 1.0 at the end.

    Returns:
        A ``Result``.
    """
    plan = cost(record, model, ds, x, request)
    options = explain_options(record, ds, request)
    runs = request.runs
    first = None if progress is None else (lambda f, text: progress(f / runs, text))
    attr = explain(model, x, request.method, ds.x_train, seed=request.seed, progress=first, **options)
    reruns: list[Attribution] = []
    if request.stability:
        later = None if progress is None else (
            lambda f, text: progress((1 + (runs - 1) * f) / runs, f"stability check, {text}"))
        reruns = rerun_seeds(model, x, attr, ds.x_train, extra=RERUNS, progress=later, **options)
    masks = None
    if rows is not None and getattr(ds, "masks_val", None) is not None:
        masks = ds.masks_val[np.asarray(rows, dtype=int)]
    return Result(attr, tuple(reruns), assess(attr, None, reruns, masks), plan, masks)


@dataclass(frozen=True)
class TrustCost:
    """What ``trust_record`` will run, before it runs: explanations of randomised copies (one per weighted
    layer), the other methods' explanations, and the faithfulness curves' model rows."""

    layers: int
    explanation_rows: int
    others: tuple[tuple[str, int], ...]
    curve_rows: int
    repeats: int = 1

    @property
    def copies(self) -> int:
        """Randomised copies explained: one per weighted layer, times the repeats of a small explanation."""
        return self.layers * self.repeats

    @property
    def model_rows(self) -> int:
        return self.copies * self.explanation_rows + sum(n for _, n in self.others) + self.curve_rows

    def describe(self) -> str:
        others = "".join(f", {name.upper()} once to compare ({n:,} rows)" for name, n in self.others)
        again = (f"the explanation again on {self.copies} randomised cop{'y' if self.copies == 1 else 'ies'} of the "
                 f"model ({self.explanation_rows:,} rows each), " if self.copies else "")
        return (f"trust checks: about {self.model_rows:,} model evaluations: {again}deletion and insertion curves "
                f"({self.curve_rows:,} rows){others}")


LABELS = METHOD_LABELS


def applicable_methods(model: Any) -> dict[str, str]:
    """Every method, in ``dlcore.explain.METHODS`` order, with ``""`` when it applies to ``model`` or the
    one-line reason it does not (a text model takes strings, Grad-CAM needs a convolutional layer, attention
    maps need attention layers)."""
    from dlcore.explain import METHODS

    out = {}
    text = is_text_model(model)
    for method in METHODS:
        reason = ""
        if text and method in ("ig", "smoothgrad", "gradcam"):
            reason = "gradients need numbers in; a text model takes strings: use occlusion or lime"
        elif method == "gradcam":
            reason = _refusal(lambda: _conv(model))
        elif method == "attention":
            reason = _refusal(lambda: _attention(model))
        out[method] = reason
    return out


def _conv(model: Any) -> None:
    from dlcore.explain.gradients import conv_layer

    conv_layer(model)


def _attention(model: Any) -> None:
    from dlcore.explain.attention import attention_layers

    attention_layers(model)


def _refusal(check: Any) -> str:
    """``""`` when ``check()`` passes, else its ``ExplainError`` message."""
    try:
        check()
    except ExplainError as exc:
        return str(exc)
    return ""


def other_methods(model: Any, method: str) -> tuple[tuple[str, ...], str]:
    """The methods an explanation made with ``method`` is compared with when no other was made: LIME for
    SHAP, SHAP for the others (texts too); and why none is left ("")."""
    return ("lime" if method == "shap" else "shap",), ""


def _curve_rows(ds: Any, x: Any, model: Any) -> int:
    """Model rows of a deletion and an insertion curve of one input."""
    fill = 1
    if not is_text_model(model) and np.ndim(x) == 2:  # a table: removed features take up to 50 background rows
        from dlcore.explain.faithfulness import MAX_BACKGROUND_ROWS

        fill = min(MAX_BACKGROUND_ROWS, len(ds.x_train))
    return 2 * STEPS * (1 + RANDOM_ORDERS) * fill


def trust_cost(record: ModelMeta | Any, model: Any, ds: Any, x: Any, request: Request, *,
               compare: bool = True, randomise: bool = True) -> TrustCost:
    """What ``trust_record`` on one input ``x`` (batch of one) will run."""
    from dlcore.explain.randomisation import repeats_for, weighted_layers

    one = cost(record, model, ds, x, replace(request, stability=False))
    others = []
    if compare:
        for name in other_methods(model, request.method)[0]:
            others.append((name, cost(record, model, ds, x, Request(name, seed=request.seed)).model_rows))
    layers = len(weighted_layers(model)) if randomise else 0
    return TrustCost(layers, one.model_rows, tuple(others), _curve_rows(ds, x, model), repeats_for(_n_values(model, x)))


def _n_values(model: Any, x: Any) -> int:
    """How many values an explanation of the one input ``x`` has: a text's distinct words, else its size."""
    if is_text_model(model):
        import re

        from dlcore.explain.plan import TEXT_SPLIT

        return len({w for w in re.split(TEXT_SPLIT, str(np.ravel(np.asarray(x, dtype=object))[0])) if w})
    return int(np.prod(np.shape(x)[1:]))


def trust_record(record: ModelMeta | Any, model: Any, ds: Any, x: Any, result: Result, request: Request, *,
                 row: int = 0, cls: int | None = None, compare: bool = True, randomise: bool = True,
                 others: Mapping[str, Attribution] | None = None, baseline: str | None = None,
                 progress: Progress | None = None) -> TrustReport:
    """Every trust figure of row ``row`` of ``result`` (made by ``explain_record`` on ``x`` with ``request``)
    and the verdict: faithfulness curves, randomisation (the same method and settings on re-initialised
    copies), agreement with the other method, stability and spread of the seed reruns, ground truth (the
    data set's object masks or known causes).

    Args:
        record, model, ds, x, request: as given to ``explain_record``.
        result: what ``explain_record`` returned.
        row: the row of ``x`` to check; cls: its class (default: the row's target).
        compare: explain the row with the other method too and measure the agreement.
        randomise: run the randomisation check (the costliest part: one explanation per weighted layer).
        others: explanations of the same row by other methods, by name (e.g. ``{"LIME": ...}``), used
            instead of explaining again; each must hold class ``cls``.
        baseline: images: what removed pixels become in the faithfulness curves, ``blur`` (default) or
            ``black``.
        progress: ``(fraction, text)`` as the checks run.
    """
    attr = result.attribution
    cls = int(attr.targets[row]) if cls is None else int(cls)
    options = {**explain_options(record, ds, request), "target": cls}
    one_x = attr.texts[row] if attr.texts else np.asarray(x)[row:row + 1]
    report: Progress = progress or (lambda f, text: None)
    skipped: dict[str, str] = {}
    found = dict(others or {})
    if compare and not found:
        names, why = other_methods(model, request.method)
        if why:
            skipped["agreement"] = why
        for name in names:
            other = Request(name, seed=request.seed, target=cls)
            report(0.0, f"explaining with {name.upper()} to compare")
            found[METHOD_LABELS[name]] = explain(model, one_x, name, ds.x_train, seed=request.seed,
                                          **{**explain_options(record, ds, other), "target": cls})
    elif not compare and not found:
        skipped["agreement"] = "not asked for"
    if not randomise:
        skipped["randomisation"] = "not asked for"

    def explain_fn(m: Any, rows: Any) -> np.ndarray:
        return explain(m, rows, request.method, ds.x_train, seed=request.seed, **options).row(0).class_values(cls)

    mask = None if result.masks is None else result.masks[row]
    later = None if progress is None else (lambda f, text: progress(0.2 + 0.8 * f, text))
    return check(model, attr, row=row, cls=cls, background=ds.x_train, reruns=result.reruns, others=found,
                 explain_fn=explain_fn if randomise else None, baseline=baseline, mask=mask,
                 causes=tuple(getattr(ds, "causes", ())), seed=request.seed, not_applicable=skipped, progress=later)


def predictions(model: Any, x: Any) -> np.ndarray:
    """The model's outputs for inputs ``x``, ``(n, n_outputs)``, on its compiled predict step."""
    return BatchedPredict(model)(x)


def true_label(ds: Any, index: int) -> str | float:
    """Validation row ``index``'s true value: its class name, or the number for a regression."""
    y = ds.y_val[int(index)]
    return str(ds.class_names[int(y)]) if ds.class_names else float(y)


def sample_counts(modality: str, n_features: int) -> tuple[SampleCount, ...]:
    """The sample counts offered for explanations of a data set of ``modality`` with ``n_features`` features,
    starting at shap's and lime's defaults: more for closer estimates, fewer for speed.

    Tables: SHAP's background rows, the permutation explainer's evaluations per row (only above
    ``EXACT_MAX_FEATURES``, where it replaces exact enumeration; at least ``2 * features + 1``), LIME's
    perturbed rows. Texts: SHAP's evaluations per text (Partition) and LIME's copies with words removed. Images
    and sequences:
    SHAP's gradient samples and LIME's perturbed inputs.
    """
    if modality == "text":
        return (SampleCount("shap", "max_evals", "SHAP: copies of the text with words removed (partition)", 20,
                            20_000, DEFAULTS["max_evals"], 100, "at most this many per text; a text of M words "
                            "needs at most M * (M - 1) + 2"),
                SampleCount("lime", "num_samples", "LIME: copies of the text with words removed", 500, 50_000,
                            DEFAULTS["lime_text_samples"], 500),)
    if modality == "tabular":
        counts = [SampleCount("shap", "background_size", "SHAP: background rows", 10, 1000,
                              DEFAULTS["background_size"], 10,
                              "the rows expectations are taken over (a seeded sample of the training rows)")]
        if n_features > EXACT_MAX_FEATURES:
            low = 2 * int(n_features) + 1
            counts.append(SampleCount("shap", "max_evals", "SHAP: model evaluations per row (permutation)", low,
                                      100_000, max(DEFAULTS["max_evals"], low), 100))
        counts.append(SampleCount("lime", "num_samples", "LIME: perturbed rows", 500, 50_000,
                                  DEFAULTS["lime_tabular_samples"], 500))
        return tuple(counts)
    return (SampleCount("shap", "nsamples", "SHAP: gradient samples per class", 20, 5000, DEFAULTS["nsamples"], 100,
                        "interpolation points between the input and background rows"),
            SampleCount("lime", "num_samples", "LIME: perturbed inputs", 100, 20_000, DEFAULTS["lime_image_samples"],
                        100))


__all__ = ["LABELS", "RERUNS", "Cost", "Request", "Result", "SampleCount", "TrustCost", "applicable_methods", "cost",
           "explain_options", "explain_record", "meta_of", "other_methods", "predictions", "refuse_generative",
           "sample_counts", "training_data", "true_label", "trust_cost", "trust_record"]
