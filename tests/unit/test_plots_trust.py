"""The trust figures carry the numbers of their results, and error bars carry the spread of the features drawn."""
from __future__ import annotations

import numpy as np
import pytest

from dlcore import plots
from dlcore.explain.agreement import AgreementMatrix
from dlcore.explain.attribution import Attribution
from dlcore.explain.faithfulness import Faithfulness
from dlcore.explain.lime_explainer import grid_segments
from dlcore.explain.randomisation import Randomisation
from dlcore.plots import trust

FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _faith(kind: str, curve: tuple[float, ...], auc: float, beats: bool, ratio: float | None = 0.47) -> Faithfulness:
    return Faithfulness(kind=kind, fractions=FRACTIONS, curve=curve, auc=auc,
                        random_curve=(0.9, 0.7, 0.5, 0.3, 0.1), random_curve_std=(0.0, 0.05, 0.1, 0.05, 0.0),
                        random_auc=0.45, random_auc_std=0.03, random_aucs=(0.42, 0.45, 0.48), ratio=ratio,
                        beats_random=beats, cls=1, parts=64, baseline="black", model_calls=3, model_rows=60)


def _randomisation(correlations: tuple[float, ...], signed: tuple[float, ...], passes: bool,
                   cascade: bool = True) -> Randomisation:
    return Randomisation(layers=("dense_1", "dense", "conv2d"), correlations=correlations, final=correlations[-1],
                         correlations_signed=signed, final_signed=signed[-1], threshold=0.5, cascade=cascade,
                         passes=passes, reason="" if passes else "the map survives re-initialising every layer")


def _table() -> Attribution:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 5)).astype(np.float32)
    values = rng.normal(size=(20, 5)) * np.array([3.0, 0.1, 1.0, 2.0, 0.5])
    preds = np.column_stack([np.full(20, 0.3), np.full(20, 0.7)])
    return Attribution(values=values, base_values=np.full(20, 0.6), inputs=x, predictions=preds,
                       targets=np.ones(20, dtype=int), method="shap", algorithm="exact", seed=0, seconds=0.1,
                       feature_names=("f0", "f1", "f2", "f3", "f4"), class_names=("no", "yes"))


def test_faithfulness_curves_draw_the_band_the_mean_and_the_explanation() -> None:
    good = _faith("deletion", (0.9, 0.3, 0.15, 0.1, 0.1), 0.21, beats=True)
    bad = _faith("insertion", (0.1, 0.2, 0.3, 0.5, 0.9), 0.38, beats=False, ratio=None)
    fig = trust.faithfulness_curves(good, bad)
    assert len(fig.data) == 8
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0].startswith("deletion: AUC 0.210 vs random 0.450 ± 0.030")
    assert "ratio 0.47, beats random" in titles[0]
    assert titles[1].startswith("insertion: AUC 0.380") and "ratio n/a, does not beat random" in titles[1]
    mean, std = np.array(good.random_curve), np.array(good.random_curve_std)
    for panel, f in ((fig.data[:4], good), (fig.data[4:], bad)):
        lower, upper, random_mean, curve = panel
        assert np.allclose(lower.y, mean - std) and np.allclose(upper.y, mean + std)
        assert upper.fill == "tonexty" and lower.fill is None  # the band fills from the upper edge down to the lower
        assert np.allclose(random_mean.y, mean) and np.allclose(curve.y, f.curve)
        assert np.allclose(curve.x, FRACTIONS)
        assert len({t.xaxis for t in panel}) == 1  # the four lines share their panel
    assert fig.data[0].xaxis != fig.data[4].xaxis
    assert "removed" in fig.data[3].hovertemplate and "revealed" in fig.data[7].hovertemplate
    assert fig.layout.xaxis.title.text == "fraction of the 64 parts removed"
    assert sum(bool(t.showlegend) for t in fig.data) == 3  # one legend entry per kind of line, not per panel


def test_faithfulness_curves_with_one_result_or_none() -> None:
    only = trust.faithfulness_curves(None, _faith("insertion", (0.1, 0.5, 0.8, 0.9, 0.9), 0.7, beats=True))
    assert len(only.data) == 4 and only.layout.annotations[0].text.startswith("insertion: AUC 0.700")
    with pytest.raises(ValueError, match="deletion or an insertion"):
        trust.faithfulness_curves(None, None)


def test_randomisation_curve_shows_both_correlations_and_the_threshold() -> None:
    r = _randomisation((0.8, 0.4, 0.1), (0.7, 0.2, -0.05), passes=True)
    fig = trust.randomisation_curve(r)
    absolute, signed = fig.data[:2]
    assert list(absolute.x) == ["+ dense_1", "+ dense", "+ conv2d"] and list(signed.x) == list(absolute.x)
    assert np.allclose(absolute.y, r.correlations) and np.allclose(signed.y, r.correlations_signed)
    assert len(fig.data) == 2  # no undefined points
    (line,) = fig.layout.shapes
    assert line.y0 == pytest.approx(0.5) and line.y1 == pytest.approx(0.5) and line.line.dash == "dash"
    assert tuple(fig.layout.yaxis.range) == (-1, 1)
    assert "passes" in fig.layout.title.text and "final ρ 0.10 (|values|), -0.05 (signed)" in fig.layout.title.text
    failing = trust.randomisation_curve(_randomisation((0.95, 0.9, 0.88), (0.9, 0.9, 0.85), passes=False,
                                                       cascade=False))
    assert list(failing.data[0].x) == ["dense_1", "dense", "conv2d"]
    assert "Independent" in failing.layout.title.text and "fails" in failing.layout.title.text
    assert "survives re-initialising" in failing.layout.title.text


def test_randomisation_curve_leaves_gaps_at_undefined_correlations_and_says_why() -> None:
    nan = float("nan")
    r = _randomisation((0.6, nan, nan), (0.5, nan, 0.2), passes=True)
    fig = trust.randomisation_curve(r)
    absolute, signed, undefined = fig.data
    assert list(absolute.y) == [0.6, None, None] and list(signed.y) == [0.5, None, 0.2]
    assert absolute.connectgaps is False and len(absolute.x) == 3  # the points stay, as gaps
    assert list(undefined.x) == ["+ dense", "+ conv2d", "+ dense"] and np.allclose(undefined.y, 0.0)
    assert all("constant explanation" in t for t in undefined.text)
    assert "signed values" in undefined.text[2]


def test_agreement_heatmap_has_rho_in_cells_and_overlap_in_hover() -> None:
    rho = np.array([[1.0, 0.35, -0.2], [0.35, 1.0, np.nan], [-0.2, np.nan, 1.0]])
    overlap = np.array([[1.0, 0.6, 0.2], [0.6, 1.0, 0.0], [0.2, 0.0, 1.0]])
    m = AgreementMatrix(names=("shap", "lime", "ig"), rho=rho, overlap=overlap, k=5)
    heat = trust.agreement_heatmap(m).data[0]
    assert np.allclose(np.array(heat.z, dtype=float), rho, equal_nan=True)
    assert heat.text[0][1] == "0.35" and heat.text[1][2] == "n/a" and heat.texttemplate == "%{text}"
    assert heat.customdata[0][1] == "0.60" and heat.customdata[0][2] == "0.20"
    assert heat.zmin == -1 and heat.zmax == 1 and heat.zmid == 0
    assert "top-5 overlap" in heat.hovertemplate and list(heat.x) == list(m.names)
    assert "top-5" in trust.agreement_heatmap(m).layout.title.text


def test_spread_map_sums_channels_and_keeps_image_orientation() -> None:
    spread = np.random.default_rng(0).uniform(size=(6, 4, 3))
    fig = trust.spread_map(spread, title="SHAP spread over 3 seeds")
    heat = fig.data[0]
    assert np.allclose(heat.z, spread.sum(axis=-1)) and heat.zmin == 0
    assert heat.zmax == pytest.approx(spread.sum(axis=-1).max())
    assert fig.layout.yaxis.autorange == "reversed" and fig.layout.yaxis.scaleanchor == "x"
    assert fig.layout.title.text == "SHAP spread over 3 seeds"
    assert np.allclose(trust.spread_map(spread[..., 0]).data[0].z, spread[..., 0])
    with pytest.raises(ValueError, match="height, width"):
        trust.spread_map(spread[None])
    with pytest.raises(ValueError, match="negative"):
        trust.spread_map(-spread)


def test_importance_bar_error_bars_are_the_mean_spread_of_the_features_drawn() -> None:
    a = _table()
    spread = np.tile(np.array([0.1, 0.2, 0.3, 0.4, 0.5]), (20, 1))
    spread[0] += 1.0  # mean over rows: 0.15, 0.25, ...
    plain = plots.importance_bar(a, max_features=3)
    bar = plots.importance_bar(a, max_features=3, spread=spread).data[0]
    assert list(bar.y) == list(plain.data[0].y) == ["f2", "f3", "f0"]  # the bars themselves do not change
    assert np.allclose(bar.error_x.array, [0.35, 0.45, 0.15]) and bar.error_x.symmetric
    assert "spread across seeds" in bar.hovertemplate and np.allclose(bar.customdata, bar.error_x.array)
    assert plain.data[0].error_x.array is None and "spread" not in plain.data[0].hovertemplate
    with pytest.raises(ValueError, match=r"spread shaped \(5, 20\) does not match the values drawn \(20, 5\)"):
        plots.importance_bar(a, spread=spread.T)
    with pytest.raises(ValueError, match="non-negative"):
        plots.importance_bar(a, spread=-spread)


def test_waterfall_error_bars_sit_at_the_end_of_each_feature_step() -> None:
    a = _table()
    spread = np.array([0.01, 0.02, 0.03, 0.04, 0.05])
    fig = plots.waterfall(a, row=3, max_features=2, spread=spread)
    steps, bars = fig.data
    v = a.values[3]
    top = np.argsort(-np.abs(v))[:2]
    assert np.allclose(bars.error_x.array, spread[top]) and list(bars.y) == list(steps.y[1:3])
    assert np.allclose(bars.x, 0.6 + np.cumsum(v[top]))
    assert "± 0.0" in steps.customdata[1] and "spread across seeds" in steps.customdata[1]
    assert steps.customdata[0] == steps.customdata[3] == ""  # the base and the summed rest get no spread
    assert len(plots.waterfall(a, row=3, max_features=2).data) == 1
    with pytest.raises(ValueError, match="does not match"):
        plots.waterfall(a, row=3, spread=spread[:4])


def test_lime_weights_error_bars_follow_the_bars_for_rules_and_superpixels() -> None:
    a = _table()
    rules = tuple(tuple(f"{n} > 0" for n in a.feature_names) for _ in range(20))
    lime = Attribution(**{**a.__dict__, "method": "lime", "algorithm": "lime-tabular", "rules": rules})
    spread = np.array([0.5, 0.4, 0.3, 0.2, 0.1])
    bar = plots.lime_weights(lime, row=2, spread=spread).data[0]
    assert np.allclose(bar.error_x.array, [spread[rules[2].index(label)] for label in bar.y])
    rng = np.random.default_rng(1)
    segments = grid_segments(8, 8)[None]
    image = Attribution(values=rng.normal(size=16)[segments][..., None], base_values=np.zeros(1),
                        inputs=rng.uniform(size=(1, 8, 8, 1)), predictions=np.array([[0.2, 0.8]]),
                        targets=np.array([1]), method="lime", algorithm="lime-image", seed=0, seconds=0.1,
                        feature_names=tuple(f"p{i}" for i in range(64)), class_names=("a", "b"), segments=segments)
    pixel_spread = 0.01 * segments[0] + 0.001  # each superpixel's pixels share their spread
    bar = plots.lime_weights(image, max_features=6, spread=pixel_spread[..., None]).data[0]
    ids = [int(label.split()[-1]) for label in bar.y]
    assert len(ids) == 6 and np.allclose(bar.error_x.array, 0.01 * np.array(ids) + 0.001)


def test_every_trust_figure_exports_to_html() -> None:
    figures = [trust.faithfulness_curves(_faith("deletion", (0.9, 0.3, 0.15, 0.1, 0.1), 0.21, beats=True), None),
               trust.randomisation_curve(_randomisation((0.6, float("nan"), 0.1), (0.5, 0.3, 0.2), passes=True)),
               trust.agreement_heatmap(AgreementMatrix(("a", "b"), np.eye(2), np.eye(2), k=3)),
               trust.spread_map(np.ones((4, 4)))]
    for fig in figures:
        html = plots.figure_html(fig)
        assert html.lower().startswith("<!doctype html>") and fig.layout.title.text.split("<")[0][:20] in html


def test_faithfulness_curves_stack_for_a_narrow_column() -> None:
    good = _faith("deletion", (0.9, 0.3, 0.15, 0.1, 0.1), 0.21, beats=True)
    ins = _faith("insertion", (0.1, 0.5, 0.8, 0.9, 0.9), 0.7, beats=True)
    side, stacked = trust.faithfulness_curves(good, ins), trust.faithfulness_curves(good, ins, stacked=True)
    assert side.layout.xaxis.domain[1] < side.layout.xaxis2.domain[0]  # side by side
    assert stacked.layout.xaxis.domain == stacked.layout.xaxis2.domain  # one above the other
    assert stacked.layout.yaxis.domain[0] > stacked.layout.yaxis2.domain[1] and stacked.layout.height == 840
