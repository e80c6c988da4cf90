"""The verdict's thresholds, on hand-made figures: each rule moves the level where the module says it does."""
from __future__ import annotations

import numpy as np
import pytest

from dlcore.explain.agreement import AgreementMatrix
from dlcore.explain.faithfulness import Faithfulness
from dlcore.explain.ground_truth import GroundTruth
from dlcore.explain.randomisation import Randomisation
from dlcore.explain.verdict import CARE, NOT_RELIABLE, RELIABLE, verdict


def _faith(kind: str, auc: float, random_auc: float = 0.5, std: float = 0.05) -> Faithfulness:
    randoms = random_auc + 2 * std * np.linspace(-1, 1, 10)  # ten random orders' areas
    beats = auc < randoms.min() if kind == "deletion" else auc > randoms.max()
    return Faithfulness(kind, (0.0, 1.0), (1.0, 0.0), auc, (1.0, 0.0), (0.0, 0.0), random_auc, std,
                        tuple(randoms), auc / random_auc, beats, 0, 10, "black", 1, 10)


def _random(final: float, passes: bool | None = None) -> Randomisation:
    return Randomisation(("out", "hidden"), (0.9, 0.9), 0.9, (0.4, final), final, 0.5, True,
                         final < 0.5 if passes is None else passes)


def _agree(rho: float) -> AgreementMatrix:
    return AgreementMatrix(("SHAP", "LIME"), np.array([[1.0, rho], [rho, 1.0]]), np.array([[1.0, 0.6], [0.6, 1.0]]),
                           5)


GOOD = {"deletion": _faith("deletion", 0.2), "insertion": _faith("insertion", 0.8), "randomisation": _random(0.1),
        "agreement": _agree(0.7), "stability": 0.95}


def test_all_checks_passed_is_reliable_and_lists_them() -> None:
    v = verdict(**GOOD)
    assert v.level == RELIABLE and len(v.reasons) == 5
    assert {f.status for f in v.findings} == {"pass"}
    assert v.to_dict()["level"] == "reliable"


@pytest.mark.parametrize(("change", "level", "words"), [
    ({"deletion": _faith("deletion", 0.55), "insertion": _faith("insertion", 0.45)}, NOT_RELIABLE,
     "deletion no better than random"),
    ({"deletion": _faith("deletion", 0.55)}, CARE, "deletion no better than random"),  # insertion still passes
    ({"deletion": _faith("deletion", 0.42)}, CARE, "within the spread"),  # insertion passes
    ({"deletion": _faith("deletion", 0.42), "insertion": _faith("insertion", 0.47)}, NOT_RELIABLE,
     "not clearly better than random"),  # what noise scores: both within the random orders' spread
    ({"randomisation": _random(0.8)}, NOT_RELIABLE, "changes little when the model is randomised"),
    ({"agreement": _agree(0.12)}, CARE, "SHAP and LIME disagree (rho 0.12"),
    ({"stability": 0.3}, NOT_RELIABLE, "changes between seeds"),
    ({"stability": 0.7}, CARE, "somewhat"),
    ({"randomisation": None}, CARE, "randomisation not measured"),
    ({"deletion": None, "insertion": None}, CARE, "faithfulness not measured"),
])
def test_each_rule_moves_the_level(change: dict, level: str, words: str) -> None:
    v = verdict(**{**GOOD, **change})
    assert v.level == level
    assert any(words in r for r in v.reasons), v.reasons


def test_failures_come_before_warnings_and_reasons_are_plain() -> None:
    v = verdict(**{**GOOD, "randomisation": _random(0.9), "agreement": _agree(0.0)})
    assert v.level == NOT_RELIABLE and "randomised" in v.reasons[0] and "disagree" in v.reasons[1]
    assert len(v.reasons) == 2  # a verdict that is not reliable lists what is wrong, not what passed


def test_ground_truth_and_checks_that_do_not_apply() -> None:
    miss = GroundTruth("causes", 0.31, 0.3, 1 / 3, 3, False, ("f1", "f4", "f8"))
    v = verdict(**GOOD, ground_truth=miss, not_applicable={"agreement": "SHAP is not offered for text models"})
    assert v.level == CARE and any("no more attribution on the true causes than chance" in r for r in v.reasons)
    assert [f.status for f in v.findings if f.check == "agreement" and "text" in f.text] == ["n/a"]
    hit = GroundTruth("mask", 0.7, 0.13, 0.6, 100, True)
    assert verdict(**GOOD, ground_truth=hit).level == RELIABLE


def test_a_constant_randomised_explanation_passes_and_a_constant_original_fails() -> None:
    gone = Randomisation(("out",), (float("nan"),), float("nan"), (float("nan"),), float("nan"), 0.5, True, True,
                         "with the layers re-initialised the explanation is constant: it changed completely")
    assert verdict(**{**GOOD, "randomisation": gone}).level == RELIABLE
    flat = Randomisation(("out",), (float("nan"),), float("nan"), (float("nan"),), float("nan"), 0.5, True, False,
                         "the original explanation is constant: there is no ranking to compare")
    v = verdict(**{**GOOD, "randomisation": flat})
    assert v.level == NOT_RELIABLE and "constant" in v.reasons[0]
