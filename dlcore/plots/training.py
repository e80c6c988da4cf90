"""Figures of a training run: curves per epoch, and held-out evaluation."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dlcore.record import curve_names

TEMPLATE = "plotly_white"


def curve_panels(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The panels of ``training_curves``: the curves of the rows (``dlcore.record.curve_names``) without their
    ``val_`` prefix (``val_x`` is drawn with ``x``), loss first."""
    bases = {k[4:] if k.startswith("val_") else k for k in curve_names(rows)}
    return sorted(bases, key=lambda n: (n != "loss", n))


def training_curves(rows: Sequence[Mapping[str, Any]], title: str = "") -> go.Figure:
    """One panel per metric (loss, accuracy / mae, ...), training and validation lines over epochs."""
    names = curve_panels(rows) or ["loss"]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.08)
    epochs = [r.get("epoch") for r in rows]
    for col, name in enumerate(names, start=1):
        for key, label, dash in ((name, "training", "solid"), (f"val_{name}", "validation", "dot")):
            if any(key in r for r in rows):
                fig.add_trace(go.Scatter(x=epochs, y=[r.get(key) for r in rows], mode="lines+markers",
                                         name=f"{label} {name}", line={"dash": dash}), row=1, col=col)
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_layout(template=TEMPLATE, height=330, title=title or None, margin={"t": 50, "b": 40},
                      legend={"orientation": "h", "y": -0.25})
    return fig


def confusion_matrix(matrix: Sequence[Sequence[int]], class_names: Sequence[str], normalize: bool = False) -> go.Figure:
    """Heatmap of true (rows) against predicted (columns) classes, counts written in the cells."""
    m = np.asarray(matrix, dtype=float)
    shown = m / np.maximum(m.sum(axis=1, keepdims=True), 1) if normalize else m
    text = [[f"{v:.2f}" if normalize else f"{int(v)}" for v in row] for row in shown]
    fig = go.Figure(go.Heatmap(z=shown, x=list(class_names), y=list(class_names), text=text,
                               texttemplate="%{text}", colorscale="Blues", showscale=False,
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>"))
    fig.update_layout(template=TEMPLATE, title="Confusion matrix (validation)", height=420,
                      xaxis={"title": "predicted", "type": "category"},
                      yaxis={"title": "true", "type": "category", "autorange": "reversed"})
    return fig


def per_class_scores(report: Mapping[str, Any]) -> go.Figure:
    """Grouped bars of precision, recall and F1 for each class."""
    names = list(report["class_names"])
    fig = go.Figure([go.Bar(name=k, x=names, y=list(report[k])) for k in ("precision", "recall", "f1")])
    fig.update_layout(template=TEMPLATE, barmode="group", title="Per-class scores (validation)", height=360,
                      yaxis={"range": [0, 1.05]}, xaxis={"type": "category"})
    return fig


def predicted_vs_true(y_true: Sequence[float], y_pred: Sequence[float]) -> go.Figure:
    """Scatter of predictions against targets, with the identity line."""
    t, p = np.asarray(y_true, float), np.asarray(y_pred, float)
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    fig = go.Figure([go.Scatter(x=t, y=p, mode="markers", name="validation rows", opacity=0.7),
                     go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect", line={"dash": "dash"})])
    fig.update_layout(template=TEMPLATE, title="Predicted vs true (validation)", height=400,
                      xaxis_title="true", yaxis_title="predicted")
    return fig


def residuals(y_true: Sequence[float], y_pred: Sequence[float]) -> go.Figure:
    """Residuals (prediction minus target) against the prediction."""
    t, p = np.asarray(y_true, float), np.asarray(y_pred, float)
    fig = go.Figure([go.Scatter(x=p, y=p - t, mode="markers", opacity=0.7, name="residual")])
    fig.add_hline(y=0.0, line_dash="dash")
    fig.update_layout(template=TEMPLATE, title="Residuals (validation)", height=400,
                      xaxis_title="predicted", yaxis_title="predicted - true")
    return fig
