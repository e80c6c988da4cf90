"""Mitigation: reweighing before training, group thresholds after it.

- ``reweigh``: sample weights that make group and label independent in the training rows, w(g, y) =
  P(g) P(y) / P(g, y) (Kamiran and Calders 2012, "Data preprocessing techniques for classification without
  discrimination"). Fairlearn has no pre-processing of this kind (its ``CorrelationRemover`` changes the
  features instead), so the formula is written here; it is a few lines of counting.
- ``fit_thresholds``: Fairlearn's ``ThresholdOptimizer`` on the model's scores for the audited class, for
  demographic parity or equalized odds. The fitted per-group rules are kept as plain numbers
  (``PostProcessing``), so a post-processed model is stored without pickling anything, and
  ``apply_thresholds`` gives the same predictions as Fairlearn's ``predict`` for the same random state.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dlcore.errors import FairnessError
from dlcore.record import BIG, PostProcessing, ThresholdRule

CONSTRAINTS = ("demographic_parity", "equalized_odds")


def reweigh(groups: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kamiran-Calders weights, one per training row, averaging 1: group x label cells that history made rare
    (qualified women recorded as hired) weigh more, common ones less."""
    groups, y = np.asarray(groups), np.asarray(y)
    w = np.ones(len(y), dtype=np.float64)
    for g in np.unique(groups):
        in_g = groups == g
        for label in np.unique(y):
            cell = in_g & (y == label)
            if cell.any():
                w[cell] = in_g.mean() * np.mean(y == label) / cell.mean()
    return w / w.mean()


def _scores_estimator() -> Any:
    """The model's scores as a fitted scikit-learn estimator: its input is the score column itself, so
    ``ThresholdOptimizer(prefit=True)`` thresholds exactly the numbers it is given."""
    from sklearn.base import BaseEstimator

    class Scores(BaseEstimator):
        def fit(self, x: Any, y: Any) -> Any:
            self.fitted_ = True
            return self

        def predict(self, x: Any) -> np.ndarray:
            return np.asarray(x, dtype=np.float64)[:, 0]

    return Scores().fit(None, None)


def _bounded(t: float) -> float:
    return float(np.clip(t, -BIG, BIG))


def _rule(bunch: Mapping[str, Any]) -> ThresholdRule:
    o0, o1 = bunch["operation0"], bunch["operation1"]
    return ThresholdRule(float(bunch["p0"]), str(o0.operator), _bounded(o0.threshold), float(bunch["p1"]),
                         str(o1.operator), _bounded(o1.threshold), float(bunch.get("p_ignore", 0.0)),
                         float(bunch.get("prediction_constant", 0.0)))


def fit_thresholds(scores: np.ndarray, y_positive: np.ndarray, groups: np.ndarray, constraint: str,
                   sensitive: Sequence[str], positive: int, bins: int = 0) -> PostProcessing:
    """Fairlearn's ``ThresholdOptimizer`` fitted on ``scores`` (the model's probability of ``positive``),
    the 0/1 labels ``y_positive`` and the rows' ``groups``; returned as plain per-group rules."""
    import warnings

    from fairlearn.postprocessing import ThresholdOptimizer

    if constraint not in CONSTRAINTS:
        raise FairnessError(f"unknown constraint {constraint!r}; choose {' or '.join(CONSTRAINTS)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "estimator not fitted": it has nothing to fit
        opt = ThresholdOptimizer(estimator=_scores_estimator(), constraints=constraint, prefit=True,
                                 predict_method="predict")
        opt.fit(np.asarray(scores, dtype=np.float64)[:, None], np.asarray(y_positive).astype(int),
                sensitive_features=np.asarray(groups, dtype=str))
    rules = {str(g): _rule(b) for g, b in opt.interpolated_thresholder_.interpolation_dict.items()}
    return PostProcessing("threshold_optimizer", constraint, tuple(sensitive), int(positive), rules, bins=bins)


def _op(operator: str, threshold: float, s: np.ndarray) -> np.ndarray:
    return (s > threshold) if operator == ">" else (s < threshold)


def positive_probability(post: PostProcessing, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The probability that the post-processed model predicts the positive class, per row."""
    s, groups = np.asarray(scores, dtype=np.float64), np.asarray(groups, dtype=str)
    unknown = sorted(set(np.unique(groups).tolist()) - set(post.rules))
    if unknown:
        raise FairnessError(f"group {unknown[0]!r} was not in the rows the thresholds were fitted on (groups: "
                            f"{', '.join(post.rules)}); post-process again with data that has it")
    out = np.zeros(len(s))
    for g, r in post.rules.items():
        sel = groups == g
        p = r.p0 * _op(r.operator0, r.threshold0, s[sel]) + r.p1 * _op(r.operator1, r.threshold1, s[sel])
        out[sel] = r.p_ignore * r.prediction_constant + (1.0 - r.p_ignore) * p
    return out


def apply_thresholds(post: PostProcessing, scores: np.ndarray, groups: np.ndarray, seed: int = 0) -> np.ndarray:
    """0/1 predictions of the post-processed model: randomised where Fairlearn's rules are (a seeded draw,
    the same one ``ThresholdOptimizer.predict(random_state=seed)`` makes)."""
    p = positive_probability(post, scores, groups)
    return (p >= np.random.RandomState(seed).rand(len(p))).astype(int)
