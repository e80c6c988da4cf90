"""Integrated Gradients, SmoothGrad, Grad-CAM and occlusion through dlcore.explain: IG against a loop of single
GradientTape calls and its completeness on a digits CNN, SmoothGrad's seeding, Grad-CAM on the shipped shapes CNN
against the cells its class logit rests on, exact occlusion values, the rows each method really runs, and the
one-line refusals. One small digits CNN is trained here (2 epochs)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dlcore.data import load_builtin
from dlcore.errors import ExplainError
from tests.image_support import digits_cnn

BASE = "assets/base_shapes_cnn.keras"


@pytest.fixture(scope="module")
def shapes():
    import keras

    return keras.saving.load_model(BASE), load_builtin("shapes")


def _row_counter():
    """A pass-through layer counting the rows the model really runs (forward passes, with or without backward)."""
    import keras

    class RowCounter(keras.layers.Layer):
        def __init__(self) -> None:
            super().__init__(name="row_counter")
            self.rows = self.add_weight(shape=(), initializer="zeros", trainable=False, dtype="int64", name="rows")

        def call(self, x):
            self.rows.assign_add(keras.ops.cast(keras.ops.shape(x)[0], "int64"))
            return x

    return RowCounter()


@pytest.fixture(scope="module")
def digits():
    """A small CNN trained 2 epochs on the built-in digits (8x8 images, 10 classes), seed 0."""
    return digits_cnn(epochs=2)


@pytest.fixture(scope="module")
def tiny():
    """Untrained tiny models with a row counter: a CNN (8x8 images, 3 classes), a GRU over (5, 3) sequences,
    a linear table model and an MLP."""
    import keras

    keras.utils.set_random_seed(0)
    counters = {}

    def counted(name: str, shape: tuple[int, ...], *layers):
        inputs = keras.Input(shape)
        counters[name] = _row_counter()
        x = counters[name](inputs)
        for layer in layers:
            x = layer(x)
        return keras.Model(inputs, x, name=name)

    cnn = counted("cnn", (8, 8, 1), keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv"),
                  keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax"))
    gru = counted("gru", (5, 3), keras.layers.GRU(4), keras.layers.Dense(2, activation="softmax"))
    linear = counted("linear", (4,), keras.layers.Dense(1))
    mlp = counted("mlp", (4,), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(2, activation="softmax"))
    return {"cnn": cnn, "gru": gru, "linear": linear, "mlp": mlp}, counters


def _one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message and message
    return message


def test_ig_on_a_digits_cnn_matches_a_loop_of_single_tapes_and_is_complete(digits) -> None:
    import tensorflow as tf

    from dlcore.explain import explain

    model, ds = digits
    x = ds.x_val[:8]
    attr = explain(model, x, "ig")
    assert attr.method == "ig" and attr.algorithm == "ig-64-black" and attr.values.shape == x.shape
    gap = np.abs(attr.additivity_gap()) / attr.output_range
    print("IG completeness gap / output range, digits CNN, 64 steps:", np.round(gap, 5))
    assert gap.max() <= 0.01
    assert np.allclose(attr.base_values, model.predict_on_batch(np.zeros_like(x))[np.arange(8), attr.targets],
                       atol=1e-6)
    alphas, total = np.linspace(0.0, 1.0, 64), np.zeros(x.shape[1:], dtype=np.float64)
    for s, a in enumerate(alphas):  # the reference: one GradientTape call per interpolation point
        point = tf.constant((a * x[0].astype(np.float64))[None], dtype=tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(point)
            score = model(point)[0, int(attr.targets[0])]
        weight = 0.5 if s in (0, 63) else 1.0
        total += weight / 63 * tape.gradient(score, point).numpy()[0].astype(np.float64)
    reference = total * x[0].astype(np.float64)
    print("IG max |batched - loop|:", float(np.abs(attr.values[0] - reference).max()))
    assert np.abs(attr.values[0] - reference).max() <= 1e-5
    # the gap is measured, not assumed: at 4 points the trapezoid rule misses by more
    coarse = np.abs(explain(model, x, "ig", steps=4).additivity_gap()) / attr.output_range
    assert coarse.max() > gap.max()


def test_smoothgrad_is_seeded_and_without_noise_is_the_gradient(shapes) -> None:
    import tensorflow as tf

    from dlcore.explain import explain

    model, ds = shapes
    x = ds.x_val[:2]
    first, again = (explain(model, x, "smoothgrad", seed=3, n_samples=8) for _ in range(2))
    other = explain(model, x, "smoothgrad", seed=4, n_samples=8)
    assert first.algorithm == "smoothgrad-8" and np.abs(first.values - again.values).max() <= 1e-7
    assert np.abs(first.values - other.values).max() > 1e-3 * np.abs(first.values).max()
    plain = explain(model, x, "smoothgrad", noise=0.0, n_samples=3)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        scores = tf.gather(model(xt), plain.targets, axis=1, batch_dims=1)
    gradient = tape.gradient(scores, xt).numpy()
    assert np.abs(plain.values - gradient).max() <= 1e-6 * max(1.0, np.abs(gradient).max())


def _switched_off(model, layer: str, x: np.ndarray, cls: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """The class logits of ``model`` with the chosen cells of ``layer``'s output set to 0, ``(n,)``."""
    import keras

    out = model.get_layer("output")
    head = keras.Model(model.get_layer(layer).output, out.input)
    feats = np.asarray(keras.Model(model.inputs, model.get_layer(layer).output)(x, training=False))
    h = np.asarray(head(feats * ~cells[..., None], training=False))
    logits = h @ out.kernel.numpy() + out.bias.numpy()
    return logits[np.arange(len(x)), cls]


def _top_cells(values: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` cells of 2x2 pixels with the largest mean map value, as a boolean (rows, h/2, w/2) array."""
    cells = values[..., 0].reshape(len(values), values.shape[1] // 2, 2, values.shape[2] // 2, 2).mean(axis=(2, 4))
    order = np.argsort(-cells.reshape(len(cells), -1), axis=1)[:, :n]
    top = np.zeros(cells.reshape(len(cells), -1).shape, dtype=bool)
    np.put_along_axis(top, order, True, axis=1)
    return top.reshape(cells.shape)


def test_gradcam_on_shapes_marks_the_cells_the_class_logit_rests_on(shapes) -> None:
    from skimage.transform import downscale_local_mean

    from dlcore.explain import explain

    model, ds = shapes
    x, masks, y = ds.x_val[:8], ds.masks_val[:8], ds.y_val[:8]
    attr = explain(model, x, "gradcam")
    assert attr.algorithm == "gradcam-conv2_act" and attr.values.shape == x.shape and attr.values.min() >= 0
    assert "logit" in attr.notes[0] and np.array_equal(attr.targets, y)  # all 8 predicted right
    cls = attr.targets
    logit = _switched_off(model, "conv2_act", x, cls, np.zeros((8, 14, 14), dtype=bool))
    top = logit - _switched_off(model, "conv2_act", x, cls, _top_cells(attr.values, 31))  # 16% of the cells
    rng = np.random.default_rng(0)
    random = logit - _switched_off(model, "conv2_act", x, cls, rng.random((8, 14, 14)) < 31 / 196)
    every = explain(model, x, "gradcam", target="all").values
    other = np.stack([every[i, ..., (c + 1) % 4] for i, c in enumerate(cls)])  # another class's map
    by_other = logit - _switched_off(model, "conv2_act", x, cls, _top_cells(other, 31))
    print("logit drop, Grad-CAM's top cells off:", np.round(top, 2), "random:", np.round(random, 2),
          "another class's top cells:", np.round(by_other, 2))
    assert (top > random).sum() >= 7 and (top > by_other).sum() >= 7 and top.mean() > 3 * random.mean()
    # On the raw object mask: circles' and squares' maps lie on the object, triangles' and crosses' beside it,
    # and rightly so: switching off the object's own cells lowers their logit less than switching off the
    # cells beside it that Grad-CAM marks (conv2_act's cells see 8x8 pixels: one just outside sees the edge).
    cam = attr.values[..., 0]
    share, area = (cam * masks).sum(axis=(1, 2)) / cam.sum(axis=(1, 2)), masks.mean(axis=(1, 2))
    on_object = logit - _switched_off(model, "conv2_act", x, cls, downscale_local_mean(masks, (1, 2, 2)) > 0.5)
    print("share on the raw mask:", np.round(share, 2), "area:", np.round(area, 2), "classes:", y,
          "logit drop, object's cells off:", np.round(on_object, 2))
    filled = np.isin(y, [0, 1])
    assert (share > area)[filled].all() and (top > on_object)[~filled].all()
    # The mask share alone proves nothing about the model: the same architecture with fresh weights (every layer
    # re-initialised, Adebayo et al. 2018) puts its map on the bright object on every image, triangles and
    # crosses too, because its conv features still respond to the object's pixels.
    import keras

    keras.utils.set_random_seed(0)
    fresh = keras.models.clone_model(model)
    cam_fresh = explain(fresh, x, "gradcam").values[..., 0]
    share_fresh = (cam_fresh * masks).sum(axis=(1, 2)) / np.maximum(cam_fresh.sum(axis=(1, 2)), 1e-12)
    print("share on the raw mask, fresh weights:", np.round(share_fresh, 2))
    assert (share_fresh > area).all() and not (share > area).all()


def test_gradcam_refuses_models_without_a_usable_conv_layer(tiny, shapes) -> None:
    from dlcore.explain import estimate, explain

    models, _ = tiny
    x = np.ones((1, 4), dtype=np.float32)
    with pytest.raises(ExplainError) as err:
        explain(models["mlp"], x, "gradcam")
    assert _one_line(err) == "gradcam needs a convolutional layer; 'mlp' has none; use ig or occlusion"
    with pytest.raises(ExplainError, match="has none"):
        explain(models["gru"], np.ones((1, 5, 3)), "gradcam")
    with pytest.raises(ExplainError, match="no layer named 'conv9'"):
        estimate(shapes[0], shapes[1].x_val[:1], "gradcam", layer="conv9")

    import keras

    class Subclassed(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.head = keras.layers.Conv2D(2, 3), keras.layers.Dense(2)

        def call(self, x):
            return self.head(keras.ops.mean(self.conv(x), axis=(1, 2)))

    with pytest.raises(ExplainError) as err:
        explain(Subclassed(), np.zeros((1, 8, 8, 1), dtype=np.float32), "gradcam")
    assert "subclassed model (Subclassed)" in _one_line(err)


def test_occlusion_on_a_linear_table_model_is_leave_one_out(tiny) -> None:
    from dlcore.explain import explain

    models, _ = tiny
    rng = np.random.default_rng(0)
    x, background = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(20, 4)).astype(np.float32)
    attr = explain(models["linear"], x, "occlusion", background)
    w = models["linear"].layers[-1].get_weights()[0][:, 0]
    assert attr.algorithm == "occlusion-features" and attr.background_size == 20
    assert np.abs(attr.values - w * (x - background.mean(axis=0))).max() <= 1e-5


def test_occlusion_is_zero_where_the_model_does_not_look() -> None:
    import keras

    from dlcore.explain import explain

    keras.utils.set_random_seed(1)
    inputs = keras.Input((8, 8, 1))
    top_left = keras.layers.Cropping2D(((0, 4), (0, 4)))(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(top_left))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).uniform(0.2, 1.0, (2, 8, 8, 1)).astype(np.float32)
    attr = explain(model, x, "occlusion", patch=2, target="all")
    assert attr.algorithm == "occlusion-patch2" and attr.values.shape == (2, 8, 8, 1, 2)
    outside = np.ones((8, 8), dtype=bool)
    outside[:4, :4] = False
    assert np.abs(attr.values[:, outside]).max() <= 1e-6
    assert np.abs(attr.values[:, :4, :4]).min(axis=(1, 2)).max() > 0


class WordCounter:
    """A text model stand-in: output 0 = sum of word weights times counts, output 1 = its negative."""

    weights = {"good": 2.0, "bad": -1.5, "film": 0.25}
    inputs = [SimpleNamespace(dtype="string")]
    output_shape = (None, 2)
    name = "words"

    def predict_on_batch(self, texts):
        import re

        score = np.array([sum(self.weights.get(w, 0.0) for w in re.split(r"\W+", str(t))) for t in texts])
        return np.stack([score, -score], axis=1)


def test_occlusion_on_texts_is_exact_and_gradients_are_refused() -> None:
    from dlcore.explain import estimate, explain

    texts = ["good good film", "bad film, bad ending"]
    attr = explain(WordCounter(), texts, "occlusion", target="all")
    assert attr.feature_names == ("good", "film", "bad", "ending") and attr.texts == tuple(texts)
    assert np.array_equal(attr.inputs, [[2, 1, 0, 0], [0, 1, 2, 1]])
    expected = np.array([[4.0, 0.25, 0, 0], [0, 0.25, -3.0, 0]])
    assert np.allclose(attr.values[..., 0], expected) and np.allclose(attr.values[..., 1], -expected)
    assert attr.model_rows == estimate(WordCounter(), texts, "occlusion").model_rows == 2 + 2 + 3
    assert attr.row(1).feature_names == ("film", "bad", "ending")
    with pytest.raises(ExplainError) as err:
        explain(WordCounter(), texts, "ig")
    assert "occlusion" in _one_line(err) and "lime" in _one_line(err)


CASES = [("cnn", "ig", {"steps": 8}), ("cnn", "smoothgrad", {"n_samples": 4}),
         ("cnn", "smoothgrad", {"n_samples": 3, "over": "ig", "steps": 4, "baseline": "noise"}),
         ("cnn", "gradcam", {}), ("cnn", "occlusion", {"patch": 3, "stride": 2}),
         ("cnn", "ig", {"steps": 4, "baseline": "blur"}), ("cnn", "ig", {"steps": 4, "baseline": "mean"}),
         ("gru", "ig", {"steps": 4}), ("gru", "smoothgrad", {"n_samples": 2}), ("gru", "occlusion", {}),
         ("linear", "ig", {"steps": 4}), ("linear", "occlusion", {"background_size": 5})]
SHAPES = {"cnn": (8, 8, 1), "gru": (5, 3), "linear": (4,)}


@pytest.mark.parametrize("target", ["predicted", "all"])
def test_every_method_runs_the_rows_it_estimates(tiny, target: str) -> None:
    from dlcore.explain import estimate, explain

    models, counters = tiny
    rng = np.random.default_rng(0)
    seen: list[float] = []
    for name, method, options in CASES:
        model, shape = models[name], SHAPES[name]
        x, bg = rng.uniform(size=(2, *shape)).astype(np.float32), rng.uniform(size=(6, *shape)).astype(np.float32)
        counters[name].rows.assign(0)
        attr = explain(model, x, method, bg, target=target, progress=lambda f, _: seen.append(f), **options)
        plan = estimate(model, x, method, bg, target=target, **options)
        assert int(counters[name].rows.numpy()) == plan.model_rows == attr.model_rows, (name, method, options)
        k = model.output_shape[-1]
        assert attr.values.shape == ((2, *shape, k) if target == "all" else (2, *shape))
        assert attr.method == method and np.isfinite(attr.values).all() and attr.notes
        assert "forward+backward" in plan.describe() or method == "occlusion"
    assert seen[-1] == 1.0 and max(seen) <= 1.0


@pytest.mark.parametrize(("method", "options", "words"), [
    ("ig", {"baseline": "grey"}, "unknown baseline 'grey'"), ("ig", {"steps": 1}, "steps must be at least 2"),
    ("occlusion", {"patch": 9}, "patch 9 does not fit 8x8 images"),
    ("gradcam", {"layer": "nope"}, "no layer named 'nope'"), ("ig", {"baseline": "mean"}, "needs background"),
    ("smoothgrad", {"over": "lime"}, "unknown over='lime'"), ("saliency", {}, "unknown method 'saliency'")])
def test_bad_options_are_refused_in_one_line(tiny, method: str, options: dict, words: str) -> None:
    from dlcore.explain import estimate, explain

    model = tiny[0]["cnn"]
    x = np.zeros((1, 8, 8, 1), dtype=np.float32)
    for run in (explain, estimate):
        with pytest.raises(ExplainError) as err:
            run(model, x, method, **options)
        assert words in _one_line(err)


def test_attention_is_dispatched_or_reported_missing(tiny) -> None:
    import importlib.util

    from dlcore.explain import METHODS, explain

    assert "attention" in METHODS
    if importlib.util.find_spec("dlcore.explain.attention") is None:
        with pytest.raises(ExplainError) as err:
            explain(tiny[0]["cnn"], np.zeros((1, 8, 8, 1), dtype=np.float32), "attention")
        assert "not available" in _one_line(err)
