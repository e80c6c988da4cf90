"""A verdict on one explanation from its trust figures: ``reliable``, ``use with care`` or ``not reliable``,
with the reasons in plain words.

Each check gives a finding, ``pass``, ``warn`` or ``fail`` (or ``n/a`` with the reason it does not apply):

==================  =====================================================================================
deletion            pass: AUC below every random order's (``Faithfulness.beats_random``); fail otherwise:
                    at or above the random mean it is no better than random, within the random orders'
                    spread it is not clearly better (where a random order, pure noise, lands 20 times
                    in 21 with the report's 20 random orders).
insertion           the same, mirrored: pass above every random order's AUC, fail otherwise.
                    Deletion and insertion are two views of one property: when one of them fails and the
                    other passes, the failure counts as a warning.
randomisation       pass: the correlation with the original explanation, every weighted layer
                    re-initialised, falls below the check's threshold (0.5); fail: it stays at or above.
agreement           warn: the rank correlation of two methods' values is below ``AGREE_BELOW`` (0.2);
                    the methods then describe different models of the decision, and at most one is right.
stability           fail: mean rank correlation between seed reruns below ``STABLE_FAIL`` (0.5), the
                    ranking is mostly chance; warn: below ``STABLE_WARN`` (0.8).
ground truth        warn: the share of attribution on the known causes or the object is not above
                    what an attribution without information gets (their share of the parts).
==================  =====================================================================================

The level: ``not reliable`` when any finding fails; else ``use with care`` when any warns, or when the two
checks that say whether an explanation reflects the model were not both run (a faithfulness curve and the
randomisation check); else ``reliable``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dlcore.explain.agreement import AgreementMatrix
from dlcore.explain.faithfulness import Faithfulness
from dlcore.explain.randomisation import Randomisation

RELIABLE, CARE, NOT_RELIABLE = "reliable", "use with care", "not reliable"
LEVELS = (RELIABLE, CARE, NOT_RELIABLE)
AGREE_BELOW = 0.2
STABLE_FAIL = 0.5
STABLE_WARN = 0.8
STATUSES = ("pass", "warn", "fail", "n/a")


@dataclass(frozen=True)
class Finding:
    """One check's outcome: ``check`` (deletion, insertion, randomisation, agreement, stability, ground
    truth), ``status`` (pass, warn, fail, n/a) and a sentence for people."""

    check: str
    status: str
    text: str


@dataclass(frozen=True)
class Verdict:
    """How far to trust one explanation: the ``level``, the ``reasons`` behind it (failures first, then
    warnings; the passed checks when it is reliable) and every ``finding``."""

    level: str
    reasons: tuple[str, ...]
    findings: tuple[Finding, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "reasons": list(self.reasons),
                "findings": [{"check": f.check, "status": f.status, "text": f.text} for f in self.findings]}


def _faithful(f: Faithfulness) -> Finding:
    ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "n/a"
    figures = f"AUC {f.auc:.3f} against {f.random_auc:.3f} ± {f.random_auc_std:.3f} for random orders, {ratio}"
    if f.beats_random:
        better = "falls" if f.kind == "deletion" else "rises"
        return Finding(f.kind, "pass", f"{f.kind}: the output {better} faster than for random orders ({figures})")
    worse = f.auc >= f.random_auc if f.kind == "deletion" else f.auc <= f.random_auc
    if worse:
        return Finding(f.kind, "fail", f"{f.kind} no better than random ({figures})")
    return Finding(f.kind, "fail", f"{f.kind} not clearly better than random: within the spread of random orders "
                   f"({figures})")


def _randomised(r: Randomisation) -> Finding:
    final = r.decisive_final
    value = "constant" if np.isnan(final) else f"rho {final:.2f}"
    if r.passes:
        return Finding("randomisation", "pass", f"changes when the model is randomised ({value} with "
                       f"{len(r.layers)} layer(s) re-initialised)")
    if "constant" in r.reason:
        return Finding("randomisation", "fail", f"randomisation check: {r.reason}")
    return Finding("randomisation", "fail", f"changes little when the model is randomised ({value} with "
                   f"{len(r.layers)} layer(s) re-initialised; a map that shows the input keeps 1.0)")


def _agreed(m: AgreementMatrix) -> list[Finding]:
    out = []
    for i in range(len(m.names)):
        for j in range(i + 1, len(m.names)):
            rho, pair = float(m.rho[i, j]), f"{m.names[i]} and {m.names[j]}"
            overlap = f"top-{m.k} overlap {m.overlap[i, j]:.0%}"
            if not np.isfinite(rho):
                out.append(Finding("agreement", "warn", f"{pair} cannot be compared: one of them is constant"))
            elif rho < AGREE_BELOW:
                out.append(Finding("agreement", "warn", f"{pair} disagree (rho {rho:.2f}, {overlap})"))
            else:
                out.append(Finding("agreement", "pass", f"{pair} agree (rho {rho:.2f}, {overlap})"))
    return out


def _stable(stability: float) -> Finding:
    if stability < STABLE_FAIL:
        return Finding("stability", "fail", f"the ranking changes between seeds (rho {stability:.2f} between runs)")
    if stability < STABLE_WARN:
        return Finding("stability", "warn", f"the ranking changes somewhat between seeds (rho {stability:.2f})")
    return Finding("stability", "pass", f"the same ranking with other seeds (rho {stability:.2f})")


def _truth(g: Any) -> Finding:
    where = "the true causes" if g.kind == "causes" else "the object"
    figures = (f"{g.share:.0%} of |attribution| on {where}, which make up {g.expected_share:.0%}; "
               f"precision at {g.k} {g.precision_at_k:.0%}")
    return Finding("ground truth", "pass" if g.beats else "warn",
                   figures if g.beats else f"no more attribution on {where} than chance ({figures})")


def verdict(deletion: Faithfulness | None = None, insertion: Faithfulness | None = None,
            randomisation: Randomisation | None = None, agreement: AgreementMatrix | None = None,
            stability: float | None = None, ground_truth: Any = None,
            not_applicable: Mapping[str, str] | None = None) -> Verdict:
    """The verdict from whichever figures were measured (thresholds in the module docstring).

    Args:
        deletion, insertion: faithfulness curves (``dlcore.explain.faithfulness``).
        randomisation: the cascading randomisation check.
        agreement: the pairwise agreement of two or more methods on the same input and class.
        stability: mean rank correlation between seed reruns.
        ground_truth: a ``dlcore.explain.ground_truth.GroundTruth`` (share on known causes or the object).
        not_applicable: check name -> the one-line reason it was not measured.

    Returns:
        A ``Verdict``.
    """
    findings = [_faithful(f) for f in (deletion, insertion) if f is not None]
    if len(findings) == 2 and sorted(f.status for f in findings) == ["fail", "pass"]:
        findings = [replace(f, status="warn") if f.status == "fail" else f for f in findings]
    if randomisation is not None:
        findings.append(_randomised(randomisation))
    if agreement is not None:
        findings.extend(_agreed(agreement))
    if stability is not None and np.isfinite(stability):
        findings.append(_stable(float(stability)))
    if ground_truth is not None:
        findings.append(_truth(ground_truth))
    findings.extend(Finding(check, "n/a", f"{check}: {why}") for check, why in (not_applicable or {}).items())
    return _level(findings, measured_faithfulness=deletion is not None or insertion is not None,
                  measured_randomisation=randomisation is not None)


def _level(findings: list[Finding], measured_faithfulness: bool, measured_randomisation: bool) -> Verdict:
    fails = [f.text for f in findings if f.status == "fail"]
    warns = [f.text for f in findings if f.status == "warn"]
    missing = [f"{name} not measured, so it is unknown whether the explanation reflects the model"
               for name, done in (("faithfulness", measured_faithfulness), ("randomisation", measured_randomisation))
               if not done]
    if fails:
        level = NOT_RELIABLE
    elif warns or missing:
        level = CARE
    else:
        level = RELIABLE
    passed = [f.text for f in findings if f.status == "pass"] if level == RELIABLE else []
    return Verdict(level, tuple(fails + warns + missing + passed), tuple(findings))
