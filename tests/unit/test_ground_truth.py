"""Ground truth: the generated ``causes`` table has the structure it promises, exact SHAP values of a linear
model score well above chance on its causes while random values score at chance, maps equal to an object mask
score perfectly, and bad inputs are refused with their reason. Numbers come from scikit-learn and NumPy only."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from dlcore.data import Dataset, load_builtin
from dlcore.data.builtin import CAUSE_FEATURES, CAUSES, DISTRACTORS, make_causes, make_shapes
from dlcore.errors import ExplainError
from dlcore.explain.ground_truth import GroundTruth, on_causes, on_mask

NOISE = tuple(f for f in CAUSE_FEATURES if f not in CAUSES and f not in DISTRACTORS)


@pytest.fixture(scope="module")
def causes() -> Dataset:
    return load_builtin("causes")


@pytest.fixture(scope="module")
def linear(causes: Dataset):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000).fit(causes.x_train, causes.y_train)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def test_causes_table_has_the_promised_structure(causes: Dataset) -> None:
    assert causes.causes == CAUSES and causes.feature_names == CAUSE_FEATURES and len(CAUSE_FEATURES) == 10
    assert CAUSES != CAUSE_FEATURES[:3] and len(DISTRACTORS) == 2 and len(NOISE) == 5
    assert causes.n_train + causes.n_val == 2000 and causes.class_names == ("0", "1")
    assert all(name in causes.description for name in (*CAUSES, *DISTRACTORS))
    assert np.allclose(causes.x_train.mean(axis=0), 0, atol=1e-5) and np.allclose(causes.x_train.std(axis=0), 1,
                                                                                   atol=1e-3)
    x = np.concatenate([causes.x_train, causes.x_val])
    y = causes.labels().astype(np.float64)
    col = {name: j for j, name in enumerate(CAUSE_FEATURES)}
    with_target = {name: _corr(x[:, col[name]], y) for name in CAUSE_FEATURES}
    pairs = {d: _corr(x[:, col[d]], x[:, col[c]]) for d, c in DISTRACTORS.items()}
    print("corr with target:", {k: round(v, 3) for k, v in with_target.items()},
          "distractor-cause corr:", {k: round(v, 3) for k, v in pairs.items()})
    assert all(0.6 < r < 0.85 for r in pairs.values())
    other = [c for c in CAUSES if c not in DISTRACTORS.values()]
    assert all(abs(_corr(x[:, col[d]], x[:, col[c]])) < 0.1 for d in DISTRACTORS for c in other)
    assert max(abs(with_target[n]) for n in NOISE) < 0.1
    assert min(abs(with_target[c]) for c in CAUSES) > 0.25
    assert 0.4 < y.mean() < 0.6


def test_causes_table_is_seeded() -> None:
    x, y = make_causes(n=50, seed=3)
    again, y_again = make_causes(n=50, seed=3)
    other, _ = make_causes(n=50, seed=4)
    assert np.array_equal(x, again) and np.array_equal(y, y_again) and not np.allclose(x, other)
    assert x.shape == (50, 10) and set(np.unique(y)) <= {0, 1}


def test_linear_model_learns_the_causes(causes: Dataset, linear) -> None:
    accuracy = float(linear.score(causes.x_val, causes.y_val))
    coef = dict(zip(CAUSE_FEATURES, np.abs(linear.coef_[0]).tolist()))
    print(f"logistic regression validation accuracy {accuracy:.3f}; |coef|:", {k: round(v, 2) for k, v in coef.items()})
    assert 0.8 < accuracy < 0.97  # learnable, with label noise left
    assert min(coef[c] for c in CAUSES) > 5 * max(coef[f] for f in CAUSE_FEATURES if f not in CAUSES)


def _rates(scores: list[GroundTruth]) -> tuple[float, float, float]:
    return (float(np.mean([s.share for s in scores])), float(np.mean([s.precision_at_k for s in scores])),
            float(np.mean([s.beats for s in scores])))


def test_exact_linear_shap_beats_chance_and_random_values_do_not(causes: Dataset, linear) -> None:
    phi = linear.coef_[0] * (causes.x_val[:50] - causes.x_train.mean(axis=0))  # exact SHAP in logit space
    shap = [on_causes(row, causes.feature_names, causes.causes) for row in phi]
    rng = np.random.default_rng(0)
    noise = [on_causes(row, causes.feature_names, causes.causes) for row in rng.normal(size=(1000, 10))]
    wrong = [on_causes(row, causes.feature_names, ("f3", "f6", "f0")) for row in phi]  # distractors + noise
    (s_share, s_prec, s_beats), (r_share, r_prec, r_beats) = _rates(shap), _rates(noise)
    print(f"linear SHAP: share {s_share:.3f}, precision@3 {s_prec:.3f}, beats {s_beats:.0%}; random: share "
          f"{r_share:.3f}, precision@3 {r_prec:.3f}, beats {r_beats:.0%}; wrong truth: share {_rates(wrong)[0]:.3f}")
    assert shap[0].expected_share == pytest.approx(0.3) and shap[0].k == 3 and shap[0].truth == CAUSES
    assert s_share > 0.8 and s_prec >= 2 / 3 and s_beats >= 0.9
    assert abs(r_share - 0.3) < 0.03 and abs(r_prec - 0.3) < 0.05
    assert r_beats < 0.3 and s_beats - r_beats > 0.6  # 2 of 3 causes in a random top 3: 22/120 = 18%
    assert _rates(wrong)[0] < 0.3 and _rates(wrong)[2] < 0.2  # the same values score below chance on non-causes


def test_hand_made_scores_and_stable_ties() -> None:
    names = CAUSE_FEATURES
    r = on_causes(np.array([[0.0, 5.0, 0.0, 0.0, -4.0, 0.0, 0.0, 0.0, 1.0, 2.0]]), names, CAUSES)
    assert r.share == pytest.approx(10 / 12) and r.precision_at_k == pytest.approx(2 / 3)  # top 3: f1, f4, f9
    assert r.kind == "causes" and r.k == 3 and r.beats
    flat = on_causes(np.ones(10), names, CAUSES)  # all tied: the first three positions, f0 f1 f2, come first
    assert flat.share == pytest.approx(0.3) and flat.precision_at_k == pytest.approx(1 / 3) and not flat.beats
    d = r.to_dict()
    assert json.loads(json.dumps(d)) == d and d["truth"] == list(CAUSES) and d["beats"] is True


def test_masks_perfect_random_and_inverted() -> None:
    _, _, masks = make_shapes(n=8, seed=5)
    rng = np.random.default_rng(1)
    perfect, shapes, random, inverted = [], [], [], []
    for m in masks:
        exact = m.astype(np.float64)
        perfect.append(on_mask(exact, m))
        shapes.append((on_mask(exact[..., None], m), on_mask(exact[None, ..., None], m[None]), on_mask(exact[None], m)))
        random.append(on_mask(rng.normal(size=(*m.shape, 3)), m))
        inverted.append(on_mask(1.0 - exact, m))
    area = float(masks.mean())
    share, prec, beats = _rates(random)
    print(f"mask area {area:.3f}; random map: share {share:.3f}, precision {prec:.3f}, beats {beats:.0%}")
    assert all(p.share == 1.0 and p.precision_at_k == 1.0 and p.beats and p.kind == "mask" for p in perfect)
    assert all(p.k == int(m.sum()) and p.expected_share == pytest.approx(m.mean()) and p.truth == ()
               for p, m in zip(perfect, masks))
    assert all(s.share == 1.0 and s.precision_at_k == 1.0 for trio in shapes for s in trio)
    assert abs(share - area) < 0.03 and abs(prec - area) < 0.05
    assert all(i.share == 0.0 and i.precision_at_k == 0.0 and not i.beats for i in inverted)


@pytest.mark.parametrize(("call", "reason"), [
    (lambda: on_causes(np.ones(10), CAUSE_FEATURES, ("f1", "f99")), "f99 not among the feature names"),
    (lambda: on_causes(np.ones(9), CAUSE_FEATURES, CAUSES), "do not match 10 feature names"),
    (lambda: on_causes(np.ones((2, 10)), CAUSE_FEATURES, CAUSES), "do not match 10 feature names"),
    (lambda: on_causes(np.r_[np.nan, np.ones(9)], CAUSE_FEATURES, CAUSES), "NaN"),
    (lambda: on_causes(np.zeros(10), CAUSE_FEATURES, CAUSES), "all zero"),
    (lambda: on_causes(np.ones(10), CAUSE_FEATURES, ()), "0 of 10 features are causes"),
    (lambda: on_causes(np.ones(10), CAUSE_FEATURES, CAUSE_FEATURES), "10 of 10 features are causes"),
    (lambda: on_mask(np.ones((4, 4)), np.zeros((4, 4), bool)), "mask is empty"),
    (lambda: on_mask(np.ones((4, 4)), np.ones((4, 4), bool)), "covers the whole image"),
    (lambda: on_mask(np.ones((4, 5)), np.eye(4, dtype=bool)), "do not fit the mask"),
    (lambda: on_mask(np.full((4, 4), np.inf), np.eye(4, dtype=bool)), "NaN or infinity"),
    (lambda: on_mask(np.zeros((4, 4, 3)), np.eye(4, dtype=bool)), "all zero"),
])
def test_bad_inputs_say_why(call, reason: str) -> None:
    with pytest.raises(ExplainError, match=reason):
        call()


def test_import_does_not_load_tensorflow() -> None:
    code = "import sys, dlcore.explain.ground_truth; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"
