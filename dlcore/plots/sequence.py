"""Figures of explanations of sequences ``(steps, features)``: a step x feature heat map of the attribution,
and each feature's series drawn over the steps with every step shaded by its attribution (red raises the
class, blue lowers it), in place of the flat waterfall over ``x0 ... x71``."""
from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dlcore.plots.training import TEMPLATE

SCALE = [[0.0, "#1f77d4"], [0.5, "#f7f7f7"], [1.0, "#d6273d"]]  # blue lowers, red raises (UP, DOWN of explain)


def _sequence(attr: Any, row: int, cls: int | None) -> tuple[np.ndarray, np.ndarray, str]:
    """The row's values and inputs as ``(steps, features)`` and the class's label."""
    if len(attr.input_shape) != 2:
        raise ValueError(f"sequence figures need inputs shaped (steps, features); these are {attr.input_shape}")
    k = int(attr.classes(cls)[row])
    values = np.asarray(attr.class_values(cls)[row], dtype=float)
    return values, np.asarray(attr.inputs[row], dtype=float), str(attr.class_names[k])


def feature_labels(attr: Any) -> list[str]:
    """One name per feature (the last axis): the data set's names when they are per feature, else f0, f1, ..."""
    steps, features = attr.input_shape
    names = list(attr.feature_names)
    return names if len(names) == features else [f"f{j}" for j in range(features)]


def step_scores(attr: Any, row: int = 0, cls: int | None = None) -> np.ndarray:
    """Each step's attribution: the sum over its features, ``(steps,)``."""
    return _sequence(attr, row, cls)[0].sum(axis=1)


def sequence_heatmap(attr: Any, row: int = 0, cls: int | None = None) -> go.Figure:
    """The attribution of every step and feature, time across, features down, on a scale centred at 0."""
    values, _, label = _sequence(attr, row, cls)
    limit = float(np.abs(values).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=values.T, x=np.arange(values.shape[0]), y=feature_labels(attr), colorscale=SCALE,
                               zmin=-limit, zmax=limit, colorbar={"title": attr.method.upper()},
                               hovertemplate="step %{x}, %{y}: %{z:+.4g}<extra></extra>"))
    fig.update_layout(template=TEMPLATE, title=f"{attr.method.upper()} per step and feature for {label}",
                      xaxis_title="step", yaxis_title="feature", height=160 + 28 * values.shape[1])
    return fig


def sequence_series(attr: Any, row: int = 0, cls: int | None = None) -> go.Figure:
    """Each feature's series over the steps, one panel a feature, behind it every step shaded by its summed
    attribution (red raises the class, blue lowers it; the strongest step fully coloured)."""
    values, inputs, label = _sequence(attr, row, cls)
    scores = values.sum(axis=1)
    limit = float(np.abs(scores).max()) or 1.0
    names = feature_labels(attr)
    fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True, vertical_spacing=0.04)
    steps = np.arange(len(scores))
    for j, name in enumerate(names):
        fig.add_trace(go.Scatter(x=steps, y=inputs[:, j], mode="lines+markers", name=name, line={"color": "#333"},
                                 customdata=np.stack([values[:, j], scores], axis=1),
                                 hovertemplate=f"{name}, step %{{x}}: %{{y:.4g}}<br>attribution %{{customdata[0]:+.4g}}"
                                               "<br>step %{customdata[1]:+.4g}<extra></extra>"), row=j + 1, col=1)
        fig.update_yaxes(title_text=name, row=j + 1, col=1)
    for t, s in zip(steps, scores):
        colour = "214,39,61" if s > 0 else "31,119,212"
        fig.add_vrect(x0=t - 0.5, x1=t + 0.5, fillcolor=f"rgba({colour},{abs(s) / limit * 0.6:.3f})", line_width=0,
                      layer="below", row="all", col=1)
    fig.update_xaxes(title_text="step", row=len(names), col=1)
    fig.update_layout(template=TEMPLATE, showlegend=False, height=140 + 160 * len(names),
                      title=f"Series with each step shaded by its {attr.method.upper()} for {label}: red raises it")
    return fig
