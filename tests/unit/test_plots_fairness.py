"""The fairness figures draw the numbers of their records: rates, the four-fifths line, counts, proxy scores,
per-group attributions and the accuracy / disparity points; small groups and failing ones are marked."""
from __future__ import annotations

import numpy as np
import pytest

from dlcore import plots
from dlcore.fairness.audit import FOUR_FIFTHS, FairnessReport, GroupMetrics
from dlcore.fairness.disparity import Disparity
from dlcore.fairness.groups import DataGroups, GroupShare
from dlcore.fairness.proxies import ALL_INPUTS, PROXY_FLAG, Proxy
from dlcore.plots import fairness
from dlcore.plots.explain import NEUTRAL


def _group(name: str, n: int, rate: float, confusion: tuple[tuple[int, int], tuple[int, int]]) -> GroupMetrics:
    return GroupMetrics(name, n, accuracy=0.8, precision=0.7, tpr=0.6, fpr=0.1, fnr=0.4, selection_rate=rate,
                        confusion=confusion)


def _report() -> FairnessReport:
    groups = (_group("female", 40, 0.20, ((25, 5), (7, 3))), _group("male", 50, 0.40, ((20, 10), (10, 10))),
              _group("other", 4, 0.35, ((2, 1), (1, 0))))
    return FairnessReport(("sex",), "classification", "yes", groups, _group("all", 94, 0.31, ((47, 16), (18, 13))),
                          demographic_parity_difference=0.2, demographic_parity_ratio=0.5,
                          equalized_odds_difference=0.25)


def _regression() -> FairnessReport:
    groups = (GroupMetrics("a", 30, mae=1.5, mean_prediction=10.0, mean_target=11.0),
              GroupMetrics("b", 5, mae=2.5, mean_prediction=12.0, mean_target=12.5))
    return FairnessReport(("region",), "regression", None, groups,
                          GroupMetrics("all", 35, mae=1.64, mean_prediction=10.3, mean_target=11.2))


def test_selection_rates_draw_each_rate_the_four_fifths_line_and_colour_the_failing_group() -> None:
    r = _report()
    fig = fairness.selection_rates(r)
    bar = fig.data[0]
    assert list(bar.x) == ["female", "male", "other"]
    assert np.allclose(bar.y, [0.20, 0.40, 0.35])
    (line,) = fig.layout.shapes
    assert line.y0 == pytest.approx(FOUR_FIFTHS * 0.40) and line.y1 == line.y0 and line.line.dash == "dash"
    assert list(bar.marker.color) == [fairness.FAIL, fairness.PASS, fairness.PASS]  # 0.20 < 0.32 <= 0.35
    assert fairness.FAIL != fairness.PASS
    assert list(bar.marker.pattern.shape) == ["", "", fairness.SMALL]  # n=4 is hatched...
    assert "n=4, too few" in bar.text[2]  # ...and says so
    assert "below the line: female" in fig.layout.title.text and "0.50" in fig.layout.title.text


def test_group_metrics_draw_one_trace_per_group_and_put_the_disparities_in_words() -> None:
    r = _report()
    fig = fairness.group_metrics(r)
    assert [t.name for t in fig.data] == ["female", "male", "other (n=4, too few)", "all rows"]
    assert list(fig.data[0].x) == ["accuracy", "selection rate", "true positive rate", "false positive rate"]
    assert np.allclose(fig.data[1].y, [0.8, 0.40, 0.6, 0.1])
    assert fig.data[2].marker.pattern.shape[0] == fairness.SMALL and fig.data[0].marker.pattern.shape is None
    assert [t.marker.color for t in fig.data] == [*fairness.GROUP_COLOURS[:3], fairness.ALL_COLOUR]
    assert "(n=40)" in fig.data[0].hovertemplate and "(n=4)" in fig.data[2].hovertemplate
    title = fig.layout.title.text
    assert "demographic parity difference 0.20, ratio 0.50: fails the four-fifths rule" in title
    assert "equalized odds difference 0.25" in title
    chosen = fairness.group_metrics(r, metrics=("precision", "fnr"))
    assert np.allclose(chosen.data[0].y, [0.7, 0.4])


def test_a_regression_report_draws_mae_and_mean_prediction_and_refuses_rates() -> None:
    r = _regression()
    fig = fairness.group_metrics(r)
    assert list(fig.data[0].x) == ["mean absolute error", "mean prediction", "mean target"]
    assert np.allclose(fig.data[0].y, [1.5, 10.0, 11.0]) and np.allclose(fig.data[1].y, [2.5, 12.0, 12.5])
    assert fig.data[1].name == "b (n=5, too few)"
    assert "mean absolute error from 1.50 (a) to 2.50 (b), a gap of 1.00" in fig.layout.title.text
    with pytest.raises(ValueError, match="only for classifiers"):
        fairness.selection_rates(r)
    with pytest.raises(ValueError, match="only for classifiers"):
        fairness.confusion_matrices(r)


def test_confusion_matrices_write_each_groups_counts_and_colour_by_share_of_the_group() -> None:
    r = _report()
    fig = fairness.confusion_matrices(r)
    assert len(fig.data) == 3
    for trace, g in zip(fig.data, r.groups):
        assert [list(row) for row in trace.text] == [[str(v) for v in row] for row in g.confusion]
        counts = np.asarray(g.confusion, dtype=float)
        assert np.allclose(trace.z, counts / counts.sum())
        assert list(trace.y) == ["rest", "yes"] and list(trace.x) == ["rest", "yes"]
    assert len({t.xaxis for t in fig.data}) == 3  # a panel each
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["female (n=40)", "male (n=50)", "other (n=4, too few)"]


def test_group_shares_draw_shares_and_the_second_class_rate_and_mark_a_small_group() -> None:
    d = DataGroups("sex", ("no", "yes"), (GroupShare("female", 60, 0.6, (0.8, 0.2)),
                                          GroupShare("male", 36, 0.36, (0.6, 0.4)),
                                          GroupShare("other", 4, 0.04, (0.5, 0.5))), ())
    fig = fairness.group_shares(d)
    share, rate = fig.data
    assert np.allclose(share.y, [0.6, 0.36, 0.04]) and np.allclose(rate.y, [0.2, 0.4, 0.5])
    assert share.text[2] == "n=4, too few" and list(share.marker.pattern.shape) == ["", "", fairness.SMALL]
    assert "'sex'" in fig.layout.title.text and "'yes'" in fig.layout.title.text
    three = DataGroups("age", ("a", "b", "c"), (GroupShare("young", 50, 0.5, (0.2, 0.3, 0.5)),
                                                GroupShare("old", 50, 0.5, (0.4, 0.4, 0.2))), ())
    fig3 = fairness.group_shares(three)
    assert [t.name for t in fig3.data[1:]] == ["a", "b", "c"] and np.allclose(fig3.data[3].y, [0.5, 0.2])
    regression = fairness.group_shares(DataGroups("region", (), (GroupShare("n", 20, 0.5, (3.5,)),
                                                                 GroupShare("s", 20, 0.5, (4.5,))), ()))
    assert np.allclose(regression.data[1].y, [3.5, 4.5]) and "mean target" in regression.layout.title.text


def test_proxy_bars_sort_the_scores_highlight_the_flagged_and_set_all_inputs_apart() -> None:
    proxies = [Proxy("age", 0.55, 0.5, False, 3), Proxy(ALL_INPUTS, 0.9, 0.5, True),
               Proxy("club", 0.85, 0.5, True, 2), Proxy("hours", 0.72, 0.5, True)]
    fig = fairness.proxy_bars(proxies, "sex")
    bar = fig.data[0]
    assert list(bar.y) == ["club", "hours", "age", ALL_INPUTS]  # strongest first, all inputs last
    assert np.allclose(bar.x, [0.85, 0.72, 0.55, 0.9])
    assert list(bar.marker.color) == [fairness.FAIL, fairness.FAIL, NEUTRAL, fairness.ALL_COLOUR]
    assert fig.layout.yaxis.autorange == "reversed"  # the first drawn on top
    assert bar.text[0] == "0.85 · #2 by attribution" and bar.text[1] == "0.72"
    lines = sorted(s.x0 for s in fig.layout.shapes)
    assert lines == [pytest.approx(0.5), pytest.approx(PROXY_FLAG)]
    assert "2 proxy column(s)" in fig.layout.title.text and "'sex'" in fig.layout.title.text
    assert fairness.proxy_bars([], "sex").layout.title.text.startswith("Which inputs predict 'sex': 0")


def test_disparity_bars_sort_features_by_overall_importance_and_cut_at_top() -> None:
    d = Disparity(features=("a", "b", "c", "d"), overall=(0.1, 0.4, 0.3, 0.05), groups=("f", "m"),
                  by_group=((0.1, 0.6, 0.2, 0.05), (0.1, 0.2, 0.4, 0.05)), method="shap", rows=100)
    fig = fairness.disparity_bars(d, top=3)
    bars = [t for t in fig.data if t.type == "bar"]
    assert [t.name for t in bars] == ["f", "m"]
    assert list(bars[0].y) == ["b", "c", "a"] and np.allclose(bars[0].x, [0.6, 0.2, 0.1])
    assert np.allclose(bars[1].x, [0.2, 0.4, 0.1])
    assert np.allclose(fig.data[-1].x, [0.4, 0.3, 0.1])  # the overall mark
    title = fig.layout.title.text
    assert "top 3 of 4" in title and "largest gap: b, 0.6 in f against 0.2 in m" in title


def test_tradeoff_puts_each_point_at_its_coordinates_with_arrows_from_the_first() -> None:
    before = {"accuracy": 0.82, "demographic_parity_difference": 0.16, "equalized_odds_difference": 0.25}
    after = {"accuracy": 0.79, "demographic_parity_difference": 0.03, "equalized_odds_difference": 0.12}
    reweighed = {"accuracy": 0.80, "demographic_parity_difference": 0.08, "equalized_odds_difference": None}
    points = [("model", before), ("thresholds", after), ("reweighed", reweighed)]
    fig = fairness.tradeoff(points)
    (dots,) = fig.data
    assert list(dots.text) == ["model", "thresholds", "reweighed"]
    assert np.allclose(dots.x, [0.16, 0.03, 0.08]) and np.allclose(dots.y, [0.82, 0.79, 0.80])
    arrows = [a for a in fig.layout.annotations if a.showarrow]
    assert [(a.ax, a.ay, a.x, a.y) for a in arrows] == [(0.16, 0.82, 0.03, 0.79), (0.16, 0.82, 0.08, 0.80)]
    assert "lower is fairer" in fig.layout.xaxis.title.text and "accuracy" in fig.layout.yaxis.title.text
    assert "up and left is better" in fig.layout.title.text
    odds = fairness.tradeoff(points, disparity="equalized_odds_difference")
    assert np.allclose(odds.data[0].x, [0.25, 0.12]) and "not drawn (missing a number): reweighed" in \
        odds.layout.title.text


def test_every_figure_uses_the_house_template_and_has_a_title() -> None:
    r = _report()
    figs = [plots.group_metrics(r), plots.selection_rates(r), plots.confusion_matrices(r),
            plots.proxy_bars([Proxy("club", 0.8, 0.5, True)], "sex"),
            plots.tradeoff([("model", {"accuracy": 0.8, "demographic_parity_difference": 0.1})])]
    for fig in figs:
        assert fig.layout.template.layout.paper_bgcolor == "white"  # plotly_white
        assert fig.layout.title.text


def test_a_real_audit_draws_its_own_selection_rates_and_counts() -> None:
    from sklearn.linear_model import LogisticRegression

    from dlcore.data import load_dataset
    from dlcore.fairness.audit import audit
    from dlcore.fairness.groups import as_groups

    ds = load_dataset("hiring")
    pred = LogisticRegression(max_iter=500).fit(ds.x_train, ds.y_train).predict(ds.x_val)
    r = audit(ds.y_val, pred, {"sex": as_groups(ds.sensitive_val["sex"], "sex")}, "classification", ds.class_names)
    fig = fairness.selection_rates(r)
    assert np.allclose(fig.data[0].y, [g.selection_rate for g in r.groups])
    low = min(r.groups, key=lambda g: g.selection_rate)
    below = [c == fairness.FAIL for c in fig.data[0].marker.color]
    assert below[[g.group for g in r.groups].index(low.group)] == (r.four_fifths_pass is False)
    counts = fairness.confusion_matrices(r)
    assert sum(int(v) for t in counts.data for row in t.text for v in row) == len(ds.y_val)
