"""How far an explanation can be trusted, in numbers a reader can check.

- additivity gap (SHAP): base value + sum of values - prediction; 0 for exact Shapley values, an error
  estimate for sampled ones (gradient, permutation), relative to the spread of the model's outputs;
- stability: the same explanation rerun with other seeds, compared by rank correlation;
- LIME's local fit: R² of its weighted linear surrogate, and how far the surrogate misses the prediction;
- background size: how many rows the expectations were taken over;
- on the ``shapes`` data set, whose images come with object masks: the share of attribution mass on the
  object, against the share of the image the object covers (what a map without information would get).

The checks that score any values array shaped like the input, also one made outside this package, live in
their own modules and are re-exported here: ``deletion`` and ``insertion`` (faithfulness against random orders,
``dlcore.explain.faithfulness``), ``randomisation`` (the cascading model-randomisation sanity check,
``dlcore.explain.randomisation``), ``agreement`` / ``agreement_matrix`` (``dlcore.explain.agreement``),
``on_causes`` / ``on_mask`` (ground truth, ``dlcore.explain.ground_truth``) and ``verdict``
(``dlcore.explain.verdict``). ``dlcore.explain.report.check`` runs them all on one explained row.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcore.explain.agreement import Agreement, AgreementMatrix, agreement, agreement_matrix
from dlcore.explain.attribution import Attribution
from dlcore.explain.faithfulness import Faithfulness, deletion, insertion
from dlcore.explain.ground_truth import GroundTruth, on_causes, on_mask
from dlcore.explain.randomisation import Randomisation, randomisation
from dlcore.explain.verdict import Verdict, verdict

__all__ = ["Agreement", "AgreementMatrix", "Faithfulness", "GroundTruth", "Randomisation", "Trust", "Verdict",
           "agreement", "agreement_matrix", "assess", "deletion", "insertion", "mass_on_object", "on_causes",
           "on_mask", "randomisation", "rerun_seeds", "stability", "verdict"]


@dataclass(frozen=True)
class Trust:
    """The trust figures of one explanation (None where a figure does not apply)."""

    method: str
    algorithm: str
    background_size: int
    samples: int
    max_gap: float | None = None
    relative_gap: float | None = None
    stability: float | None = None
    stability_seeds: tuple[int, ...] = ()
    local_fit: float | None = None
    surrogate_miss: float | None = None
    mass_on_object: float | None = None
    object_area: float | None = None

    def rows(self) -> list[dict[str, str]]:
        """A table for people: check, value, how to read it."""
        out = [{"check": "background", "value": f"{self.background_size} rows" if self.background_size else "not used",
                "reading": _background_reading(self.algorithm)}]
        if self.max_gap is not None:
            out.append({"check": "additivity gap",
                        "value": f"{self.max_gap:.2e} ({self.relative_gap:.2%} of output range)",
                        "reading": _gap_reading(self.algorithm, self.relative_gap or 0.0)})
        if self.stability is not None:
            seeds = ", ".join(map(str, self.stability_seeds))
            out.append({"check": "stability across seeds", "value": f"{self.stability:.3f} (seeds {seeds})",
                        "reading": "rank correlation of the values between runs; 1 = the same ranking every time"})
        if self.local_fit is not None:
            out.append({"check": "LIME local fit",
                        "value": f"R² {self.local_fit:.3f}; misses the prediction by {self.surrogate_miss:.3f}",
                        "reading": "how well LIME's linear surrogate matches the model near this input"})
        if self.mass_on_object is not None:
            out.append({"check": "attribution on the object", "value": f"{self.mass_on_object:.0%} of |attribution| "
                        f"(object covers {self.object_area:.0%} of the image)",
                        "reading": "above the object's share: the explanation points at the object"})
        return out


def _background_reading(algorithm: str) -> str:
    if algorithm == "lime-image":
        return "LIME perturbs the image itself: switched-off superpixels are filled with black"
    if algorithm == "lime-text":
        return "LIME removes words from the text itself; no background rows"
    if algorithm == "lime-tabular":
        return "LIME draws its perturbed rows from these rows' statistics"
    return "expectations are taken over these rows; more rows, steadier base value"


def _gap_reading(algorithm: str, relative: float) -> str:
    if algorithm == "exact":
        return "exact Shapley values: the values add up to prediction - base"
    if relative < 0.02:
        return "small: the sampled values add up to the prediction almost exactly"
    return "sampled values do not fully add up; raise the sample count for a closer estimate"


def mass_on_object(values: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Share of absolute attribution inside ``mask`` (channels summed), and the share of pixels it covers."""
    v = np.abs(np.asarray(values, dtype=np.float64))
    if v.ndim == mask.ndim + 1:
        v = v.sum(axis=-1)
    mask = np.asarray(mask, dtype=bool)
    total = float(v.sum())
    return (float(v[mask].sum()) / total if total > 0 else 0.0), float(mask.mean())


def stability(runs: Sequence[Attribution], cls: int | None = None) -> float:
    """Mean Spearman rank correlation of each row's values over every pair of runs (1 when identical)."""
    import pandas as pd

    flats = [r.flat(cls) for r in runs]
    scores = []
    for a in range(len(flats)):
        for b in range(a + 1, len(flats)):
            for i in range(len(flats[a])):
                x, y = flats[a][i], flats[b][i]
                same = np.allclose(x, y, rtol=0, atol=1e-12)
                rho = 1.0 if same else pd.Series(x).corr(pd.Series(y), method="spearman")
                scores.append(0.0 if not np.isfinite(rho) else float(rho))
    return float(np.mean(scores)) if scores else 1.0


def rerun_seeds(model: Any, x: Any, attribution: Attribution, background: Any = None, extra: int = 2,
                progress: Callable[[float, str], None] | None = None, **options: Any) -> list[Attribution]:
    """The same explanation with ``extra`` other seeds (``seed + 1, ...``), for ``stability``."""
    from dlcore.explain import explain

    options = {**options, "background_size": attribution.background_size or None}
    runs = []
    for j in range(1, extra + 1):
        seed = attribution.seed + j
        report = None if progress is None else (
            lambda f, text, j=j, seed=seed: progress((j - 1 + f) / extra, f"seed {seed}: {text}"))
        runs.append(explain(model, x, attribution.method, background, seed=seed, progress=report, **options))
    return runs


def assess(attribution: Attribution, cls: int | None = None, reruns: Sequence[Attribution] = (),
           masks: np.ndarray | None = None) -> Trust:
    """The trust figures of ``attribution`` for class ``cls`` (default: each row's target).

    ``reruns``: the same explanation with other seeds; ``masks``: ground-truth object masks, one per row.
    """
    a = attribution
    fields: dict[str, Any] = {}
    gap = a.additivity_gap(cls)
    if gap is not None:
        fields["max_gap"] = float(np.abs(gap).max())
        fields["relative_gap"] = fields["max_gap"] / (a.output_range or 1.0)
    if reruns:
        fields["stability"] = stability([a, *reruns], cls)
        fields["stability_seeds"] = (a.seed, *(r.seed for r in reruns))
    if a.local_fit is not None and a.local_pred is not None:
        fields["local_fit"] = float(np.mean(a.local_fit))
        fields["surrogate_miss"] = float(np.mean(np.abs(a.local_pred - a.class_prediction())))
    if masks is not None:
        shares = [mass_on_object(v, m) for v, m in zip(a.class_values(cls), masks)]
        fields["mass_on_object"] = float(np.mean([s[0] for s in shares]))
        fields["object_area"] = float(np.mean([s[1] for s in shares]))
    return Trust(a.method, a.algorithm, a.background_size, a.samples, **fields)
