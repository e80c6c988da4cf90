"""Ground truth: the generated ``causes`` table has the structure it promises, exact SHAP values of a linear
model score well above chance on its causes while random values score at chance, maps equal to an object mask
score perfectly, a linear bag-of-words model's exact values score well above chance on the ``reviews`` cue words,
the bump sensor's readings beat chance on the ``sensors`` windows while the decoy sensor's do not, and bad inputs
are refused with their reason. Numbers come from scikit-learn and NumPy only."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from dlcore.data import Dataset, load_builtin
from dlcore.data.builtin import CAUSE_FEATURES, CAUSES, DISTRACTORS, make_causes, make_shapes
from dlcore.data.sequences import BUMP_STEPS, REVIEW_CUES, SENSOR_STEPS, make_reviews, make_sensors
from dlcore.errors import ExplainError
from dlcore.explain.ground_truth import GroundTruth, on_causes, on_mask, on_window, on_words

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


def _text_values(texts: np.ndarray, y: np.ndarray) -> list[tuple[list[str], np.ndarray, np.ndarray]]:
    """Exact SHAP values (logit space) of a logistic regression on word counts, for each text's distinct words:
    ``(words, values, counts)`` per text."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = CountVectorizer(token_pattern=r"\S+")
    counts = vectorizer.fit_transform(texts).toarray().astype(np.float64)
    linear = LogisticRegression(max_iter=2000).fit(counts[:300], y[:300])
    vocabulary = vectorizer.get_feature_names_out()
    out = []
    for row in counts[300:]:
        present = np.flatnonzero(row)
        phi = linear.coef_[0][present] * (row[present] - counts[:300, present].mean(axis=0))
        out.append(([str(vocabulary[j]) for j in present], phi, row[present]))
    return out


def test_words_linear_values_beat_chance_and_random_values_do_not() -> None:
    texts, y = make_reviews(n=400, seed=1)
    rows = _text_values(texts, y)
    rng = np.random.default_rng(0)
    linear = [on_words(v, w, REVIEW_CUES, counts=c) for w, v, c in rows]
    noise = [on_words(rng.normal(size=len(t.split())), t.split(), REVIEW_CUES) for t in texts[300:]]
    wrong = [on_words(v, w, ("the", "a", "film", "was", "and"), counts=c) for w, v, c in rows
             if {"the", "a", "film", "was", "and"} & set(w)]
    expected = float(np.mean([s.expected_share for s in linear]))
    (l_share, l_prec, l_beats), (r_share, r_prec, r_beats) = _rates(linear), _rates(noise)
    print(f"cue tokens' share {expected:.3f}; linear bag of words: share {l_share:.3f}, precision@k {l_prec:.3f}, "
          f"beats {l_beats:.0%}; random: share {r_share:.3f}, precision@k {r_prec:.3f}, beats {r_beats:.0%}; wrong "
          f"truth: share {_rates(wrong)[0]:.3f}, beats {_rates(wrong)[2]:.0%}")
    assert all(s.kind == "words" and set(s.truth) <= set(REVIEW_CUES) and s.k >= 1 for s in linear)
    assert 0.05 < expected < 0.2 and l_share > 0.5 and l_prec > 0.9 and l_beats > 0.9
    assert abs(r_share - expected) < 0.03 and abs(r_prec - expected) < 0.06 and r_beats < 0.3
    assert _rates(wrong)[2] < 0.1  # the same values put little weight on filler words


def test_words_hand_made_scores_counts_and_case() -> None:
    tokens = on_words([1.0, -6.0, 1.0, 2.0], ["a", "Superb", "b", "c"], REVIEW_CUES)
    assert tokens.share == pytest.approx(0.6) and tokens.expected_share == pytest.approx(0.25)
    assert tokens.precision_at_k == 1.0 and tokens.k == 1 and tokens.beats and tokens.truth == ("superb",)
    # distinct words with counts: "superb" twice shares its 4 over two tokens; a word counted 0 is left out
    bag = on_words(np.array([[4.0, 1.0, 1.0, 9.0]]), ["superb", "a", "b", "awful"], REVIEW_CUES, counts=[2, 1, 1, 0])
    spread = on_words([2.0, 1.0, 2.0, 1.0], ["superb", "a", "superb", "b"], REVIEW_CUES)
    assert bag == spread and bag.share == pytest.approx(4 / 6) and bag.expected_share == pytest.approx(0.5)
    assert bag.k == 2 and bag.precision_at_k == 1.0 and bag.beats and bag.truth == ("superb",)
    flat = on_words(np.ones(4), ["a", "b", "c", "awful"], REVIEW_CUES)  # ties: first positions first
    assert flat.share == pytest.approx(0.25) and flat.precision_at_k == 0.0 and not flat.beats
    assert json.loads(json.dumps(bag.to_dict()))["truth"] == ["superb"]


def test_windows_perfect_bump_sensor_and_decoy() -> None:
    x, _, windows = make_sensors(n=60, seed=2)
    rng = np.random.default_rng(3)
    perfect = [on_window(w[:, None] * np.ones((1, 3)), w) for w in windows]
    shapes = [(on_window(w.astype(float), w), on_window(w[None, :, None] * np.ones(3), w[None]),
               on_window(w[None].astype(float), w)) for w in windows[:5]]
    random = [on_window(rng.normal(size=(SENSOR_STEPS, 3)), w) for w in windows]
    def detector(reading: np.ndarray) -> np.ndarray:  # a bump detector: the reading's positive part, 3-step average
        return np.maximum(np.convolve(reading, np.ones(3) / 3, mode="same"), 0.0)

    bump = [on_window(detector(s[:, 1]), w) for s, w in zip(x, windows)]  # on vibration, whose bump is the cause
    decoy = [on_window(detector(s[:, 2]), w) for s, w in zip(x, windows)]  # on pressure: the same bump elsewhere
    expected = BUMP_STEPS / SENSOR_STEPS
    print(f"window share {expected:.3f}; random: {_rates(random)}; vibration: {_rates(bump)}; pressure: "
          f"{_rates(decoy)}")
    assert all(p.share == 1.0 and p.precision_at_k == 1.0 and p.beats and p.kind == "window" and p.truth == ()
               and p.k == BUMP_STEPS and p.expected_share == pytest.approx(expected) for p in perfect)
    assert all(s.share == 1.0 for trio in shapes for s in trio)
    share, prec, beats = _rates(random)
    assert abs(share - expected) < 0.03 and abs(prec - expected) < 0.08 and beats < 0.1
    assert _rates(bump)[0] > 0.4 and _rates(bump)[1] > 0.6 and _rates(bump)[2] > 0.9
    assert _rates(decoy)[2] < 0.25 and _rates(decoy)[0] < _rates(bump)[0] - 0.1


def test_window_sums_the_features_of_each_step() -> None:
    window = np.zeros(8, dtype=bool)
    window[2:4] = True
    values = np.zeros((8, 2))
    values[:, 0], values[2:4, 1] = 1.0, -3.0  # the window's steps weigh 1 + 3 each, the others 1
    r = on_window(values, window)
    assert r.share == pytest.approx(8 / 14) and r.expected_share == 0.25 and r.precision_at_k == 1.0 and r.k == 2
    assert r.beats and on_window(values[:, :1], window).share == pytest.approx(0.25)


@pytest.mark.parametrize(("call", "reason"), [
    (lambda: on_words(np.ones(3), ["a", "b"], REVIEW_CUES), "do not match"),
    (lambda: on_words(np.ones(2), ["a", "b"], REVIEW_CUES, counts=[1]), "do not match"),
    (lambda: on_words(np.ones(2), ["a", "superb"], REVIEW_CUES, counts=[1, -1]), "whole numbers"),
    (lambda: on_words(np.ones(2), ["a", "superb"], REVIEW_CUES, counts=[1, 0.5]), "whole numbers"),
    (lambda: on_words(np.ones(3), ["a", "b", "c"], REVIEW_CUES), "0 of 3 tokens are cue words"),
    (lambda: on_words(np.ones(2), ["awful", "superb"], REVIEW_CUES), "2 of 2 tokens are cue words"),
    (lambda: on_words(np.ones(2), ["a", "superb"], REVIEW_CUES, counts=[1, 0]), "0 of 1 tokens are cue words"),
    (lambda: on_words(np.zeros(2), ["a", "superb"], REVIEW_CUES), "all zero"),
    (lambda: on_words([np.nan, 1.0], ["a", "superb"], REVIEW_CUES), "NaN"),
    (lambda: on_window(np.ones(8), np.zeros(8, bool)), "window is empty"),
    (lambda: on_window(np.ones(8), np.ones(8, bool)), "covers every step"),
    (lambda: on_window(np.ones((9, 3)), np.eye(8, dtype=bool)[0]), "do not fit a window of 8 steps"),
    (lambda: on_window(np.ones((2, 8, 3)), np.eye(8, dtype=bool)[0]), "do not fit a window of 8 steps"),
    (lambda: on_window(np.ones(8), np.eye(8, dtype=bool)), r"\(steps,\) array of flags"),
    (lambda: on_window(np.zeros((8, 3)), np.eye(8, dtype=bool)[0]), "all zero"),

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
