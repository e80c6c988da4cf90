"""Every trust figure of one explained row, and the verdict: ``check(model, attribution, row=...)``.

It runs, for the row's class: the deletion and insertion curves against random orders
(``dlcore.explain.faithfulness``), the cascading randomisation check with ``explain_fn``
(``dlcore.explain.randomisation``), the agreement of the other methods' explanations of the same row and
class (``dlcore.explain.agreement``), the stability and per-value spread of the seed reruns, the share on
the ground truth when it is known (``dlcore.explain.ground_truth``), and ``dlcore.explain.verdict.verdict``.
A check that does not apply is skipped with its one-line reason (``not_applicable``), never silently.
``dlcore.explain.service.trust_record`` calls it for a stored model. Importing it imports no TensorFlow.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcore.errors import ExplainError
from dlcore.explain.agreement import AgreementMatrix, agreement_matrix
from dlcore.explain.attribution import Attribution
from dlcore.explain.batch import METHOD_LABELS
from dlcore.explain.faithfulness import Faithfulness, deletion, insertion
from dlcore.explain.plan import Progress
from dlcore.explain.randomisation import ExplainFn, Randomisation, randomisation
from dlcore.explain.verdict import Verdict, verdict
from dlcore.workspace import finite

STEPS = 20
RANDOM_ORDERS = 20  # a random order beats all of them one time in 21


@dataclass(frozen=True, eq=False)
class TrustReport:
    """The trust figures of row ``row`` of an explanation, for class ``cls``, and the verdict.

    ``spread``: the standard deviation of each value across the seed reruns, shaped like the row's values
    (None without reruns); ``others``: the other methods' explanations the agreement compared (one row each);
    ``not_applicable``: (check, reason) for each check that was not run; ``model_rows``: model evaluations of
    the curves (the randomisation and agreement explanations count their own in their ``Attribution``);
    ``seconds``: wall time of the checks.
    """

    row: int
    cls: int
    class_name: str
    method: str
    verdict: Verdict
    deletion: Faithfulness | None = None
    insertion: Faithfulness | None = None
    randomisation: Randomisation | None = None
    agreement: AgreementMatrix | None = None
    others: tuple[Attribution, ...] = ()
    stability: float | None = None
    spread: np.ndarray | None = None
    ground_truth: Any = None
    not_applicable: tuple[tuple[str, str], ...] = ()
    model_rows: int = 0
    seconds: float = 0.0

    def agreement_figure(self) -> float | None:
        """The rank correlation of this method with the first other one (None without agreement)."""
        return None if self.agreement is None else float(self.agreement.rho[0, 1])

    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON: the keys of ``python -m dlcore trust --json`` (DESIGN's contract) and the
        detail behind them (curves, per-layer correlations, the agreement matrix, the findings)."""
        d, i, r = self.deletion, self.insertion, self.randomisation
        out: dict[str, Any] = {
            "verdict": self.verdict.level, "reasons": list(self.verdict.reasons),
            "deletion_auc": None if d is None else d.auc, "deletion_random_auc": None if d is None else d.random_auc,
            "insertion_auc": None if i is None else i.auc,
            "insertion_random_auc": None if i is None else i.random_auc,
            "randomisation": None if r is None else list(r.decisive),
            "randomisation_pass": None if r is None else r.passes,
            "agreement": self.agreement_figure(), "stability": self.stability,
            "row": self.row, "class": self.class_name, "class_index": self.cls, "method": self.method,
            "findings": self.verdict.to_dict()["findings"],
            "not_applicable": dict(self.not_applicable),
            "deletion": None if d is None else d.to_dict(), "insertion": None if i is None else i.to_dict(),
            "randomisation_detail": None if r is None else r.to_dict(),
            "agreement_matrix": None if self.agreement is None else self.agreement.to_dict(),
            "model_rows": self.model_rows, "seconds": round(self.seconds, 3),
        }
        if self.ground_truth is not None:
            out["ground_truth"] = self.ground_truth.to_dict()
        return finite(out)

    def rows(self) -> list[dict[str, str]]:
        """One row per finding, for a table or a CSV: check, status, what it says."""
        return [{"check": f.check, "status": f.status, "finding": f.text} for f in self.verdict.findings]


def _row_input(attr: Attribution, row: int) -> Any:
    """The model input of ``row``: its text, or the input with a batch axis."""
    return attr.texts[row] if attr.texts else attr.inputs[row:row + 1]


def _faithfulness(model: Any, one: Attribution, x: Any, cls: int, background: Any, baseline: Any, seed: int,
                  skipped: dict[str, str]) -> tuple[Faithfulness | None, Faithfulness | None, int]:
    """Deletion and insertion of the row, or the reason they do not apply."""
    if one.n_outputs < 1:
        skipped["faithfulness"] = "the model has no output to follow"
        return None, None, 0
    kwargs: dict[str, Any] = {"steps": STEPS, "random_orders": RANDOM_ORDERS, "seed": seed}
    if one.texts:
        kwargs["words"] = one.feature_names
    elif one.is_image:
        kwargs["baseline"] = baseline or "blur"
    elif background is not None:
        kwargs["background"] = background
    values = one.class_values(cls)
    try:
        found = [fn(model, x, values, cls, **kwargs) for fn in (deletion, insertion)]
    except ExplainError as exc:
        skipped["faithfulness"] = str(exc)
        return None, None, 0
    return found[0], found[1], sum(f.model_rows for f in found)


def _randomised(model: Any, x: Any, original: np.ndarray, explain_fn: ExplainFn | None, seed: int, layers: Any,
                skipped: dict[str, str], report: Callable[[float, str], None]) -> Randomisation | None:
    """The randomisation check, the given explanation standing for the original model's (not recomputed)."""
    if explain_fn is None:
        skipped.setdefault("randomisation", "no way to explain a randomised copy was given")
        return None
    from dlcore.explain.randomisation import repeats_for, weighted_layers

    total = len(weighted_layers(model)) if layers is None else layers if isinstance(layers, int) else len(layers)
    total *= repeats_for(original.size)
    done = [0]

    def counted(m: Any, rows: Any) -> Any:
        if m is model:
            return original
        report(0.2 + 0.7 * done[0] / max(1, total), f"randomisation check: explanation {done[0] + 1} of {total}")
        done[0] += 1
        return explain_fn(m, rows)

    try:
        return randomisation(model, x, counted, seed=seed, layers=layers)
    except ExplainError as exc:
        skipped["randomisation"] = str(exc)
        return None


def _by_segments(attr: Attribution, segments: np.ndarray, cls: int) -> np.ndarray:
    """One value per superpixel of ``segments``: LIME's weight (every pixel of a superpixel carries it), the
    sum of the pixels' values for the other methods."""
    values = attr.class_values(cls)[0].sum(axis=-1)
    ids, inverse = np.unique(segments.ravel(), return_inverse=True)
    sums = np.bincount(inverse, weights=values.ravel(), minlength=len(ids))
    if attr.segments is None:
        return sums
    return sums / (np.bincount(inverse, minlength=len(ids)) * attr.inputs.shape[-1])


def _agreement(one: Attribution, name: str, others: Mapping[str, Attribution], cls: int,
               skipped: dict[str, str]) -> AgreementMatrix | None:
    """The agreement of the methods; images with a LIME explanation are compared superpixel by superpixel
    (LIME's resolution: a pixel map against one weight per region ranks mostly ties otherwise)."""
    if not others:
        skipped.setdefault("agreement", "no other method explained this input")
        return None
    rows = {name: one, **{k: o.row(0) for k, o in others.items()}}
    segments = next((a.segments[0] for a in rows.values() if a.segments is not None), None)
    if segments is not None and one.is_image:
        named = {k: _by_segments(a, segments, cls) for k, a in rows.items()}
    else:
        named = {k: a.class_values(cls)[0] for k, a in rows.items()}
    try:
        return agreement_matrix(named)
    except ExplainError as exc:
        skipped["agreement"] = str(exc)
        return None


def seed_spread(attribution: Attribution, reruns: Sequence[Attribution], row: int = 0,
                cls: int | None = None) -> np.ndarray | None:
    """The standard deviation of each value of row ``row`` for class ``cls`` across the explanation and its
    seed reruns, shaped like the row's values (a text: one per word of the row); None without reruns."""
    if not reruns:
        return None
    one = attribution.row(row)
    cls = int(one.targets[0]) if cls is None else int(cls)
    stack = np.stack([one.class_values(cls)[0], *(r.row(row).class_values(cls)[0] for r in reruns)])
    return stack.std(axis=0, ddof=1)


def _spread(one: Attribution, reruns: Sequence[Attribution], row: int, cls: int) -> tuple[float | None, Any]:
    """The seed reruns' stability and per-value standard deviation (None without reruns)."""
    if not reruns:
        return None, None
    from dlcore.explain.trust import stability

    runs = [one, *(r.row(row) for r in reruns)]
    return stability(runs, cls), seed_spread(one, [r.row(row) for r in reruns], 0, cls)


def _ground_truth(one: Attribution, mask: Any, causes: Sequence[str], cls: int, skipped: dict[str, str]) -> Any:
    from dlcore.explain import ground_truth

    values = one.class_values(cls)[0]
    try:
        if mask is not None and len(one.input_shape) == 2:  # a sequence: the window of steps that decides
            return ground_truth.on_window(values, mask)
        if mask is not None:
            return ground_truth.on_mask(values, mask)
        if causes and one.texts:  # a text: its words are the features, ``inputs`` their counts
            return ground_truth.on_words(values, one.feature_names, tuple(causes), counts=one.inputs[0])
        if causes:
            return ground_truth.on_causes(values, one.feature_names, tuple(causes))
    except ExplainError as exc:
        skipped["ground truth"] = str(exc)
    return None


def check(model: Any, attribution: Attribution, *, row: int = 0, cls: int | None = None, background: Any = None,
          reruns: Sequence[Attribution] = (), others: Mapping[str, Attribution] | None = None,
          explain_fn: ExplainFn | None = None, baseline: Any = None, mask: Any = None,
          causes: Sequence[str] = (), seed: int = 0, layers: int | Sequence[str] | None = None,
          not_applicable: Mapping[str, str] | None = None, progress: Progress | None = None) -> TrustReport:
    """Every trust figure of row ``row`` of ``attribution`` for class ``cls`` (default: the row's target).

    Args:
        model: the explained Keras model (left untouched; the randomisation check works on a copy).
        attribution: the explanation.
        row: the row of ``attribution`` to check.
        cls: the class; it must have been explained for that row.
        background: tables: rows removed features are replaced with (the training rows).
        reruns: the same explanation with other seeds (stability and spread).
        others: other methods' explanations of the same row alone, for the same class, by name.
        explain_fn: ``explain_fn(model, x)`` -> values of ``x`` for class ``cls`` with the same method and
            settings, for the randomisation check (None: the check is skipped, with the reason).
        baseline: images: ``blur`` (default: the blurred image, as in RISE's insertion metric; on dark
            backgrounds black equals most of the image already, so removing background pixels changes
            nothing and orders are compared on a few object pixels only), ``black`` or an array.
        mask: images: the row's ground-truth object mask; causes: tables: the features that truly cause the
            target.
        seed: seeds the random orders and the randomised weights.
        layers: the layers to randomise (``randomisation``'s ``layers``).
        not_applicable: checks already known not to apply, with the reason.
        progress: ``(fraction, text)`` as the checks run.

    Returns:
        A ``TrustReport``.
    """
    t0 = time.perf_counter()
    report: Callable[[float, str], None] = progress or (lambda f, text: None)
    one = attribution.row(row)
    cls = int(one.targets[0]) if cls is None else int(cls)
    one.classes(cls)  # refuses a class that was not explained
    if not np.isfinite(one.class_values(cls)).all():
        raise ExplainError("the explanation's values contain NaN or infinity: no trust figure can be computed; "
                           "explain again (more samples, or another method)")
    skipped = dict(not_applicable or {})
    name = METHOD_LABELS.get(attribution.method, attribution.method)
    x = _row_input(attribution, row)
    report(0.0, "faithfulness: deletion and insertion curves")
    d, i, rows = _faithfulness(model, one, x, cls, background, baseline, seed, skipped)
    report(0.2, "randomisation check: explaining copies of the model with layers re-initialised")
    r = _randomised(model, x, one.class_values(cls), explain_fn, seed, layers, skipped, report)
    report(0.9, "agreement, stability and ground truth")
    m = _agreement(one, name, dict(others or {}), cls, skipped)
    stab, spread = _spread(one, reruns, row, cls)
    if not reruns:
        skipped.setdefault("stability", "no seed reruns were made")
    truth = _ground_truth(one, mask, causes, cls, skipped)
    v = verdict(d, i, r, m, stab, truth, skipped)
    report(1.0, "trust checks done")
    return TrustReport(row=int(row), cls=cls, class_name=str(one.class_names[cls]), method=attribution.method,
                       verdict=v, deletion=d, insertion=i, randomisation=r, agreement=m,
                       others=tuple((others or {}).values()), stability=stab, spread=spread, ground_truth=truth,
                       not_applicable=tuple(skipped.items()), model_rows=rows, seconds=time.perf_counter() - t0)
