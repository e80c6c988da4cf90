"""The explanation service (dlcore.explain.service) on a tiny seeded Keras model with real shap and lime: the
same numbers as ``explain`` with the same seed, seed reruns, trust figures, the cost shown before running,
the refusals, one rule for naming outputs; and the computations the pages show (dlcore.explain.views)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dlcore.data import load_builtin
from dlcore.errors import ExplainError
from dlcore.explain.attribution import Attribution
from dlcore.explain.plan import DEFAULTS, EXACT_MAX_FEATURES, make_plan
from dlcore.explain.service import (
    RERUNS,
    Request,
    cost,
    explain_options,
    explain_record,
    predictions,
    refuse_generative,
    sample_counts,
    training_data,
    true_label,
)
from dlcore.explain.views import before_after_method, compare_row, feature_order, global_request, global_rows
from dlcore.models import ModelSpec, TrainConfig
from dlcore.record import ImportInfo, ModelMeta


def _meta(ds, **changes) -> ModelMeta:
    """The record a model trained on ``ds`` would be stored with."""
    fields = {"name": f"{ds.name} model", "arch": "mlp", "task": ds.task, "modality": ds.modality,
              "input_shape": tuple(ds.input_shape), "output_shape": (ds.n_outputs,),
              "class_names": tuple(ds.class_names), "feature_names": tuple(ds.feature_names),
              "config": TrainConfig(data=ds.name, model=ModelSpec(units=(8,))), "model_id": "m1"}
    return ModelMeta(**{**fields, **changes})


@pytest.fixture(scope="module")
def iris():
    import keras

    from dlcore.models import build_model, compile_model

    ds = load_builtin("iris")
    keras.utils.set_random_seed(0)
    config = TrainConfig(data="iris", model=ModelSpec(units=(8,)), epochs=5, learning_rate=1e-2)
    model = build_model(config.model, ds)
    compile_model(model, config, ds.task)
    model.fit(ds.x_train, ds.y_train, epochs=5, batch_size=16, verbose=0)
    return model, ds, _meta(ds)


@pytest.mark.parametrize("method", ["shap", "lime"])
def test_the_service_gives_the_numbers_explain_gives_with_the_same_seed(iris, method: str) -> None:
    from dlcore.explain import explain

    model, ds, meta = iris
    x = ds.x_val[2:4]
    request = Request(method, seed=4, target="all", background_size=30 if method == "shap" else None,
                      num_samples=600 if method == "lime" else None)
    got = explain_record(meta, model, ds, x, request)
    counts = {"background_size": 30} if method == "shap" else {"num_samples": 600}
    direct = explain(model, x, method, ds.x_train, seed=4, target="all", feature_names=ds.feature_names,
                     class_names=ds.class_names, **counts)
    np.testing.assert_allclose(got.attribution.values, direct.values, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got.attribution.base_values, direct.base_values, rtol=1e-6, atol=1e-9)
    assert got.attribution.seed == 4 and got.attribution.class_names == ds.class_names
    assert got.attribution.feature_names == ds.feature_names and got.reruns == ()
    assert got.trust.stability is None and got.trust.background_size == direct.background_size
    if method == "shap":
        assert got.trust.max_gap is not None and got.trust.max_gap < 1e-5  # exact Shapley values add up
    else:
        assert got.trust.local_fit == pytest.approx(float(np.mean(direct.local_fit)))


def test_the_stability_check_reruns_with_the_next_seeds_and_reports_progress(iris) -> None:
    model, ds, meta = iris
    x = ds.x_val[5:6]
    seen: list[float] = []
    got = explain_record(meta, model, ds, x, Request("lime", seed=7, num_samples=500, stability=True),
                         progress=lambda f, _: seen.append(f))
    assert len(got.reruns) == RERUNS == 2 and [r.seed for r in got.reruns] == [8, 9]
    assert got.trust.stability_seeds == (7, 8, 9) and -1 <= got.trust.stability <= 1
    assert not np.allclose(got.reruns[0].values, got.attribution.values)  # LIME's samples follow the seed
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and max(seen) <= 1.0
    assert any(f < 1 / 3 + 1e-9 for f in seen) and any(f > 2 / 3 for f in seen)  # the reruns are in the bar
    cls = int(got.attribution.targets[0])
    other = (cls + 1) % 3  # target "predicted": only each row's class was explained
    with pytest.raises(ExplainError, match="target='all'"):
        got.trust_for(other)
    assert got.trust_for(cls).stability == pytest.approx(got.trust.stability)


def test_the_cost_before_running_is_the_cost_of_what_runs(iris) -> None:
    model, ds, meta = iris
    x = ds.x_val[:2]
    lime = Request("lime", seed=0, target="all", num_samples=700)
    plan = cost(meta, model, ds, x, lime)
    assert (plan.runs, plan.model_rows, plan.plan.algorithm) == (1, 1400, "lime-tabular")
    assert plan.describe() == plan.plan.describe() and "about 1,400 model evaluations" in plan.describe()
    got = explain_record(meta, model, ds, x, lime)
    assert got.attribution.model_rows == plan.model_rows == got.cost.model_rows
    shap = Request("shap", seed=0, target="all", background_size=20)
    one = cost(meta, model, ds, x, shap)
    assert (one.plan.algorithm, one.plan.samples, one.plan.background_size) == ("exact", 2 ** 4, 20)
    assert one.model_rows == 2 * 2 ** 4 * 20 + 2 + 20
    assert 0 < explain_record(meta, model, ds, x, shap).attribution.model_rows <= one.model_rows
    three = cost(meta, model, ds, x, Request("shap", target="all", background_size=20, stability=True))
    assert three.runs == 3 and three.model_rows == 3 * one.model_rows
    assert three.describe() == one.describe() + " (x3 for the stability check)"


def test_object_masks_of_validation_rows_go_into_the_trust_figures() -> None:
    import keras

    ds = load_builtin("shapes")
    keras.utils.set_random_seed(0)
    inputs = keras.Input(ds.input_shape)
    hidden = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, activation="relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(ds.n_outputs, activation="softmax")(hidden))
    meta = _meta(ds, arch="cnn")
    request = Request("lime", seed=0, num_samples=200)
    got = explain_record(meta, model, ds, ds.x_val[3:5], request, rows=[3, 4])
    mask = ds.masks_val[3:5]
    np.testing.assert_array_equal(got.masks, mask)
    assert got.trust.object_area == pytest.approx(float(mask.mean()))
    assert 0 <= got.trust.mass_on_object <= 1
    assert got.trust_for().mass_on_object == pytest.approx(got.trust.mass_on_object)
    typed = explain_record(meta, model, ds, ds.x_val[3:5], request)  # not said to be validation rows: no masks
    assert typed.masks is None and typed.trust.mass_on_object is None


def test_generative_models_are_refused_with_todays_message(iris) -> None:
    model, ds, _ = iris
    vae = ModelMeta(name="v", arch="vae", task="generative", model_id="abc123")
    record = SimpleNamespace(model_id="abc123", meta=vae)  # as the store lists it
    for call in (lambda: refuse_generative(vae), lambda: training_data(vae),
                 lambda: cost(vae, model, ds, ds.x_val[:1], Request()),
                 lambda: explain_record(record, model, ds, ds.x_val[:1], Request())):
        with pytest.raises(ExplainError, match="model abc123 is a VAE: it draws images and makes no predict") as err:
            call()
        assert "python -m dlcore sample --model abc123 --out FILE.png" in str(err.value)
    refuse_generative(_meta(ds))  # a classifier passes


def test_an_imported_model_needs_a_data_set_that_fits_it() -> None:
    imported = ModelMeta(arch="imported", task="classification", modality="image", input_shape=(8, 8, 1),
                         output_shape=(10,), imported=ImportInfo(file="digits.keras"))
    with pytest.raises(ExplainError, match=r"imported without its training data.*--data NAME\|FILE"):
        training_data(imported)
    with pytest.raises(ExplainError, match=r"'iris' gives inputs shaped \(4,\) and the model takes \(8, 8, 1\)"):
        training_data(imported, "iris")
    ds = training_data(imported, "digits")
    assert ds.name == "digits" and ds.input_shape == (8, 8, 1)


def test_outputs_are_named_by_one_rule(iris) -> None:
    model, ds, meta = iris
    own = _meta(ds, class_names=("a", "b", "c"))  # as many names as the data set's classes: its own
    assert explain_options(own, ds, Request())["class_names"] == ("a", "b", "c")
    assert explain_record(own, model, ds, ds.x_val[:1], Request("lime", num_samples=300)).attribution.class_names == (
        "a", "b", "c")
    wrong = _meta(ds, class_names=("a", "b"))  # another count: the data set's
    assert explain_options(wrong, ds, Request())["class_names"] == ds.class_names
    assert explain_options(_meta(ds, class_names=()), ds, Request())["class_names"] == ds.class_names
    regression = load_builtin("diabetes")
    assert explain_options(_meta(regression), regression, Request())["class_names"] is None
    options = explain_options(meta, ds, Request("shap", seed=3, target=1, algorithm="exact", nsamples=50))
    assert options == {"target": 1, "algorithm": "exact", "nsamples": 50, "feature_names": ds.feature_names,
                       "class_names": ds.class_names}


def test_output_names_and_the_naming_note() -> None:
    classes = ("down", "up")
    named = ModelMeta(class_names=("neg", "pos"))
    assert named.output_names(classes) == ("neg", "pos")
    assert named.naming_note("reviews", classes).startswith(
        "The model names its outputs neg, pos; 'reviews' names its classes down, up.")
    assert "another order" not in named.naming_note("reviews", classes)
    swapped = ModelMeta(class_names=("up", "down"))
    assert swapped.output_names(classes) == ("up", "down")
    assert "the same names in another order" in swapped.naming_note("reviews", classes)
    for same in (("down", "up"), (), ("a", "b", "c")):  # matching, none, another count: the data set's, no note
        meta = ModelMeta(class_names=same)
        assert meta.output_names(classes) == classes and meta.naming_note("reviews", classes) is None
    assert ModelMeta().output_names(()) is None and ModelMeta().naming_note("diabetes", ()) is None


def test_requests_say_which_options_they_set() -> None:
    lime = Request("lime", seed=2, target="predicted").with_counts({"num_samples": 800})
    assert lime.options() == {"target": "predicted", "num_samples": 800} and lime.runs == 1
    shap = Request("shap", stability=True).with_counts({"background_size": 40, "max_evals": 99})
    assert shap.options() == {"target": "predicted", "algorithm": "auto", "background_size": 40, "max_evals": 99}
    assert shap.runs == 3 and hash(shap) == hash(Request("shap", stability=True, background_size=40, max_evals=99))
    with pytest.raises(ExplainError, match="unknown sample count"):
        Request().with_counts({"samples": 3})
    with pytest.raises(ExplainError, match="unknown target 'best'"):
        Request(target="best")


def test_sample_counts_follow_the_modality_and_the_permutation_bound() -> None:
    def by_option(counts):
        return {(c.method, c.option): c for c in counts}

    small = by_option(sample_counts("tabular", EXACT_MAX_FEATURES))
    assert list(small) == [("shap", "background_size"), ("lime", "num_samples")]
    assert (small["shap", "background_size"].default, small["shap", "background_size"].low) == (100, 10)
    assert small["lime", "num_samples"].default == DEFAULTS["lime_tabular_samples"] == 5000
    wide = by_option(sample_counts("tabular", 300))
    evals = wide["shap", "max_evals"]
    assert (evals.low, evals.default, evals.high) == (601, 601, 100_000)
    assert by_option(sample_counts("tabular", 20))["shap", "max_evals"].default == DEFAULTS["max_evals"] == 500
    x = np.zeros((1, 300), dtype=np.float32)  # the lower bound is the one the permutation explainer accepts
    assert make_plan(x, "shap", 2, x, algorithm="permutation", max_evals=evals.low).samples == evals.low
    with pytest.raises(ExplainError, match="at least 2 \\* features \\+ 1 = 601"):
        make_plan(x, "shap", 2, x, algorithm="permutation", max_evals=evals.low - 1)
    text = sample_counts("text", 0)
    assert [(c.method, c.option, c.default, c.low) for c in text] == [("shap", "max_evals", 500, 20),
                                                                       ("lime", "num_samples", 5000, 500)]
    image = by_option(sample_counts("image", 64))
    assert list(image) == [("shap", "nsamples"), ("lime", "num_samples")]
    assert (image["shap", "nsamples"].default, image["lime", "num_samples"].default) == (200, 1000)
    for counts in (small, wide, image):
        assert all(c.low <= c.default <= c.high and c.step > 0 for c in counts.values())


def test_predictions_and_true_labels(iris) -> None:
    model, ds, _ = iris
    np.testing.assert_allclose(predictions(model, ds.x_val[:4]), model.predict_on_batch(ds.x_val[:4]), rtol=1e-5,
                               atol=1e-6)
    assert true_label(ds, 0) == ds.class_names[int(ds.y_val[0])]
    regression = load_builtin("diabetes")
    assert true_label(regression, 3) == pytest.approx(float(regression.y_val[3]))


def _attr(values: np.ndarray, predictions_: np.ndarray) -> Attribution:
    n, m = values.shape[:2]
    return Attribution(values=values, base_values=np.zeros((n, values.shape[-1])),
                       inputs=np.zeros((n, m), dtype=np.float32), predictions=predictions_,
                       targets=predictions_.argmax(1), method="shap", algorithm="exact", seed=0, seconds=0.0,
                       feature_names=tuple(f"f{j}" for j in range(m)),
                       class_names=tuple(f"c{k}" for k in range(values.shape[-1])))


def test_the_global_view_draws_a_seeded_sample_and_orders_features_by_mean_abs_value() -> None:
    rows = global_rows(100, 20, seed=3)
    assert len(rows) == len(set(rows)) == 20 and list(rows) == sorted(rows) and rows.max() < 100
    np.testing.assert_array_equal(rows, global_rows(100, 20, seed=3))
    assert not np.array_equal(rows, global_rows(100, 20, seed=4))
    assert sorted(global_rows(5, 5, seed=0)) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="cannot draw 6 of 5"):
        global_rows(5, 6, seed=0)
    request = global_request(9)
    assert (request.method, request.seed, request.target, request.background_size) == ("shap", 9, "all", 50)
    values = np.zeros((2, 4, 2))
    values[:, :, 0] = [[0.1, -3.0, 0.5, 0.5], [0.1, 1.0, -0.5, 0.5]]  # means |.|: 0.1, 2.0, 0.5, 0.5
    values[:, :, 1] = [[9.0, 0.0, 0.0, 1.0], [9.0, 0.0, 0.0, 1.0]]
    attr = _attr(values, np.array([[0.6, 0.4], [0.3, 0.7]]))
    assert feature_order(attr, 0) == ["f1", "f2", "f3", "f0"]  # the tie keeps its order
    assert feature_order(attr, 1) == ["f0", "f3", "f1", "f2"]


def test_before_and_after_compares_the_true_class_and_the_rankings() -> None:
    values = np.arange(2 * 5 * 3, dtype=float).reshape(2, 5, 3) + 1
    preds = np.array([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])
    before = _attr(values, preds)
    ds = SimpleNamespace(task="classification", class_names=("a", "b", "c"), y_val=np.array([2, 0]), modality="image")
    same = compare_row(before, _attr(values.copy(), preds * 0.5), ds, row=1)
    assert (same.row, same.cls, same.class_name, same.agreement) == (1, 0, "a", 1.0)
    assert (same.before, same.after) == (pytest.approx(0.1), pytest.approx(0.05))
    assert same.what == "its true class a"
    flipped = compare_row(before, _attr(-values, preds), ds, row=0)  # the reversed ranking
    assert flipped.cls == 2 and flipped.agreement == pytest.approx(-1.0)
    regression = SimpleNamespace(task="regression", class_names=(), y_val=np.array([3.5, 1.0]), modality="tabular")
    one = _attr(values[..., :1], preds[:, :1])
    shown = compare_row(one, one, regression, row=0)
    assert (shown.cls, shown.class_name, shown.what) == (0, None, "the model's output")
    assert before_after_method(ds) == "shap" and before_after_method(SimpleNamespace(modality="text")) == "lime"
