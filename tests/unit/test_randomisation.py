"""The model-parameter randomisation check: gradients and SHAP on a trained CNN change when its layers are
re-initialised, the input itself as an "explanation" does not, and the stored model is never touched.
One tiny CNN trained once per module; the bookkeeping tests use an untrained three-layer model."""
from __future__ import annotations

import numpy as np
import pytest

from dlcore.errors import ExplainError
from dlcore.explain.randomisation import randomisation
from tests.image_support import digits_cnn


@pytest.fixture(scope="module")
def cnn():
    model, ds = digits_cnn(epochs=6)
    assert model.evaluate(ds.x_val, ds.y_val, verbose=0)[1] > 0.7
    return model, ds


def _gradient_fn(classes: np.ndarray):
    """Saliency (gradient of the class ``classes[i]`` output for row i), the class fixed beforehand."""
    import tensorflow as tf

    def fn(model, x):
        xt = tf.constant(x, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            picked = tf.gather(model(xt, training=False), classes, axis=1, batch_dims=1)
        return tape.gradient(picked, xt).numpy()

    return fn


def _small(bn_values: float = 0.5):
    """An untrained Dense -> BatchNorm -> Dense model whose batch-norm weights are not the defaults."""
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(h))
    model.get_layer("bn").set_weights([np.full(8, bn_values, np.float32)] * 4)
    return model


def _differing(model, copy) -> set[str]:
    return {layer.name for layer, twin in zip(model.layers, copy.layers, strict=True)
            if any(not np.array_equal(a, b) for a, b in zip(layer.get_weights(), twin.get_weights(), strict=True))}


def test_gradient_on_trained_cnn_passes_and_model_untouched(cnn):
    model, ds = cnn
    x = ds.x_val[:4]
    before, predictions = [w.copy() for w in model.get_weights()], model.predict_on_batch(x)
    fn = _gradient_fn(predictions.argmax(axis=1))
    r = randomisation(model, x, fn, seed=0)
    print("gradient:", {n: round(c, 3) for n, c in zip(r.layers, r.correlations, strict=True)}, r.reason)
    assert r.layers == ("output", "dense1_dense", "conv1")
    assert r.passes and r.final < 0.4 and r.cascade
    for got, want in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(model.predict_on_batch(x), predictions)
    same = randomisation(model, x, fn, seed=0)  # seeded: the same copies, the same figures
    np.testing.assert_allclose(same.correlations, r.correlations, atol=1e-6)


def test_input_as_explanation_fails(cnn):
    model, ds = cnn
    r = randomisation(model, ds.x_val[:4], lambda m, x: x, seed=0)
    print("input itself:", np.round(r.correlations, 3), r.reason)
    assert not r.passes and "stayed" in r.reason
    np.testing.assert_allclose(r.correlations, 1.0, atol=1e-9)
    np.testing.assert_allclose(r.correlations_signed, 1.0, atol=1e-9)
    assert not randomisation(model, ds.x_val[:4], lambda m, x: x, seed=0, on="abs").passes  # fails either way
    with pytest.raises(ExplainError, match="unknown on="):
        randomisation(model, ds.x_val[:4], lambda m, x: x, on="both")


def test_shap_on_trained_cnn_signs_follow_the_model(cnn):
    from dlcore.explain import explain

    model, ds = cnn
    x, background = ds.x_val[:2], ds.x_train[:30]
    classes = model.predict_on_batch(x).argmax(axis=1)

    def shap_fn(m, rows):
        return np.stack([explain(m, rows[i:i + 1], "shap", background, seed=0, target=int(classes[i])).values[0]
                         for i in range(len(rows))])

    r = randomisation(model, x, shap_fn, seed=0)
    print("SHAP |values|:", np.round(r.correlations, 3), "signed:", np.round(r.correlations_signed, 3), r.reason)
    assert r.final_signed < 0.3 and r.passes and r.on == "signed" and r.decisive_final == r.final_signed
    assert r.correlations_signed[-1] < r.correlations[-1]  # |values| keep the input's structure
    assert r.to_dict()["decisive"] == pytest.approx(list(r.correlations_signed))


def test_cascade_and_independent_copies():
    model = _small()
    x = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    seen: list[tuple[set[str], list[np.ndarray]]] = []

    def fn(m, rows):
        seen.append((_differing(model, m), m.get_layer("bn").get_weights()))
        return rows * m.predict_on_batch(rows)[:, :1]

    randomisation(model, x, fn, seed=3, repeats=1)
    assert [s for s, _ in seen] == [set(), {"out"}, {"out", "bn"}, {"out", "bn", "hidden"}]
    for got, want in zip(seen[2][1], (1.0, 0.0, 0.0, 1.0), strict=True):  # gamma, beta, mean, variance
        np.testing.assert_array_equal(got, want)
    seen.clear()
    r = randomisation(model, x, fn, seed=3, cascade=False, repeats=1)
    assert [s for s, _ in seen] == [set(), {"out"}, {"bn"}, {"hidden"}] and not r.cascade
    seen.clear()
    r2 = randomisation(model, x, fn, seed=3, layers=["hidden"], repeats=1)
    assert r2.layers == ("hidden",) and seen[1][0] == {"hidden"}
    assert randomisation(model, x, fn, seed=3, layers=1, repeats=1).layers == ("out",)
    seen.clear()
    r3 = randomisation(model, x, fn, seed=3)  # 30 values: three random copies per layer, averaged
    assert r3.repeats == 3 and len(seen) == 1 + 3 * 3
    assert [s for s, _ in seen[1:4]] == [s for s, _ in seen[4:7]] == [{"out"}, {"out", "bn"}, {"out", "bn", "hidden"}]


def test_seed_changes_the_new_weights():
    model = _small()
    kernels = []

    def fn(m, rows):
        kernels.append(m.get_layer("out").get_weights()[0])
        return rows

    for seed in (0, 0, 1):
        randomisation(model, np.ones((2, 6), np.float32), fn, seed=seed, layers=1, repeats=1)
    np.testing.assert_array_equal(kernels[1], kernels[3])
    assert not np.allclose(kernels[1], kernels[5]) and not np.allclose(kernels[0], kernels[1])


def test_constant_explanations_and_bad_input():
    import keras

    model = _small()
    x = np.random.default_rng(1).normal(size=(3, 6)).astype(np.float32)
    r = randomisation(model, x, lambda m, rows: np.ones_like(rows))
    assert not r.passes and np.isnan(r.final) and "constant" in r.reason
    assert r.to_dict()["final"] is None
    r = randomisation(model, x, lambda m, rows: rows if m is model else np.zeros_like(rows))
    assert r.passes and np.isnan(r.final) and "constant" in r.reason
    with pytest.raises(ExplainError, match="shaped"):
        randomisation(model, x, lambda m, rows: rows[:, :3])
    with pytest.raises(ExplainError, match="no layer with weights named"):
        randomisation(model, x, lambda m, rows: rows, layers=["nope"])
    with pytest.raises(ExplainError, match="layers=9"):
        randomisation(model, x, lambda m, rows: rows, layers=9)
    inputs = keras.Input((6,))
    empty = keras.Model(inputs, keras.layers.Activation("softmax")(inputs))
    with pytest.raises(ExplainError, match="no layers with weights"):
        randomisation(empty, x, lambda m, rows: rows)
