"""Every trust figure of one explanation, on the shipped shapes CNN (no training): SHAP passes faithfulness and
the randomisation check and points at the object; pure noise is no better than random; the input itself as the
"explanation" fails the randomisation check; inputs the checks do not apply to get a reason, not a figure."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dlcore.data import load_builtin
from dlcore.errors import ExplainError
from dlcore.explain import explain
from dlcore.explain.report import check
from dlcore.explain.verdict import NOT_RELIABLE

BASE = Path(__file__).resolve().parents[2] / "assets" / "base_shapes_cnn.keras"
CONTRACT = ("verdict", "reasons", "deletion_auc", "deletion_random_auc", "insertion_auc", "insertion_random_auc",
            "randomisation", "randomisation_pass", "agreement", "stability")


@pytest.fixture(scope="module")
def shapes():
    import keras

    ds = load_builtin("shapes")
    model = keras.saving.load_model(BASE)
    x = ds.x_val[:1]
    shap = explain(model, x, "shap", ds.x_train, seed=0)
    return model, ds, x, shap


def _shap_fn(ds, cls: int):
    return lambda m, rows: explain(m, rows, "shap", ds.x_train, seed=0, target=cls).class_values(cls)


def test_shap_on_the_shapes_cnn_passes_both_checks_and_points_at_the_object(shapes) -> None:
    model, ds, x, shap = shapes
    cls = int(shap.targets[0])
    weights = [w.copy() for w in model.get_weights()]
    lime = explain(model, x, "lime", seed=0, target=cls)
    seen: list[float] = []
    r = check(model, shap, others={"LIME": lime}, explain_fn=_shap_fn(ds, cls), mask=ds.masks_val[0], seed=0,
              progress=lambda f, text: seen.append(f))
    print(r.verdict.level, r.verdict.reasons, r.randomisation.correlations_signed, r.ground_truth)
    assert r.deletion.beats_random and r.deletion.ratio < 0.7 and r.insertion.beats_random
    assert r.randomisation.passes and r.randomisation.on == "signed" and r.randomisation.decisive_final < 0.3
    assert len(r.randomisation.layers) == 4 and r.randomisation.layers[0] == "output"
    assert r.ground_truth.kind == "mask" and r.ground_truth.share > 2 * r.ground_truth.expected_share
    assert r.agreement.names == ("SHAP", "LIME") and r.agreement.k == 5  # compared superpixel by superpixel
    assert r.verdict.level != NOT_RELIABLE and seen[-1] == 1.0 and seen == sorted(seen)
    for got, want in zip(model.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, want)
    d = r.to_dict()
    assert all(key in d for key in CONTRACT) and d["ground_truth"]["kind"] == "mask"
    assert d["randomisation"] == pytest.approx(list(r.randomisation.correlations_signed))
    assert d["stability"] is None and "stability" in d["not_applicable"]


def test_noise_is_no_better_than_random_and_the_input_itself_fails_randomisation(shapes) -> None:
    model, ds, x, shap = shapes
    rng = np.random.default_rng(0)
    noise = replace(shap, values=rng.normal(size=shap.values.shape))
    r = check(model, noise, explain_fn=lambda m, rows: rng.normal(size=rows.shape), seed=0)
    print("noise:", r.deletion.ratio, r.insertion.ratio, r.verdict.reasons)
    assert not r.deletion.beats_random and not r.insertion.beats_random
    assert 0.7 < r.deletion.ratio < 1.3 and r.randomisation.passes  # noise changes too: only faithfulness catches it
    assert r.verdict.level == NOT_RELIABLE and "better than random" in r.verdict.reasons[0]
    edges = replace(shap, values=x.astype(np.float64))
    r = check(model, edges, explain_fn=lambda m, rows: rows, seed=0)
    assert not r.randomisation.passes and r.randomisation.decisive_final > 0.99
    assert r.verdict.level == NOT_RELIABLE and any("changes little" in reason for reason in r.verdict.reasons)


def test_inputs_the_checks_do_not_apply_to_get_a_reason(shapes) -> None:
    model, ds, x, shap = shapes
    zero = replace(shap, values=np.zeros_like(shap.values))
    r = check(model, zero, explain_fn=lambda m, rows: np.zeros(rows.shape))
    assert r.deletion is None and "all values are zero" in dict(r.not_applicable)["faithfulness"]
    assert not r.randomisation.passes and "constant" in r.randomisation.reason and r.verdict.level == NOT_RELIABLE
    with pytest.raises(ExplainError, match="NaN"):
        check(model, replace(shap, values=np.full(shap.values.shape, np.nan)))
    other = (int(shap.targets[0]) + 1) % 4
    with pytest.raises(ExplainError, match=f"class {other} was not explained"):
        check(model, shap, cls=other)
    r = check(model, shap)
    assert dict(r.not_applicable)["randomisation"].startswith("no way") and r.verdict.level != "reliable"
    black = replace(shap, inputs=np.zeros_like(shap.inputs))
    r = check(model, black, baseline="black")
    assert "equals its baseline" in dict(r.not_applicable)["faithfulness"]


def test_a_regression_and_a_one_feature_table_get_figures_or_reasons() -> None:
    import keras

    from dlcore.explain.verdict import CARE

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    inputs = keras.Input((5,))
    linear = keras.Model(inputs, keras.layers.Dense(1, name="out")(keras.layers.Dense(8, name="hidden")(inputs)))
    x, bg = rng.normal(size=(1, 5)).astype(np.float32), rng.normal(size=(40, 5)).astype(np.float32)
    shap = explain(linear, x, "shap", bg, seed=0)  # one output: a regression, class 0
    r = check(linear, shap, background=bg, explain_fn=lambda m, rows: explain(m, rows, "shap", bg).values, seed=0)
    assert r.cls == 0 and r.deletion is not None and r.randomisation.repeats == 3
    d = r.deletion  # starts at the prediction, ends with every feature replaced by the background rows
    assert d.curve[0] == pytest.approx(float(linear.predict_on_batch(x)[0, 0]), abs=1e-4)
    assert d.curve[-1] == pytest.approx(float(linear.predict_on_batch(bg).mean()), abs=1e-4)
    assert r.to_dict()["deletion_auc"] == pytest.approx(d.auc)
    inputs = keras.Input((1,))
    one = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    single = explain(one, np.ones((1, 1), np.float32), "shap", rng.normal(size=(20, 1)).astype(np.float32))
    r = check(one, single, background=rng.normal(size=(20, 1)), explain_fn=lambda m, rows: np.ones(rows.shape))
    skipped = dict(r.not_applicable)
    assert "single part" in skipped["faithfulness"] and "rank correlation needs at least 3" in skipped["randomisation"]
    assert r.verdict.level == CARE and any("not measured" in reason for reason in r.verdict.reasons)
