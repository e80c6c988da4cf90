"""Figures of explanations, drawn from an ``Attribution``: the views people know from shap and lime, in
native Plotly (and lime's highlighted text). Red pushes the output up, blue pushes it down; image maps use
one symmetric scale.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dlcore.plots.training import TEMPLATE

DIVERGING = "RdBu_r"  # blue (negative) - white (0) - red (positive)
UP, DOWN, NEUTRAL = "#d6273d", "#1f77d4", "#9aa5b1"
# Over an image: blue - transparent - red, so the picture shows through where the attribution is ~0.
OVERLAY = [[0.0, "rgba(31,119,212,1)"], [0.5, "rgba(255,255,255,0)"], [1.0, "rgba(214,39,61,1)"]]
FAINT_GREY = [[0.0, "#ffffff"], [1.0, "#6b6b6b"]]  # the picture under an overlay: ink dark grey on white


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, largest first (ties keep their order)."""
    return np.argsort(-scores, kind="stable")[:k]


SPREAD_HOVER = "spread across seeds"


def placeholder(height: int = 10) -> go.Figure:
    """An empty figure with nothing to see, ``height`` pixels high (Plotly's least): drawn while a page loads, so
    the browser fetches and starts Plotly's chart code then rather than with the first real chart."""
    axis = {"visible": False, "fixedrange": True}
    return go.Figure(layout={"height": height, "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "xaxis": axis,
                             "yaxis": axis, "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"})


def checked_spread(spread: Any, shape: tuple[int, ...], also: tuple[int, ...] = ()) -> np.ndarray:
    """``spread`` as a float array shaped ``shape`` (it may come shaped ``also``, with the same values).

    Raises:
        ValueError: in one line, when it has another shape or holds negative or non-finite numbers.
    """
    arr = np.asarray(spread, dtype=np.float64)
    if arr.shape not in (shape, also) or arr.size != int(np.prod(shape)):
        raise ValueError(f"spread shaped {arr.shape} does not match the values drawn {shape}: pass one spread per "
                         "feature, in the order of feature_names")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError("spread must be finite and non-negative (a standard deviation across seeds)")
    return arr.reshape(shape)


def _error_bars(fig: go.Figure, spread: np.ndarray, axis: str) -> None:
    """Symmetric error bars of ``spread`` on the figure's first (bar) trace, named in its hover."""
    fig.update_traces({f"error_{axis}": {"type": "data", "array": spread, "symmetric": True, "visible": True,
                                        "color": "#444444", "thickness": 1.2, "width": 3},
                       "customdata": spread,
                       "hovertemplate": fig.data[0].hovertemplate.replace(
                           "<extra>", f" ± %{{customdata:.2g}} {SPREAD_HOVER}<extra>")}, selector=0)


def _class_label(attr: Any, cls: int | None) -> str:
    ks = attr.classes(cls)
    names = sorted({attr.class_names[k] for k in ks})
    return names[0] if len(names) == 1 else "the predicted class of each row"


def importance_bar(attr: Any, cls: int | None = None, max_features: int = 20,
                   spread: np.ndarray | None = None) -> go.Figure:
    """Global importance: mean |attribution| of each feature over the rows, largest on top.

    Args:
        spread: optional spread across seed reruns of every row's values for the class drawn,
            ``(n_rows, n_features)``; each bar gets an error bar of its feature's mean spread over the rows.
    """
    importance = np.abs(attr.flat(cls)).mean(axis=0)
    idx = _top(importance, max_features)[::-1]
    fig = go.Figure(go.Bar(x=importance[idx], y=[attr.feature_names[j] for j in idx], orientation="h",
                           marker_color=UP, hovertemplate="%{y}: %{x:.4g}<extra></extra>"))
    fig.update_layout(template=TEMPLATE, title=f"Mean |{attr.method.upper()} value| over {attr.n_rows} rows "
                      f"({_class_label(attr, cls)})", height=max(300, 24 * len(idx) + 120),
                      xaxis_title="mean |attribution|", yaxis={"type": "category"}, margin={"l": 160})
    if spread is not None:
        rows = checked_spread(spread, (attr.n_rows, len(attr.feature_names)), (attr.n_rows, *attr.input_shape))
        _error_bars(fig, rows.mean(axis=0)[idx], "x")
    return fig


def _shown(attr: Any, row: int, feature: int, inputs: np.ndarray) -> str:
    """A feature's value as printed: its raw ``display`` string when the attribution has one, else the input."""
    return attr.display[row][feature] if attr.display else f"{inputs[row, feature]:.3g}"


def _colour_scale(column: np.ndarray) -> np.ndarray:
    """Feature values mapped to [0, 1] by rank within the column (robust to outliers, as shap does)."""
    ranks = np.argsort(np.argsort(column, kind="stable"), kind="stable").astype(float)
    return ranks / max(1, len(column) - 1)


def beeswarm(attr: Any, cls: int | None = None, max_features: int = 15, seed: int = 0) -> go.Figure:
    """Every row's attribution of the top features, one line of dots per feature, coloured by the feature's
    value (low blue, high red); dots are spread vertically with seeded jitter."""
    values, inputs = attr.flat(cls), attr.flat_inputs()
    idx = _top(np.abs(values).mean(axis=0), max_features)
    rng = np.random.default_rng(seed)
    fig = go.Figure()
    shown = " = %{customdata}" if attr.display else " = %{customdata:.4g}"
    for pos, j in enumerate(idx):
        hover = [d[j] for d in attr.display] if attr.display else inputs[:, j]
        fig.add_trace(go.Scatter(
            x=values[:, j], y=len(idx) - 1 - pos + rng.uniform(-0.3, 0.3, len(values)), mode="markers",
            name=attr.feature_names[j], customdata=hover, showlegend=False,
            marker={"color": _colour_scale(inputs[:, j]), "colorscale": DIVERGING, "cmin": 0, "cmax": 1, "size": 6,
                    "showscale": pos == 0,
                    "colorbar": {"title": "feature value", "tickvals": [0, 1], "ticktext": ["low", "high"]}},
            hovertemplate=f"{attr.feature_names[j]}{shown}<br>attribution %{{x:.4g}}<extra></extra>"))
    fig.add_vline(x=0, line_color="#888")
    fig.update_layout(template=TEMPLATE, title=f"{attr.method.upper()} values per row ({_class_label(attr, cls)})",
                      height=max(320, 32 * len(idx) + 120), xaxis_title="attribution (effect on the output)",
                      yaxis={"tickvals": list(range(len(idx)))[::-1], "ticktext": [attr.feature_names[j] for j in idx]},
                      margin={"l": 160})
    return fig


def waterfall(attr: Any, row: int = 0, cls: int | None = None, max_features: int = 12,
              spread: np.ndarray | None = None) -> go.Figure:
    """One prediction built up from the base value, feature by feature (largest effects first); the rest
    are summed into one bar. Ends at base + sum, shown next to the model's own output.

    Args:
        spread: optional spread across seed reruns of this row's values for the class drawn, one per
            feature; each feature's step gets an error bar at its end (the summed rest gets none: the spread
            of a sum does not follow from the spreads of its terms).
    """
    v, inputs = attr.flat(cls)[row], attr.flat_inputs()
    idx = _top(np.abs(v), max_features if len(v) > max_features + 1 else len(v))
    rest = np.setdiff1d(np.arange(len(v)), idx)
    labels = [f"{attr.feature_names[j]} = {_shown(attr, row, j, inputs)}" for j in idx]
    steps = list(v[idx])
    if len(rest):
        labels.append(f"{len(rest)} other features")
        steps.append(float(v[rest].sum()))
    base, pred = float(attr.class_base(cls)[row]), float(attr.class_prediction(cls)[row])
    fig = go.Figure(go.Waterfall(
        orientation="h", measure=["absolute", *["relative"] * len(steps), "total"],
        y=["base value", *labels, "base + sum"], x=[base, *steps, 0.0],
        increasing={"marker": {"color": UP}}, decreasing={"marker": {"color": DOWN}},
        totals={"marker": {"color": NEUTRAL}},
        texttemplate="%{delta:+.3g}", textposition="outside", hovertemplate="%{y}: %{delta:+.4g}<extra></extra>"))
    fig.add_vline(x=pred, line_dash="dot", line_color="#888888", layer="below",
                  annotation_text=f"model output {pred:.4g}")
    fig.update_layout(template=TEMPLATE, title=f"Why {_class_label(attr, cls)}: {attr.method.upper()} for row {row}",
                      height=max(320, 28 * len(labels) + 160), yaxis={"autorange": "reversed", "type": "category"},
                      xaxis_title="output", margin={"l": 200}, showlegend=False)
    if spread is not None:
        _waterfall_spread(fig, checked_spread(spread, (len(v),), attr.input_shape)[idx], base)
    return fig


def _waterfall_spread(fig: go.Figure, spread: np.ndarray, base: float) -> None:
    """Error bars at the end of the waterfall's feature steps (one transparent marker each), named in the hover."""
    bars = fig.data[0]
    n = len(spread)
    ends = base + np.cumsum(np.asarray(bars.x[1:1 + n], dtype=float))
    fig.add_trace(go.Scatter(x=ends, y=list(bars.y[1:1 + n]), mode="markers", marker={"opacity": 0},
                             error_x={"type": "data", "array": spread, "symmetric": True, "visible": True,
                                      "color": "#444444", "thickness": 1.2, "width": 3},
                             hoverinfo="skip", showlegend=False))
    notes = ["", *[f" ± {s:.2g} {SPREAD_HOVER}" for s in spread], *[""] * (len(bars.x) - 1 - n)]
    fig.update_traces(customdata=notes, hovertemplate="%{y}: %{delta:+.4g}%{customdata}<extra></extra>",
                      selector=0)


def _interaction_partner(values: np.ndarray, inputs: np.ndarray, feature: int) -> int:
    """The other feature whose values track this feature's attributions most closely (|correlation|)."""
    best, best_score = feature, -1.0
    for j in range(inputs.shape[1]):
        if j == feature or np.std(inputs[:, j]) == 0 or np.std(values[:, feature]) == 0:
            continue
        score = abs(float(np.corrcoef(inputs[:, j], values[:, feature])[0, 1]))
        if score > best_score:
            best, best_score = j, score
    return best


def dependence(attr: Any, feature: int | str, color_feature: int | str | None = None,
               cls: int | None = None) -> go.Figure:
    """A feature's value against its attribution over the rows, coloured by another feature's value."""
    names = list(attr.feature_names)
    j = names.index(feature) if isinstance(feature, str) else int(feature)
    values, inputs = attr.flat(cls), attr.flat_inputs()
    c = _interaction_partner(values, inputs, j) if color_feature is None else (
        names.index(color_feature) if isinstance(color_feature, str) else int(color_feature))
    if attr.display:
        hover = np.asarray([[d[j], d[c]] for d in attr.display], dtype=object)
        shown = f"{names[j]} = %{{customdata[0]}}<br>attribution %{{y:.4g}}<br>{names[c]} = %{{customdata[1]}}"
    else:
        hover = inputs[:, c]
        shown = f"{names[j]} %{{x:.4g}}<br>attribution %{{y:.4g}}<br>{names[c]} %{{customdata:.4g}}"
    fig = go.Figure(go.Scatter(
        x=inputs[:, j], y=values[:, j], mode="markers", customdata=hover,
        marker={"color": inputs[:, c], "colorscale": DIVERGING, "showscale": True, "size": 7,
                "colorbar": {"title": names[c]}},
        hovertemplate=shown + "<extra></extra>"))
    fig.add_hline(y=0, line_color="#888")
    fig.update_layout(template=TEMPLATE,
                      title=f"{names[j]}: value vs {attr.method.upper()} value, coloured by {names[c]}",
                      height=400, xaxis_title=f"{names[j]} (model input)", yaxis_title="attribution")
    return fig


def _image_traces(image: np.ndarray, heat: np.ndarray, limit: float) -> list[go.BaseTraceType]:
    """The image in faint grey with a symmetric attribution map over it (transparent at 0)."""
    grey = image.mean(axis=-1) if image.ndim == 3 else image
    return [go.Heatmap(z=grey, colorscale=FAINT_GREY, showscale=False, hoverinfo="skip"),
            go.Heatmap(z=heat, colorscale=OVERLAY, zmid=0.0, zmin=-limit, zmax=limit,
                       colorbar={"title": "attribution", "len": 0.9},
                       hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>")]


def image_attribution(attr: Any, row: int = 0, cls: int | None = None) -> go.Figure:
    """The input image beside its attribution map drawn over it (channels summed; scale centred at 0 and
    as long on the positive side as on the negative)."""
    image = attr.inputs[row]
    heat = attr.class_values(cls)[row].sum(axis=-1)
    limit = float(np.abs(heat).max()) or 1.0
    fig = make_subplots(rows=1, cols=2, subplot_titles=["input", f"{attr.method.upper()} over the input"],
                        horizontal_spacing=0.06)
    fig.add_trace(go.Heatmap(z=image.mean(axis=-1), colorscale="gray", showscale=False), row=1, col=1)
    for trace in _image_traces(image, heat, limit):
        fig.add_trace(trace, row=1, col=2)
    _square(fig, 2)
    fig.update_layout(template=TEMPLATE, height=340, margin={"t": 70, "b": 10},
                      title=f"{attr.method.upper()} ({attr.algorithm}) for "
                      f"{_class_label(attr, cls)}: red raises it, blue lowers it")
    return fig


def _square(fig: go.Figure, cols: int) -> None:
    for c in range(1, cols + 1):
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{'' if c == 1 else c}", showticklabels=False,
                         showgrid=False, zeroline=False, row=1, col=c)
        fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, row=1, col=c)


def lime_weights(attr: Any, row: int = 0, cls: int | None = None, max_features: int = 15,
                 spread: np.ndarray | None = None) -> go.Figure:
    """LIME's surrogate weights for one input, largest |weight| on top: the conditions lime tested for
    tables, the superpixels for images.

    Args:
        spread: optional spread across seed reruns of this row's values for the class drawn, one per feature
            (pixel for images, where a superpixel takes the spread of its first pixel); each bar gets an error bar.
    """
    per_bar = None if spread is None else checked_spread(spread, (len(attr.feature_names),), attr.input_shape)
    if attr.segments is not None:
        ids, w = attr.superpixel_weights(row, cls)
        labels = [f"superpixel {s}" for s in ids]
        if per_bar is not None:
            per_bar = per_bar[np.unique(attr.segments[row].ravel(), return_index=True)[1]]
    else:
        w = attr.flat(cls)[row]
        if attr.display:  # the raw value reads better than a rule on scaled inputs
            labels = [f"{name} = {shown}" for name, shown in zip(attr.feature_names, attr.display[row])]
        else:
            labels = list(attr.rules[row]) if attr.rules else list(attr.feature_names)
    idx = _top(np.abs(w), max_features)[::-1]
    fig = go.Figure(go.Bar(x=w[idx], y=[labels[j] for j in idx], orientation="h",
                           marker_color=[UP if w[j] > 0 else DOWN for j in idx],
                           hovertemplate="%{y}: %{x:+.4g}<extra></extra>"))
    fit = "" if attr.local_fit is None else f" (surrogate R² {attr.local_fit[row]:.2f})"
    what = "LIME weights" if attr.method == "lime" else f"{attr.method.upper()} values"
    fig.update_layout(template=TEMPLATE, title=f"{what} for {_class_label(attr, cls)}{fit}",
                      height=max(300, 24 * len(idx) + 120), xaxis_title="weight", yaxis={"type": "category"},
                      margin={"l": 200})
    if per_bar is not None:
        _error_bars(fig, per_bar[idx], "x")
    return fig


def _borders(segments: np.ndarray) -> go.Scatter:
    """Thin lines between neighbouring pixels of different superpixels (one trace, segments split by None)."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for r, c in zip(*np.nonzero(segments[:, 1:] != segments[:, :-1])):  # a vertical border right of (r, c)
        xs += [c + 0.5, c + 0.5, None]
        ys += [r - 0.5, r + 0.5, None]
    for r, c in zip(*np.nonzero(segments[1:, :] != segments[:-1, :])):  # a horizontal border below (r, c)
        xs += [c - 0.5, c + 0.5, None]
        ys += [r + 0.5, r + 0.5, None]
    return go.Scatter(x=xs, y=ys, mode="lines", line={"color": "rgba(40,40,40,0.45)", "width": 1},
                      hoverinfo="skip", showlegend=False)


def lime_superpixels(attr: Any, row: int = 0, cls: int | None = None) -> go.Figure:
    """The image with each superpixel tinted by its LIME weight and the superpixel borders drawn."""
    if attr.segments is None:
        raise ValueError("superpixels exist only for LIME explanations of images")
    heat = attr.class_values(cls)[row][..., 0]
    limit = float(np.abs(heat).max()) or 1.0
    fig = go.Figure([*_image_traces(attr.inputs[row], heat, limit), _borders(attr.segments[row])])
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False, showgrid=False, zeroline=False)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_layout(template=TEMPLATE, height=340, margin={"t": 60, "b": 10},
                      title=f"LIME superpixels for {_class_label(attr, cls)} "
                      f"({int(attr.segments[row].max()) + 1} superpixels)")
    return fig


def _word_colour(weight: float, limit: float) -> str:
    alpha = 0.6 * min(1.0, abs(weight) / limit)  # light enough for the word to stay readable
    return f"rgba(214,39,61,{alpha:.3f})" if weight > 0 else f"rgba(31,119,212,{alpha:.3f})"


TEXT_FONT = 15  # pixels


def text_highlight(attr: Any, row: int = 0, cls: int | None = None, width: int = 72, max_words: int = 400) -> go.Figure:
    """The explained text with each word shaded by its LIME weight (red raises the class, blue lowers it),
    wrapped at ``width`` characters; hovering a word shows its weight."""
    if not attr.texts:
        raise ValueError("only LIME explanations of texts have words to highlight")
    from dlcore.explain.plan import TEXT_SPLIT

    weights = dict(zip(attr.feature_names, attr.flat(cls)[row]))
    limit = max((abs(w) for w in weights.values()), default=0.0) or 1.0
    words = [w for w in re.split(TEXT_SPLIT, attr.texts[row]) if w][:max_words]
    xs, ys, column, line = [], [], 0, 0
    for word in words:
        if column and column + len(word) > width:
            column, line = 0, line + 1
        xs.append(column)
        ys.append(-line)
        column += len(word) + 1
    fig = go.Figure(go.Scatter(x=[x + len(w) / 2 for x, w in zip(xs, words)], y=ys, mode="markers", opacity=0,
                               customdata=[[w, weights.get(w, 0.0)] for w in words],
                               hovertemplate="%{customdata[0]}: %{customdata[1]:+.4g}<extra></extra>"))
    for word, x, y in zip(words, xs, ys):  # words match \w+, so annotation markup cannot appear in them
        fig.add_annotation(x=x, y=y, text=word, xanchor="left", showarrow=False,
                           bgcolor=_word_colour(weights.get(word, 0.0), limit),
                           font={"family": "monospace", "size": TEXT_FONT, "color": "#111111"})
    # Words are placed by character count, so one x unit must be one character wide on screen: the figure
    # has a fixed width of (width + 2) monospace characters (0.6 em each, as in common monospace fonts).
    fig.update_xaxes(visible=False, range=[-1, width + 1])
    fig.update_yaxes(visible=False, range=[min(ys, default=0) - 0.7, 0.7])
    fig.update_layout(template=TEMPLATE, height=90 + 30 * (1 - min(ys, default=0)),
                      width=round((width + 2) * TEXT_FONT * 0.6) + 20, margin={"t": 50, "b": 10, "l": 10, "r": 10},
                      title=f"Words for {_class_label(attr, cls)}: red raises it, blue lowers it", showlegend=False)
    return fig


def prediction_bar(probabilities: Sequence[float], class_names: Sequence[str],
                   explained: int | None = None) -> go.Figure:
    """The model's output per class; the class being explained is highlighted."""
    p = np.asarray(probabilities, dtype=float)
    colours = [NEUTRAL if k != explained else UP for k in range(len(p))]
    fig = go.Figure(go.Bar(x=list(class_names), y=p, marker_color=colours, text=[f"{v:.3f}" for v in p],
                           textposition="auto"))
    fig.update_layout(template=TEMPLATE, title="Model output per class", height=280, xaxis={"type": "category"},
                      yaxis_title="probability" if len(p) > 1 else "output", margin={"t": 50})
    return fig


def figure_html(fig: go.Figure) -> str:
    """A self-contained HTML page of ``fig`` (plotly.js embedded: opens offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True)
