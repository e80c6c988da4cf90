"""Each explanation figure carries the numbers it was given, in the traces a reader sees."""
from __future__ import annotations

import numpy as np
import pytest

from dlcore import plots
from dlcore.explain.attribution import Attribution
from dlcore.explain.lime_explainer import grid_segments


def _table() -> Attribution:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 5)).astype(np.float32)
    values = rng.normal(size=(20, 5)) * np.array([3.0, 0.1, 1.0, 2.0, 0.5])
    preds = np.column_stack([np.full(20, 0.3), np.full(20, 0.7)])
    return Attribution(values=values, base_values=np.full(20, 0.6), inputs=x, predictions=preds,
                       targets=np.ones(20, dtype=int), method="shap", algorithm="exact", seed=0, seconds=0.1,
                       feature_names=("f0", "f1", "f2", "f3", "f4"), class_names=("no", "yes"))


def _image(method: str = "shap") -> Attribution:
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(1, 8, 8, 1)).astype(np.float32)
    segments = grid_segments(8, 8)[None]
    weights = rng.normal(size=16)
    values = weights[segments][..., None] if method == "lime" else rng.normal(size=(1, 8, 8, 1))
    return Attribution(values=values, base_values=np.zeros(1), inputs=x, predictions=np.array([[0.2, 0.8]]),
                       targets=np.array([1]), method=method, algorithm="lime-image" if method == "lime" else "gradient",
                       seed=0, seconds=0.1, feature_names=tuple(f"p{i}" for i in range(64)), class_names=("a", "b"),
                       segments=segments if method == "lime" else None,
                       local_fit=np.array([0.9]) if method == "lime" else None)


def test_importance_bar_is_mean_absolute_value_largest_on_top() -> None:
    a = _table()
    bar = plots.importance_bar(a).data[0]
    expected = np.abs(a.values).mean(axis=0)
    order = np.argsort(-expected)[::-1]
    assert list(bar.y) == [a.feature_names[j] for j in order]
    assert np.allclose(bar.x, expected[order])
    assert bar.y[-1] == "f0"


def test_beeswarm_has_every_row_of_each_top_feature() -> None:
    a = _table()
    fig = plots.beeswarm(a, max_features=3)
    assert [t.name for t in fig.data] == ["f0", "f3", "f2"]
    for trace in fig.data:
        j = a.feature_names.index(trace.name)
        assert np.allclose(trace.x, a.values[:, j]) and np.allclose(trace.customdata, a.inputs[:, j])
        assert np.allclose(sorted(trace.marker.color), np.linspace(0, 1, 20))  # colour: the value's rank


def test_waterfall_steps_from_base_to_base_plus_sum() -> None:
    a = _table()
    w = plots.waterfall(a, row=3, max_features=2).data[0]
    v = a.values[3]
    top = np.argsort(-np.abs(v))[:2]
    assert w.x[0] == pytest.approx(0.6) and list(w.measure) == ["absolute", "relative", "relative", "relative", "total"]
    assert np.allclose(w.x[1:3], v[top]) and w.x[3] == pytest.approx(np.delete(v, top).sum())
    assert w.y[3] == "3 other features"
    assert 0.6 + sum(w.x[1:4]) == pytest.approx(0.6 + v.sum())


def test_dependence_plots_value_against_attribution_coloured_by_partner() -> None:
    a = _table()
    s = plots.dependence(a, "f2", color_feature="f4").data[0]
    assert np.allclose(s.x, a.inputs[:, 2]) and np.allclose(s.y, a.values[:, 2])
    assert np.allclose(s.marker.color, a.inputs[:, 4])
    auto = plots.dependence(a, 1).data[0]
    assert not np.allclose(auto.marker.color, a.inputs[:, 1])  # the partner is another feature


def test_image_heatmap_is_centred_and_symmetric() -> None:
    a = _image()
    fig = plots.image_attribution(a)
    image, under, heat = fig.data
    assert np.allclose(image.z, a.inputs[0, ..., 0]) and np.allclose(under.z, a.inputs[0, ..., 0])
    assert np.allclose(heat.z, a.values[0, ..., 0])
    limit = np.abs(a.values).max()
    assert heat.zmid == 0 and heat.zmax == pytest.approx(limit) and heat.zmin == pytest.approx(-limit)


def test_lime_figures_carry_the_superpixel_weights() -> None:
    a = _image("lime")
    ids, weights = a.superpixel_weights(0)
    assert list(ids) == list(range(16))
    bar = plots.lime_weights(a, max_features=16).data[0]
    assert sorted(bar.x) == pytest.approx(sorted(weights))
    assert "R² 0.90" in plots.lime_weights(a).layout.title.text
    over = plots.lime_superpixels(a).data
    assert np.allclose(over[1].z, a.values[0, ..., 0]) and over[1].zmin == -over[1].zmax
    borders = [v for v in over[2].x if v is not None]
    assert len(borders) == 2 * 2 * 3 * 8  # 3 inner borders each way on a 4 x 4 grid, one segment per pixel row


def test_lime_weights_on_tables_use_lime_rules_and_colour_by_sign() -> None:
    a = _table()
    rules = tuple(tuple(f"{n} > 0" for n in a.feature_names) for _ in range(20))
    lime = Attribution(**{**a.__dict__, "method": "lime", "algorithm": "lime-tabular", "rules": rules})
    bar = plots.lime_weights(lime, row=0).data[0]
    assert set(bar.y) == set(rules[0])
    for x, colour in zip(bar.x, bar.marker.color):
        assert (colour == plots.explain.UP) == (x > 0)


def test_prediction_bar_and_html_export() -> None:
    fig = plots.prediction_bar([0.1, 0.6, 0.3], ["a", "b", "c"], explained=1)
    assert list(fig.data[0].y) == [0.1, 0.6, 0.3] and fig.data[0].marker.color[1] == plots.explain.UP
    html = plots.figure_html(fig)
    assert html.lower().startswith("<!doctype html>") and len(html) > 1_000_000  # plotly.js inside: opens offline
    assert 'src="http' not in html and '0.6' in html
