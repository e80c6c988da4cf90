"""Readable explanations: raw values shown as uploaded, one-hot and date columns summed back into their
original column, additivity kept, and figures labelled ``sex = female``. A raw table fitted with the upload
preprocessing; a linear Keras ``Dense(1)`` model with fixed weights (nothing trained)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlcore.data.preprocess import Preprocessing, fit_tabular
from dlcore.errors import ExplainError
from dlcore.explain.attribution import Attribution
from dlcore.explain.readable import readable

KINDS = {"temp_max": "numeric", "rain": "boolean", "sex": "categorical", "size": "ordinal", "date": "date"}
RAW = pd.DataFrame({
    "temp_max": [12.8, 3.1, -4.25, 20.0, 7.7, 15.5, 0.4, 9.0],
    "rain": ["yes", "no", "no", "yes", "no", "yes", "no", "no"],
    "sex": ["female", "male", "female", None, "male", "female", "male", "male"],
    "size": ["low", "high", "medium", "low", "high", "medium", "low", "high"],
    "date": ["2012-01-01", "2012-03-15", "2013-07-04", "2014-12-31", "2015-02-28", "2012-06-30", "2016-02-29",
             "2013-11-11"],
})
EXPECTED = [("12.8", "true", "female", "low", "2012-01-01"), ("3.1", "false", "male", "high", "2012-03-15"),
            ("-4.25", "false", "female", "medium", "2013-07-04"), ("20", "true", "(missing)", "low", "2014-12-31")]


@pytest.fixture(scope="module")
def prep() -> Preprocessing:
    return fit_tabular(RAW, KINDS, orders={"size": ["low", "medium", "high"]})


@pytest.fixture(scope="module")
def linear(prep):
    """SHAP of a linear Dense(1) model with fixed weights on the first 4 rows, the 8 rows as background."""
    import keras

    from dlcore.explain import explain

    x = prep.transform(RAW)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(1)])
    weights = np.linspace(-1.0, 1.5, x.shape[1], dtype=np.float32)[:, None]
    model.layers[0].set_weights([weights, np.array([0.25], np.float32)])
    attr = explain(model, x[:4], "shap", x, seed=0, algorithm="exact", feature_names=prep.output_names())
    return attr, weights[:, 0], x


def _by_hand(prep: Preprocessing, n_outputs: int = 2) -> Attribution:
    """A made-up explanation of every row for every output, with rules as LIME gives them."""
    x = prep.transform(RAW)
    names = tuple(prep.output_names())
    values = np.random.default_rng(0).normal(size=(len(x), x.shape[1], n_outputs))
    predictions = values.sum(axis=1) + 0.5
    rules = tuple(tuple(f"{name} <= {v:.2f}" for name, v in zip(names, row)) for row in x)
    return Attribution(values=values, base_values=np.full((len(x), n_outputs), 0.5), inputs=x, predictions=predictions,
                       targets=np.zeros(len(x), dtype=int), method="shap", algorithm="exact", seed=0, seconds=0.0,
                       feature_names=names, class_names=tuple(f"c{k}" for k in range(n_outputs)), rules=rules)


def test_display_shows_the_raw_values_of_the_rows(prep, linear) -> None:
    attr, _, _ = linear
    r = readable(attr, prep)
    assert r.feature_names == tuple(KINDS)
    assert r.display == tuple(EXPECTED)
    assert readable(_by_hand(prep), prep.to_dict()).display[6] == ("0.4", "false", "male", "low", "2016-02-29")


def test_grouped_values_sum_the_one_hot_and_date_columns_for_every_class(prep) -> None:
    attr = _by_hand(prep)
    r = readable(attr, prep)
    names = prep.output_names()
    sex = [j for j, n in enumerate(names) if n.startswith("sex=")]
    date = [j for j, n in enumerate(names) if n.startswith("date.")]
    assert len(sex) == 3 and len(date) == 4 and r.values.shape == (8, 5, 2)
    assert np.allclose(r.values[:, 2], attr.values[:, sex].sum(axis=1))
    assert np.allclose(r.values[:, 4], attr.values[:, date].sum(axis=1))
    assert np.allclose(r.values[:, [0, 1, 3]], attr.values[:, [0, 1, names.index("size")]])
    assert np.allclose(r.additivity_gap(1), attr.additivity_gap(1), atol=1e-9)
    # inputs: the category's index in the column's categories, a date's day number from 1970-01-01
    categories = prep.params["columns"][2]["categories"]
    assert [categories[int(k)] for k in r.inputs[:3, 2]] == ["female", "male", "female"]
    assert r.inputs[0, 4] == pytest.approx(15340.0) and r.inputs[1, 4] - r.inputs[0, 4] == pytest.approx(74.0)
    assert r.rules[0][2] == "; ".join(attr.rules[0][j] for j in sex)


def test_shap_additivity_is_unchanged_by_grouping(prep, linear) -> None:
    attr, weights, x = linear
    r = readable(attr, prep)
    assert np.abs(attr.additivity_gap()).max() < 1e-5
    assert np.allclose(r.additivity_gap(), attr.additivity_gap(), atol=1e-6)
    expected = weights * (x[:4] - x.mean(axis=0))  # exact Shapley values of a linear model
    assert np.allclose(attr.values, expected, atol=1e-5)
    assert np.allclose(r.values[:, 2], expected[:, 2:5].sum(axis=1), atol=1e-5)


def test_without_grouping_every_column_stays_with_its_display(prep, linear) -> None:
    attr, _, _ = linear
    r = readable(attr, prep, group=False)
    assert r.feature_names == attr.feature_names and np.array_equal(r.values, attr.values)
    assert r.display[0] == ("12.8", "true", "0", "1", "0", "low", "2012", "1", "1", "6")  # 2012-01-01: a Sunday
    assert r.display[3][2:5] == ("1", "0", "0")  # (missing) is its own one-hot column


def test_rows_tables_and_dicts_carry_the_raw_values(prep, linear) -> None:
    attr, _, _ = linear
    r = readable(attr, prep)
    one = r.row(2)
    assert one.display == (EXPECTED[2],)
    table = r.to_frame()
    assert list(table["raw"][:5]) == list(EXPECTED[0]) and {"input", "attribution"} <= set(table.columns)
    assert r.to_dict()["rows"][1]["raw"] == list(EXPECTED[1])
    top = r.top_features(0, k=5)
    assert {t["feature"]: t["raw"] for t in top} == dict(zip(KINDS, EXPECTED[0]))
    assert "raw" not in attr.to_frame().columns and "raw" not in attr.top_features(0)[0]
    with pytest.raises(ValueError, match="display"):
        Attribution(**{**{k: getattr(attr, k) for k in ("values", "base_values", "inputs", "predictions", "targets",
                                                          "method", "algorithm", "seed", "seconds", "feature_names",
                                                          "class_names")}, "display": (("1",),)})


def test_other_preprocessings_return_the_same_object(prep, linear) -> None:
    attr, _, _ = linear
    assert readable(attr, Preprocessing.identity()) is attr
    assert readable(attr, {"kind": "image", "params": {"height": 2, "width": 5, "channels": 1}}) is attr
    assert readable(attr, {}) is attr
    wrong = fit_tabular(RAW, {"temp_max": "numeric"})
    with pytest.raises(ExplainError, match="preprocessing"):
        readable(attr, wrong)


def test_figures_show_raw_values(prep, linear) -> None:
    from dlcore import plots

    attr, _, _ = linear
    r = readable(attr, prep)
    labels = list(plots.waterfall(r, 0).data[0].y)
    assert "sex = female" in labels and "temp_max = 12.8" in labels and "date = 2012-01-01" in labels
    plain = list(plots.waterfall(attr, 0).data[0].y)
    assert f"temp_max = {attr.inputs[0, 0]:.3g}" in plain and "temp_max = 12.8" not in plain  # as before: model input
    lime = readable(_by_hand(prep), prep)
    assert {"sex = female", "rain = true"} <= set(plots.lime_weights(lime, 0, 0).data[0].y)
    swarm = plots.beeswarm(r)
    sex = next(t for t in swarm.data if t.name == "sex")
    assert list(sex.customdata) == [e[2] for e in EXPECTED] and "sex = %{customdata}" in sex.hovertemplate
    dep = plots.dependence(r, "temp_max", "sex")
    assert dep.data[0].customdata[0].tolist() == ["12.8", "female"]
