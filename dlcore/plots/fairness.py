"""Figures of the fairness audit: the groups in the data, the model's metrics and selection rates per group (with
the four-fifths line), a confusion matrix per group, the inputs that stand in for a sensitive column (proxies),
how much each feature weighs per group, and accuracy against disparity before and after mitigation.

Each takes a result of ``dlcore.fairness`` (``DataGroups``, ``FairnessReport``, ``Proxy``, ``Disparity``) or the
``before`` / ``after`` dicts of a ``PostProcessing`` record, and returns a ``plotly.graph_objects.Figure``. Red
marks what fails (a group below the four-fifths line, a flagged proxy); a hatched bar marks a group with fewer
than ``MIN_GROUP`` rows, whose rates rest on too few rows to compare.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from dlcore.fairness.audit import DISPARITY_FLAG, FOUR_FIFTHS
from dlcore.fairness.groups import MIN_GROUP
from dlcore.fairness.proxies import ALL_INPUTS, PROXY_FLAG
from dlcore.plots.explain import DOWN, NEUTRAL, UP
from dlcore.plots.training import TEMPLATE

if TYPE_CHECKING:
    from dlcore.fairness.audit import FairnessReport, GroupMetrics
    from dlcore.fairness.disparity import Disparity
    from dlcore.fairness.groups import DataGroups
    from dlcore.fairness.proxies import Proxy

FAIL, PASS = UP, DOWN  # a group below the four-fifths line / at or above it; a flagged proxy / the others
ALL_COLOUR = "#1f2d3d"  # all inputs together, and the overall (all rows) marks: dark, apart from the groups
GROUP_COLOURS = qualitative.Dark2  # one colour per group (its i-th group: the same in every figure); no pure red
SMALL = "/"  # bar pattern of a group under MIN_GROUP rows
CLASSIFICATION_METRICS = ("accuracy", "selection_rate", "tpr", "fpr")
REGRESSION_METRICS = ("mae", "mean_prediction", "mean_target")
WORDS = {"accuracy": "accuracy", "precision": "precision", "tpr": "true positive rate", "fpr": "false positive rate",
         "fnr": "false negative rate", "selection_rate": "selection rate", "mae": "mean absolute error",
         "mean_prediction": "mean prediction", "mean_target": "mean target",
         "demographic_parity_difference": "demographic parity difference",
         "demographic_parity_ratio": "demographic parity ratio",
         "equalized_odds_difference": "equalized odds difference"}


def _number(value: float | None, digits: int = 2) -> str:
    """``value`` rounded, or ``n/a`` for None and NaN."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _words(name: str) -> str:
    """A metric's name in words (``tpr`` -> ``true positive rate``)."""
    return WORDS.get(name, name.replace("_", " "))


def small_note(n: int) -> str:
    """The mark of a group under ``MIN_GROUP`` rows (``n=4, too few``), or an empty string."""
    return f"n={n}, too few" if n < MIN_GROUP else ""


def _patterns(ns: Sequence[int]) -> dict[str, Any]:
    """Bar patterns: hatched for each group under ``MIN_GROUP`` rows, plain for the others."""
    return {"shape": [SMALL if n < MIN_GROUP else "" for n in ns], "solidity": 0.45}


def _group_colour(i: int) -> str:
    """The colour of the ``i``-th group of a report (cycling through ``GROUP_COLOURS``)."""
    return GROUP_COLOURS[i % len(GROUP_COLOURS)]


def disparity_words(r: FairnessReport) -> str:
    """The disparities of a report in words: ``demographic parity difference 0.16, ratio 0.62: fails the
    four-fifths rule; equalized odds difference 0.25``; for a regressor the spread of the groups' MAE."""
    if r.task == "regression":
        rows = [g for g in r.groups if g.mae is not None]
        if not rows:
            return "no mean absolute error per group"
        low, high = min(rows, key=lambda g: g.mae), max(rows, key=lambda g: g.mae)  # type: ignore[arg-type, return-value]
        return (f"mean absolute error from {_number(low.mae)} ({low.group}) to {_number(high.mae)} ({high.group}), "
                f"a gap of {_number(high.mae - low.mae)}")  # type: ignore[operator]
    rule = {True: "passes the four-fifths rule", False: "fails the four-fifths rule", None: "four-fifths rule n/a"}
    return (f"demographic parity difference {_number(r.demographic_parity_difference)}, ratio "
            f"{_number(r.demographic_parity_ratio)}: {rule[r.four_fifths_pass]}; equalized odds difference "
            f"{_number(r.equalized_odds_difference)}")


def group_shares(d: DataGroups) -> go.Figure:
    """Each group's share of the rows (left) and its label rate (right): the rate of the second class for two
    classes, one bar per class for more, the mean target for a regression set. A group under ``MIN_GROUP``
    rows is hatched and its share bar says ``n=4, too few``.

    Args:
        d: a ``dlcore.fairness.groups.DataGroups``.
    """
    names, ns = [g.group for g in d.groups], [g.n for g in d.groups]
    if len(d.classes) == 2:
        rate_title, shown = f"rate of {d.classes[1]!r}", [(d.classes[1], 1)]
    elif d.classes:
        rate_title, shown = "rate of each class", [(c, k) for k, c in enumerate(d.classes)]
    else:
        rate_title, shown = "mean target", [("mean target", 0)]
    fig = make_subplots(rows=1, cols=2, subplot_titles=["share of the rows", rate_title], horizontal_spacing=0.12)
    notes = [small_note(n) or f"{g.share:.0%}" for g, n in zip(d.groups, ns)]
    fig.add_trace(go.Bar(x=names, y=[g.share for g in d.groups], name="share of the rows", customdata=ns,
                         marker={"color": NEUTRAL, "pattern": _patterns(ns)}, text=notes, textposition="auto",
                         hovertemplate="%{x}: %{y:.1%} of the rows (n=%{customdata})<extra></extra>",
                         showlegend=False), row=1, col=1)
    fmt = ".3g" if not d.classes else ".1%"
    for label, k in shown:
        colour = PASS if len(shown) == 1 else None
        fig.add_trace(go.Bar(x=names, y=[g.label_rates[k] for g in d.groups], name=str(label), customdata=ns,
                             marker={"color": colour, "pattern": _patterns(ns)}, showlegend=len(shown) > 1,
                             hovertemplate=f"%{{x}} (n=%{{customdata}}): {label} %{{y:{fmt}}}<extra></extra>"),
                      row=1, col=2)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], row=1, col=1)
    if d.classes:
        fig.update_yaxes(tickformat=".0%", range=[0, 1.05], row=1, col=2)
    fig.update_xaxes(type="category")
    fig.update_layout(template=TEMPLATE, barmode="group", height=380, margin={"t": 80},
                      title=f"Groups of {d.column!r} in the data: share of the rows and {rate_title}",
                      legend={"orientation": "h", "y": -0.2})
    return fig


def _metric_value(g: GroupMetrics, name: str) -> float | None:
    v = getattr(g, name, None)
    return None if v is None or not math.isfinite(float(v)) else float(v)


def group_metrics(r: FairnessReport, metrics: Sequence[str] = CLASSIFICATION_METRICS) -> go.Figure:
    """Grouped bars: one colour per group, one x position per metric, and the overall value (all rows) in dark
    grey; the hover gives each group's n, a group under ``MIN_GROUP`` rows is hatched and named ``too few``.
    A regressor draws mean absolute error, mean prediction and mean target instead of the default metrics.
    The title puts the disparities in words (``disparity_words``).

    Args:
        r: a ``dlcore.fairness.audit.FairnessReport``.
        metrics: ``GroupMetrics`` fields to draw (accuracy, precision, tpr, fpr, fnr, selection_rate, ...).
    """
    if r.task == "regression" and tuple(metrics) == CLASSIFICATION_METRICS:
        metrics = REGRESSION_METRICS
    x = [_words(m) for m in metrics]
    fig = go.Figure()
    for i, g in enumerate((*r.groups, r.overall)):
        overall = g is r.overall
        note = small_note(g.n)
        name = "all rows" if overall else (f"{g.group} ({note})" if note else g.group)
        fig.add_trace(go.Bar(x=x, y=[_metric_value(g, m) for m in metrics], name=name,
                             marker={"color": ALL_COLOUR if overall else _group_colour(i),
                                     "pattern": _patterns([g.n] * len(x)) if note and not overall else None},
                             hovertemplate=f"{name} (n={g.n})<br>%{{x}}: %{{y:.3f}}<extra></extra>"))
    what = "Per-group errors" if r.task == "regression" else f"Per-group metrics for {r.positive!r}"
    fig.update_layout(template=TEMPLATE, barmode="group", height=400, margin={"t": 90},
                      title=f"{what} by {' & '.join(r.sensitive)}<br><sup>{disparity_words(r)}</sup>",
                      xaxis={"type": "category"}, legend={"orientation": "h", "y": -0.2})
    if r.task != "regression":
        fig.update_yaxes(range=[0, 1.05])
    return fig


def _classifier_groups(r: FairnessReport, need: str) -> list[GroupMetrics]:
    groups = [g for g in r.groups if getattr(g, need) is not None]
    if r.task == "regression" or not groups:
        raise ValueError(f"a {r.task} report has no {_words(need)}s per group; they exist only for classifiers")
    return groups


def selection_rates(r: FairnessReport) -> go.Figure:
    """Each group's selection rate (share of its rows predicted as the audited class) with the four-fifths line
    dashed at ``FOUR_FIFTHS`` x the highest rate; bars below it are red (failing), the others blue.

    Args:
        r: a ``dlcore.fairness.audit.FairnessReport`` of a classifier.

    Raises:
        ValueError: for a regressor's report (no selection rates).
    """
    groups = _classifier_groups(r, "selection_rate")
    rates = [float(g.selection_rate) for g in groups]  # type: ignore[arg-type]
    line = FOUR_FIFTHS * max(rates)
    fails = [v < line for v in rates]
    text = [f"{v:.0%}" + (f" ({small_note(g.n)})" if g.small else "") for v, g in zip(rates, groups)]
    verdicts = [[g.n, "below the line: fails" if f else "passes"] for g, f in zip(groups, fails)]
    fig = go.Figure(go.Bar(x=[g.group for g in groups], y=rates, text=text, textposition="outside",
                           customdata=verdicts, cliponaxis=False,
                           marker={"color": [FAIL if f else PASS for f in fails],
                                   "pattern": _patterns([g.n for g in groups])},
                           hovertemplate="%{x} (n=%{customdata[0]}): selection rate %{y:.1%}, "
                                         "%{customdata[1]}<extra></extra>"))
    fig.add_hline(y=line, line_dash="dash", line_color=NEUTRAL, annotation_position="right",  # in the margin
                  annotation_text=f"four-fifths line<br>{FOUR_FIFTHS:.0%} of {max(rates):.1%}<br>= {line:.1%}")
    failing = [g.group for g, f in zip(groups, fails) if f]
    verdict = f"below the line: {', '.join(failing)}" if failing else "every group at or above the line"
    fig.update_layout(template=TEMPLATE, height=380, margin={"t": 80, "r": 130}, showlegend=False,
                      title=f"Selection rate of {r.positive!r} per group (ratio {_number(r.demographic_parity_ratio)})"
                      f"<br><sup>{verdict}</sup>",
                      xaxis={"type": "category", "title": " & ".join(r.sensitive)},
                      yaxis={"title": f"share predicted {r.positive!r}", "tickformat": ".0%",
                             "range": [0, min(1.0, max(rates) * 1.2) or 1.0]})
    return fig


def confusion_matrices(r: FairnessReport, cols: int = 4) -> go.Figure:
    """One 2x2 heat map per group: rows the true class (rest, then the audited class), columns the predicted
    one, counts written in the cells; the colour is each cell's share of its group's rows, so groups of
    different sizes compare.

    Args:
        r: a ``dlcore.fairness.audit.FairnessReport`` of a classifier.
        cols: panels per row.

    Raises:
        ValueError: for a regressor's report (no confusion matrices).
    """
    groups = _classifier_groups(r, "confusion")
    cols = max(1, min(cols, len(groups)))
    rows = math.ceil(len(groups) / cols)
    titles = [f"{g.group} (n={g.n}{', too few' if g.small else ''})" for g in groups]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.06,
                        vertical_spacing=0.25 if rows > 1 else 0.1)
    labels = ["rest", str(r.positive)]
    for i, g in enumerate(groups):
        counts = np.asarray(g.confusion, dtype=float)
        share = counts / max(counts.sum(), 1.0)
        fig.add_trace(go.Heatmap(z=share, x=labels, y=labels, zmin=0.0, zmax=1.0, colorscale="Blues", showscale=False,
                                 text=[[str(int(v)) for v in row] for row in counts], texttemplate="%{text}",
                                 hovertemplate=f"{g.group}: true %{{y}}, predicted %{{x}}<br>%{{text}} rows "
                                               "(%{z:.0%} of the group)<extra></extra>"),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(type="category", title_text="predicted")
    fig.update_yaxes(type="category", autorange="reversed", title_text="true")
    fig.update_layout(template=TEMPLATE, height=260 * rows + 100, margin={"t": 100},
                      title=f"Confusions per group: {r.positive!r} against the rest"
                      "<br><sup>colour: share of the group's rows</sup>")
    return fig


def proxy_bars(proxies: Sequence[Proxy], column: str) -> go.Figure:
    """How well each column alone predicts the groups of ``column`` (balanced accuracy on the validation rows),
    strongest on top and all inputs together last; the chance level dotted, the proxy flag ``PROXY_FLAG``
    dashed, flagged columns red, the all-inputs bar dark; ``#2 by attribution`` where the model's rank is known.

    Args:
        proxies: ``dlcore.fairness.proxies.Proxy`` results (``find_proxies``), any order.
        column: the sensitive column they predict.
    """
    ordered = sorted((p for p in proxies if p.feature != ALL_INPUTS), key=lambda p: -p.score)
    ordered += [p for p in proxies if p.feature == ALL_INPUTS]
    fig = go.Figure()
    if not ordered:
        fig.add_annotation(text="no proxy scores (only tables are checked)", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
    else:
        colours = [ALL_COLOUR if p.feature == ALL_INPUTS else FAIL if p.flagged else NEUTRAL for p in ordered]
        text = [f"{p.score:.2f}" + (f" · #{p.importance_rank} by attribution" if p.importance_rank else "")
                for p in ordered]
        fig.add_trace(go.Bar(x=[p.score for p in ordered], y=[p.feature for p in ordered], orientation="h",
                             text=text, textposition="outside", cliponaxis=False,
                             customdata=["a proxy" if p.flagged else "not a proxy" for p in ordered],
                             marker={"color": colours,
                                     "line": {"color": [FAIL if p.flagged else "rgba(0,0,0,0)" for p in ordered],
                                              "width": 2},
                                     "pattern": {"shape": ["." if p.feature == ALL_INPUTS else "" for p in ordered]}},
                             hovertemplate="%{y}: balanced accuracy %{x:.3f}, %{customdata}<extra></extra>"))
        chance = ordered[0].chance
        # labels over the plot area, clear of the bars and their text (a dict each: plotly fills it in)
        fig.add_vline(x=chance, line_dash="dot", line_color=NEUTRAL, annotation_text=f"chance {chance:.2f}",
                      annotation_position="top left", annotation={"yanchor": "bottom"})
        fig.add_vline(x=PROXY_FLAG, line_dash="dash", line_color=FAIL, annotation_text=f"proxy from {PROXY_FLAG:.2f}",
                      annotation_position="top right", annotation={"yanchor": "bottom"})
    flagged = sum(p.flagged and p.feature != ALL_INPUTS for p in ordered)
    fig.update_layout(template=TEMPLATE, height=max(300, 26 * len(ordered) + 140),
                      margin={"l": 160, "r": 140, "t": 110},
                      title=f"Which inputs predict {column!r}: {flagged} proxy column(s)"
                      "<br><sup>balanced accuracy of a small tree on each column alone</sup>",
                      xaxis={"title": "balanced accuracy (validation rows)", "range": [0, 1.0]},
                      yaxis={"type": "category", "autorange": "reversed"}, showlegend=False)
    return fig


def disparity_bars(d: Disparity, top: int = 12) -> go.Figure:
    """Mean |attribution| of each feature in each group (horizontal grouped bars), features by overall
    importance, the ``top`` first, largest on top; a dark mark at the overall value. The title names the
    feature whose weight differs most between groups.

    Args:
        d: a ``dlcore.fairness.disparity.Disparity``.
        top: how many features to draw.
    """
    overall = np.asarray(d.overall, dtype=float)
    idx = np.argsort(-overall, kind="stable")[:max(0, top)]
    names = [d.features[j] for j in idx]
    by = np.asarray(d.by_group, dtype=float).reshape(len(d.groups), len(d.features))
    method = d.method.upper()
    fig = go.Figure([go.Bar(x=by[i, idx], y=names, orientation="h", name=str(g), marker_color=_group_colour(i),
                            hovertemplate=f"{g}: %{{y}} mean |{method}| %{{x:.4g}}<extra></extra>")
                     for i, g in enumerate(d.groups)])
    fig.add_trace(go.Scatter(x=overall[idx], y=names, mode="markers", name="all rows",
                             marker={"symbol": "line-ns-open", "size": 16, "color": ALL_COLOUR,
                                     "line": {"width": 2}},
                             hovertemplate=f"all rows: %{{y}} mean |{method}| %{{x:.4g}}<extra></extra>"))
    note = ""
    if len(d.groups) > 1 and len(idx):
        gaps = by[:, idx].max(axis=0) - by[:, idx].min(axis=0)
        j = int(np.argmax(gaps))
        hi, lo = int(np.argmax(by[:, idx[j]])), int(np.argmin(by[:, idx[j]]))
        note = (f"<br><sup>largest gap: {names[j]}, {by[hi, idx[j]]:.3g} in {d.groups[hi]} against "
                f"{by[lo, idx[j]]:.3g} in {d.groups[lo]}</sup>")
    fig.update_layout(template=TEMPLATE, barmode="group", height=max(320, 22 * len(names) * max(1, len(d.groups))
                                                                     + 140),
                      title=f"Mean |{method} value| per feature and group ({d.rows} rows; top {len(names)} of "
                      f"{len(d.features)}){note}", margin={"l": 160, "t": 90}, xaxis_title=f"mean |{method} value|",
                      yaxis={"type": "category", "autorange": "reversed"},
                      legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1.0, "xanchor": "right"})
    return fig


def tradeoff(points: Sequence[tuple[str, Mapping[str, float | None]]],
             disparity: str = "demographic_parity_difference") -> go.Figure:
    """Accuracy (y) against a disparity (x) for labelled results, e.g. ``("model", before)``,
    ``("thresholds", after)``: an arrow from the first point to each other one, the ``DISPARITY_FLAG`` level
    dotted for a difference. A lower difference (left) is fairer, so up and to the left is better (for a ratio,
    nearer 1: up and to the right). Points missing either number are left out and named under the title.

    Args:
        points: (label, scores) pairs; scores hold ``accuracy`` and the ``disparity`` key (floats or None),
            as ``PostProcessing.before`` / ``.after`` do.
        disparity: the scores' key for the x axis.
    """
    def usable(v: float | None) -> bool:
        return v is not None and math.isfinite(float(v))

    drawn = [(lab, float(s["accuracy"]), float(s[disparity])) for lab, s in points  # type: ignore[arg-type]
             if usable(s.get("accuracy")) and usable(s.get(disparity))]
    missing = [lab for lab, s in points if not (usable(s.get("accuracy")) and usable(s.get(disparity)))]
    what = _words(disparity)
    ratio = "ratio" in disparity  # a ratio is fairer near 1 (right), a difference near 0 (left)
    fairer, better = ("higher (nearer 1) is fairer", "up and right") if ratio else ("lower is fairer", "up and left")
    fig = go.Figure()
    if drawn:
        labels, ys, xs = (list(v) for v in zip(*drawn))
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers+text", text=labels, textposition="top center",
                                 marker={"size": 13, "color": [NEUTRAL] + [PASS] * (len(xs) - 1)}, cliponaxis=False,
                                 hovertemplate=f"%{{text}}: accuracy %{{y:.3f}}, {what} %{{x:.3f}}<extra></extra>"))
        for x, y in zip(xs[1:], ys[1:]):
            fig.add_annotation(x=x, y=y, ax=xs[0], ay=ys[0], xref="x", yref="y", axref="x", ayref="y", text="",
                               showarrow=True, arrowhead=3, arrowsize=1.2, arrowcolor=PASS, standoff=8)
    if "difference" in disparity:
        fig.add_vline(x=DISPARITY_FLAG, line_dash="dot", line_color=FAIL, annotation_text=f"flagged above "
                      f"{DISPARITY_FLAG:.2f}", annotation_position="top right")
    note = f"<br><sup>not drawn (missing a number): {', '.join(missing)}</sup>" if missing else ""
    fig.update_layout(template=TEMPLATE, height=420, margin={"t": 90}, showlegend=False,
                      title=f"Accuracy against {what}: {fairer}, {better} is better{note}",
                      xaxis={"title": f"{what} ({fairer})", "rangemode": "tozero"},
                      yaxis={"title": "accuracy (validation rows)"})
    return fig
