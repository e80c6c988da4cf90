"""SHAP and LIME through dlcore.explain: exact values, additivity, determinism, odd layers, the
DeepExplainer guard, large batches, and the trust figures. Tiny models trained once per session."""
from __future__ import annotations

import numpy as np
import pytest

from bench.shapley_reference import brute_force_shapley
from dlcore.data import load_builtin
from dlcore.errors import ExplainError


def _train(data: str, spec_kwargs: dict, epochs: int, seed: int = 0):
    import keras

    from dlcore.models import ModelSpec, TrainConfig, build_model, compile_model

    ds = load_builtin(data)
    keras.utils.set_random_seed(seed)
    config = TrainConfig(data=data, model=ModelSpec(**spec_kwargs), epochs=epochs, seed=seed, learning_rate=3e-3)
    model = build_model(config.model, ds)
    compile_model(model, config, ds.task)
    model.fit(ds.x_train, ds.y_train, epochs=epochs, batch_size=32, verbose=0)
    return model, ds


@pytest.fixture(scope="session")
def wine():
    return _train("wine", {"arch": "mlp", "units": (16,)}, epochs=8)


@pytest.fixture(scope="session")
def digits():
    return _train("digits", {"arch": "cnn", "filters": (8,), "units": (16,)}, epochs=2)


def _odd_layers_model(shape: tuple[int, ...], n_classes: int):
    import keras

    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(6, 3, padding="same")(inputs)
    x = keras.layers.LeakyReLU(negative_slope=0.1)(x)
    x = keras.layers.Activation("gelu")(x)
    x = keras.layers.LayerNormalization()(x)
    x = keras.layers.GlobalMaxPooling2D()(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_exact_shap_equals_brute_force_shapley_values(wine) -> None:
    from dlcore.explain import explain
    from dlcore.explain.plan import BatchedPredict, summarize_background

    model, ds = wine
    assert len(ds.feature_names) == 13
    background = summarize_background(ds.x_train, 20, seed=0)
    attr = explain(model, ds.x_val[:3], "shap", background, target="all", background_size=20)
    assert attr.algorithm == "exact" and attr.background_size == 20 and attr.values.shape == (3, 13, 3)
    f = BatchedPredict(model)
    out_range = np.ptp(f(np.concatenate([background, ds.x_val[:3]])), axis=0).max()
    for i in range(3):
        phi, base = brute_force_shapley(f, ds.x_val[i], background)
        assert np.abs(attr.values[i] - phi).max() <= 1e-4 * out_range
        assert np.allclose(attr.base_values[i], base, atol=1e-6)


@pytest.mark.parametrize("algorithm", ["exact", "permutation"])
def test_tabular_shap_values_add_up_to_prediction_minus_base(wine, algorithm: str) -> None:
    from dlcore.explain import explain

    model, ds = wine
    attr = explain(model, ds.x_val[:4], "shap", ds.x_train, algorithm=algorithm, target="all", background_size=30)
    for k in range(3):
        gap = attr.additivity_gap(k)
        assert np.abs(gap).max() < 1e-5
        manual = attr.base_values[:, k] + attr.values[..., k].sum(axis=1) - attr.predictions[:, k]
        assert np.allclose(gap, manual)
    assert attr.model_rows > 0 and attr.seconds > 0


def test_gradient_shap_reports_its_additivity_gap(digits) -> None:
    from dlcore.explain import explain

    model, ds = digits
    attr = explain(model, ds.x_val[:2], "shap", ds.x_train, seed=3, class_names=ds.class_names)
    assert attr.algorithm == "gradient" and attr.values.shape == (2, 8, 8, 1)
    assert np.array_equal(attr.targets, attr.predictions.argmax(axis=1))
    gap = attr.additivity_gap()
    expected = attr.base_values + attr.values.reshape(2, -1).sum(axis=1) - attr.predictions.max(axis=1)
    assert np.allclose(gap, expected) and np.abs(gap).max() < 0.3
    assert attr.background_size == 100 and any("100 of" in n for n in attr.notes)


def test_same_seed_same_values_and_lime_changes_with_the_seed(wine, digits) -> None:
    from dlcore.explain import explain

    (tab, tds), (img, ids) = wine, digits
    cases = [(tab, tds.x_val[:2], "shap", {"algorithm": "permutation", "background_size": 20}),
             (img, ids.x_val[:1], "shap", {}), (tab, tds.x_val[:2], "lime", {}), (img, ids.x_val[:1], "lime", {})]
    for model, x, method, opts in cases:
        a = explain(model, x, method, tds.x_train if x.ndim == 2 else ids.x_train, seed=5, **opts)
        b = explain(model, x, method, tds.x_train if x.ndim == 2 else ids.x_train, seed=5, **opts)
        assert np.array_equal(a.values, b.values), (method, x.shape)
        if method == "lime":
            c = explain(model, x, method, tds.x_train if x.ndim == 2 else ids.x_train, seed=6, **opts)
            assert not np.allclose(a.values, c.values)


def test_lime_row_does_not_depend_on_the_other_rows(wine) -> None:
    from dlcore.explain import explain

    model, ds = wine
    both = explain(model, ds.x_val[[4, 9]], "lime", ds.x_train, seed=1)
    alone = explain(model, ds.x_val[[9]], "lime", ds.x_train, seed=1)
    assert np.allclose(both.values[1], alone.values[0])
    assert both.local_fit is not None and 0 < both.local_fit.min() <= both.local_fit.max() <= 1
    assert len(both.rules[0]) == 13 and any(op in both.rules[0][0] for op in ("<", ">"))


class CountingModel:
    """A model stand-in that records the batch sizes it is called with."""

    def __init__(self, model) -> None:
        self.model, self.sizes = model, []
        self.inputs, self.input_shape, self.output_shape = model.inputs, model.input_shape, model.output_shape

    def predict_on_batch(self, x):
        self.sizes.append(len(x))
        return self.model.predict_on_batch(x)


def test_lime_calls_the_model_on_large_batches(digits) -> None:
    from dlcore.explain import explain

    model, ds = digits
    spy = CountingModel(model)
    attr = explain(spy, ds.x_val[:2], "lime", num_samples=1000)
    sampling = [s for s in spy.sizes if s > 2]  # the rest: predictions for the two inputs
    assert sampling == [1000, 1000] and attr.model_rows == 2000
    assert attr.segments is not None and attr.segments.shape == (2, 8, 8) and attr.segments.max() == 15


def test_odd_layers_are_explained_without_error(digits) -> None:
    from dlcore.explain import explain

    _, ds = digits
    model = _odd_layers_model(ds.input_shape, 10)
    model.fit(ds.x_train[:256], ds.y_train[:256], epochs=1, verbose=0)
    for method in ("shap", "lime"):
        attr = explain(model, ds.x_val[:2], method, ds.x_train, target="all", nsamples=50)
        assert attr.values.shape == (2, 8, 8, 1, 10) and np.isfinite(attr.values).all()
        assert np.abs(attr.values).max() > 0


def test_training_still_works_after_deep_explainer_fails(digits) -> None:
    from tensorflow.python.eager import execute as tf_execute
    from tensorflow.python.framework import ops as tf_ops

    from dlcore.explain import explain

    _, ds = digits
    record_before = tf_execute.record_gradient
    registry_before = {k: v["type"] for k, v in tf_ops._gradient_registry._registry.items()}
    model = _odd_layers_model(ds.input_shape, 10)
    attr = explain(model, ds.x_val[:1], "shap", ds.x_train, algorithm="deep", background_size=20, nsamples=50)
    assert attr.algorithm == "gradient" and "DeepExplainer failed" in attr.notes[-1]
    assert tf_execute.record_gradient is record_before
    assert {k: v["type"] for k, v in tf_ops._gradient_registry._registry.items()} == registry_before
    fresh = _odd_layers_model(ds.input_shape, 10)
    history = fresh.fit(ds.x_train[:512], ds.y_train[:512], epochs=2, batch_size=64, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[1] < losses[0]


def test_deep_explainer_runs_on_a_plain_cnn(digits) -> None:
    from dlcore.explain import explain

    model, ds = digits
    attr = explain(model, ds.x_val[:2], "shap", ds.x_train, algorithm="deep", background_size=30)
    assert attr.algorithm == "deep" and not attr.notes[1:]
    assert np.abs(attr.additivity_gap()).max() < 0.05


def test_plan_chooses_the_algorithm_and_counts_model_rows(wine) -> None:
    from dlcore.explain import estimate, explain

    model, ds = wine
    plan = estimate(model, ds.x_val[:2], "shap", ds.x_train, background_size=25)
    assert (plan.algorithm, plan.samples, plan.background_size) == ("exact", 2 ** 13, 25)
    assert plan.model_rows == 2 * 2 ** 13 * 25 + 2 + 25
    attr = explain(model, ds.x_val[:2], "shap", ds.x_train, background_size=25)
    assert 0 < attr.model_rows <= plan.model_rows
    wide = np.random.default_rng(0).normal(size=(5, 20)).astype(np.float32)
    from dlcore.explain.plan import make_plan

    assert make_plan(wide, "shap", 2, wide).algorithm == "permutation"
    lime = estimate(model, ds.x_val[:3], "lime", ds.x_train, num_samples=700)
    assert lime.model_rows == 2100 and lime.algorithm == "lime-tabular"
    assert "about 2,100 model evaluations" in lime.describe()


def test_progress_is_reported_up_to_done(wine) -> None:
    from dlcore.explain import explain

    model, ds = wine
    seen: list[float] = []
    explain(model, ds.x_val[:2], "shap", ds.x_train, background_size=40, progress=lambda f, _: seen.append(f))
    assert len(seen) >= 2 and seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen) and seen == sorted(seen)


def test_bad_requests_name_the_fix(wine) -> None:
    from dlcore.explain import explain

    model, ds = wine
    with pytest.raises(ExplainError, match="background"):
        explain(model, ds.x_val[:1], "shap")
    with pytest.raises(ExplainError, match="do not fit the model's input"):
        explain(model, np.zeros((1, 5)), "shap", ds.x_train)
    with pytest.raises(ExplainError, match="shap or lime"):
        explain(model, ds.x_val[:1], "anchors", ds.x_train)
    attr = explain(model, ds.x_val[:1], "lime", ds.x_train, target=2)
    assert attr.targets.tolist() == [2]
    with pytest.raises(ExplainError, match="target='all'"):
        attr.class_values(0)


@pytest.mark.slow
def test_explanations_of_shapes_point_at_the_object() -> None:
    from dlcore.explain import explain
    from dlcore.explain.trust import assess, rerun_seeds

    model, ds = _train("shapes", {"arch": "cnn", "filters": (8, 16), "units": (32,)}, epochs=3)
    x, masks = ds.x_val[:6], ds.masks_val[:6]
    for method in ("shap", "lime"):
        attr = explain(model, x, method, ds.x_train, seed=0)
        trust = assess(attr, masks=masks, reruns=rerun_seeds(model, x, attr, ds.x_train) if method == "lime" else ())
        assert 0.05 < trust.object_area < 0.35
        assert trust.mass_on_object > 2 * trust.object_area, method  # far above a map that ignores the object
        if method == "lime":
            assert trust.local_fit is not None and trust.local_fit > 0.3
            assert 0.3 < trust.stability < 1.0 and trust.stability_seeds == (0, 1, 2)
        else:
            assert trust.relative_gap is not None and trust.relative_gap < 0.2
        assert {r["check"] for r in trust.rows()} >= {"background", "attribution on the object"}
