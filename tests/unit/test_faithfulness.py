"""Deletion and insertion curves: hand-computed curves of linear Keras models (tables and images, black,
blurred and background fills), noise against true attributions on a tiny trained MLP, batched model calls,
and the errors for inputs that admit no curve."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dlcore.data import load_builtin
from dlcore.errors import ExplainError
from dlcore.explain.faithfulness import deletion, insertion

W6 = np.array([0.5, -1.0, 2.0, 0.25, -0.75, 1.5])
B6 = 0.3
X6 = np.array([[1.0, 2.0, -0.5, 4.0, 1.0, 0.5]])


def _linear(shape: tuple[int, ...], w: np.ndarray, b: float):
    import keras

    inputs = keras.Input(shape)
    flat = keras.layers.Flatten()(inputs) if len(shape) > 1 else inputs
    outputs = keras.layers.Dense(1)(flat)
    model = keras.Model(inputs, outputs)
    model.layers[-1].set_weights([w.reshape(-1, 1).astype(np.float32), np.array([b], dtype=np.float32)])
    return model


@pytest.fixture(scope="module")
def linear6():
    return _linear((6,), W6, B6)


@pytest.fixture(scope="module")
def wine():
    import keras

    from dlcore.models import ModelSpec, TrainConfig, build_model, compile_model

    ds = load_builtin("wine")
    keras.utils.set_random_seed(0)
    config = TrainConfig(data="wine", model=ModelSpec(arch="mlp", units=(16,)), epochs=8, seed=0,
                         learning_rate=3e-3)
    model = build_model(config.model, ds)
    compile_model(model, config, ds.task)
    model.fit(ds.x_train, ds.y_train, epochs=8, batch_size=32, verbose=0)
    return model, ds


def _hand_curve(terms: np.ndarray, fill_terms: np.ndarray, order: np.ndarray, kind: str) -> np.ndarray:
    """Linear model: sum of the kept parts' terms plus the fill's terms for the others, plus the bias."""
    out = []
    for k in range(len(order) + 1):
        moved = np.zeros(len(order), dtype=bool)
        moved[order[:k]] = True
        kept = ~moved if kind == "deletion" else moved
        out.append(terms[kept].sum() + fill_terms[~kept].sum() + B6)
    return np.array(out)


@pytest.mark.parametrize("kind", ["deletion", "insertion"])
def test_linear_table_curve_equals_the_hand_computed_one(linear6, kind: str) -> None:
    fn = deletion if kind == "deletion" else insertion
    values = W6 * X6  # exact attributions of a linear model against a zero baseline
    res = fn(linear6, X6, values, 0, steps=7, random_orders=10, seed=1)
    order = np.argsort(-values[0])
    hand = _hand_curve(values[0], np.zeros(6), order, kind)
    print(f"{kind}: curve {np.round(res.curve, 3)}, auc {res.auc:.3f}, random {res.random_auc:.3f} "
          f"+- {res.random_auc_std:.3f}, ratio {res.ratio:.3f}")
    assert res.fractions == pytest.approx(np.arange(7) / 6)
    assert np.abs(np.array(res.curve) - hand).max() < 1e-5
    assert res.auc == pytest.approx(((hand[1:] + hand[:-1]) / 2 / 6).sum(), abs=1e-5)
    assert res.baseline == "black" and res.parts == 6 and res.beats_random
    # every order starts and ends at the same two inputs; the mean curve's area is the mean area
    rc, rs = np.array(res.random_curve), np.array(res.random_curve_std)
    assert rc[[0, -1]] == pytest.approx(hand[[0, -1]], abs=1e-5) and np.abs(rs[[0, -1]]).max() < 1e-5
    assert rs[1:-1].min() > 0.01 and np.std(res.random_aucs, ddof=1) == pytest.approx(res.random_auc_std)
    assert ((rc[1:] + rc[:-1]) / 2 / 6).sum() == pytest.approx(res.random_auc, abs=1e-5)
    # the reversed order (least relevant first) is worse than random, and not counted as beating it
    worse = fn(linear6, X6, -values, 0, steps=7, random_orders=10, seed=1)
    assert not worse.beats_random
    assert (worse.auc > worse.random_auc) if kind == "deletion" else (worse.auc < worse.random_auc)


def test_table_background_fill_is_averaged_over_the_background_rows(linear6) -> None:
    bg = np.random.default_rng(0).normal(size=(80, 6))
    values = W6 * X6
    res = deletion(linear6, X6, values, 0, background=bg, steps=7, seed=3)
    used = bg[np.sort(np.random.default_rng(3).choice(80, 50, replace=False))]
    hand = _hand_curve(values[0], W6 * used.mean(axis=0), np.argsort(-values[0]), "deletion")
    assert res.baseline == "background"
    assert np.abs(np.array(res.curve) - hand).max() < 1e-4
    # with all 80 rows the fill mean differs, so the last point does: the sample is really of 50 rows
    assert abs(res.curve[-1] - (W6 @ bg.mean(axis=0) + B6)) > 1e-3


@pytest.mark.parametrize("baseline", ["black", "blur"])
def test_image_pixels_are_removed_with_all_their_channels(baseline: str) -> None:
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    w, x = rng.normal(size=(4, 4, 2)), rng.uniform(size=(4, 4, 2))
    model = _linear((4, 4, 2), w, B6)
    values = w * x
    res = deletion(model, x[None], values[None], 0, baseline=baseline, steps=17, seed=0)
    fill = np.zeros_like(x) if baseline == "black" else np.stack(
        [gaussian_filter(x[..., c], 1.0) for c in range(2)], axis=-1)
    order = np.argsort(-values.sum(axis=-1).ravel(), kind="stable")
    hand = _hand_curve((w * x).sum(axis=-1).ravel(), (w * fill).sum(axis=-1).ravel(), order, "deletion")
    assert res.parts == 16 and res.baseline == baseline
    assert np.abs(np.array(res.curve) - hand).max() < 1e-4


def test_true_attributions_beat_random_and_noise_does_not(wine) -> None:
    from dlcore.explain import explain

    model, ds = wine
    x, bg = ds.x_val[:6], ds.x_train[:40]
    attr = explain(model, x, "shap", bg, algorithm="exact", background_size=20, seed=0)
    noise = np.random.default_rng(7).normal(size=x.shape)
    figures: dict[str, list] = {}
    for name, vals in (("shap", attr.values), ("noise", noise)):
        for fn in (deletion, insertion):
            runs = [fn(model, x[i:i + 1], vals[i:i + 1], int(attr.targets[i]), background=bg, steps=14, seed=i)
                    for i in range(len(x))]
            figures[f"{name} {fn.__name__}"] = [(round(r.ratio, 3), r.beats_random) for r in runs]
    print(json.dumps(figures))
    for fn in ("deletion", "insertion"):
        shap_ratios = [r for r, _ in figures[f"shap {fn}"]]
        noise_ratios = [r for r, _ in figures[f"noise {fn}"]]
        assert all(b for _, b in figures[f"shap {fn}"])
        # the class probability stays near 1 until its evidence is gone, so the ratios stay within ~15% of 1
        assert (np.mean(shap_ratios) < 0.92) if fn == "deletion" else (np.mean(shap_ratios) > 1.06)
        assert sum(b for _, b in figures[f"noise {fn}"]) <= 2
        assert 0.95 <= np.mean(noise_ratios) <= 1.05


def test_all_curves_take_a_few_batched_calls(linear6) -> None:
    class Counting:
        def __init__(self) -> None:
            self.calls, self.rows = 0, 0

        def __call__(self, batch: np.ndarray) -> np.ndarray:
            self.calls, self.rows = self.calls + 1, self.rows + len(batch)
            return np.asarray(linear6.predict_on_batch(batch))

    bg = np.random.default_rng(0).normal(size=(30, 6))
    for kwargs, fill_rows in (({}, 1), ({"background": bg}, 30)):
        f = Counting()
        res = insertion(linear6, X6, W6 * X6, 0, steps=20, random_orders=12, predict=f, **kwargs)
        assert f.calls <= 3 and res.model_calls == f.calls
        assert f.rows == res.model_rows == 2 + 13 * 20 * fill_rows
        assert len(res.random_curve) == len(res.random_curve_std) == 20 and len(res.random_aucs) == 12
    assert json.loads(json.dumps(res.to_dict()))["kind"] == "insertion"
    # a plain predict function in place of the model gives the same figures
    plain = insertion(lambda b: b @ W6[:, None] + B6, X6[0], W6 * X6[0], 0, steps=20, random_orders=12)
    keras_run = insertion(linear6, X6, W6 * X6, 0, steps=20, random_orders=12)
    assert np.allclose(plain.curve, keras_run.curve, atol=1e-5) and plain.random_auc == pytest.approx(
        keras_run.random_auc, abs=1e-5)


@pytest.mark.parametrize(("x", "values", "cls", "kwargs", "reason"), [
    (X6, np.ones((1, 5)), 0, {}, "not shaped like"),
    (X6, np.where(np.arange(6) == 2, np.nan, 1.0)[None], 0, {}, "NaN"),
    (X6, np.zeros((1, 6)), 0, {}, "all values are zero"),
    (X6, W6 * X6, 3, {}, "class 3 does not exist"),
    (X6, np.ones((1, 6, 2)), 2, {}, "class 2 does not exist"),
    (X6, W6 * X6, 0, {"baseline": "blur"}, "blur baseline is for images"),
    (X6, W6 * X6, 0, {"random_orders": 3}, "at least 10"),
    (X6, W6 * X6, 0, {"baseline": "grey"}, "unknown baseline"),
    (np.ones((2, 6)), np.ones((2, 6)), 0, {}, "one input at a time"),
])
def test_bad_inputs_say_why(linear6, x, values, cls, kwargs, reason) -> None:
    with pytest.raises(ExplainError, match=reason):
        deletion(linear6, x, values, cls, **kwargs)


def test_a_single_part_has_no_curve() -> None:
    model = _linear((1,), np.array([2.0]), 0.0)
    with pytest.raises(ExplainError, match="single part"):
        insertion(model, np.ones((1, 1)), np.ones((1, 1)), 0)


def _word_model(texts: np.ndarray) -> np.ndarray:
    """P(positive) = sigmoid(#good words - #bad words): a text model whose word effects are known."""
    good, bad = {"superb", "lovely", "great"}, {"dull", "boring"}
    score = np.array([sum((w in good) - (w in bad) for w in str(t).lower().split()) for t in np.ravel(texts)])
    p = 1 / (1 + np.exp(-2.0 * score))
    return np.stack([1 - p, p], axis=1)


def test_a_text_loses_its_words_everywhere_they_occur() -> None:
    text = "superb acting and a lovely plot but the ending was dull and great music"
    words = ["superb", "acting", "and", "a", "lovely", "plot", "but", "the", "ending", "was", "dull", "great", "music"]
    true = np.array([1.0 if w in ("superb", "lovely", "great") else -1.0 if w == "dull" else 0.0 for w in words])
    res = deletion(_word_model, text, true, 1, steps=14, random_orders=20, seed=0)
    assert res.baseline == "removed" and res.parts == 13 and res.model_calls == 1 and res.model_rows == 14 * 21
    assert res.curve[0] == pytest.approx(_word_model(np.array([text]))[0, 1])
    assert res.curve[3] == pytest.approx(_word_model(np.array(["acting and a plot but the ending was dull and music"]))
                                         [0, 1])  # the three good words gone after 3 of 13
    assert res.beats_random and res.ratio < 0.7
    ins = insertion(_word_model, [text], true, 1, words=words, steps=14, random_orders=20, seed=0)
    assert ins.beats_random and ins.curve[-1] == pytest.approx(res.curve[0])
    shuffled = deletion(_word_model, text, true[::-1], 1, words=words[::-1], steps=14, random_orders=20, seed=0)
    assert shuffled.curve == pytest.approx(res.curve)  # values matched to words by name, not position
    noise = [deletion(_word_model, text, np.random.default_rng(s).normal(size=13), 1, steps=14, random_orders=20,
                      seed=s).beats_random for s in range(40)]
    assert np.mean(noise) < 0.15  # a random order beats all 20 others about 1 time in 21
    with pytest.raises(ExplainError, match="1 word"):
        deletion(_word_model, "superb", np.ones(1), 1)
    with pytest.raises(ExplainError, match="no value for the word"):
        deletion(_word_model, text, true[:12], 1, words=words[:12])
    with pytest.raises(ExplainError, match="one text at a time"):
        deletion(_word_model, [text, text], true, 1)
