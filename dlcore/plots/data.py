"""Figures that show a data set: class balance, sample images per class, feature distributions."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dlcore.plots.training import TEMPLATE


def class_balance(labels: np.ndarray, class_names: Sequence[str], title: str = "Class balance") -> go.Figure:
    """Bar of how many rows each class has."""
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=len(class_names))
    fig = go.Figure(go.Bar(x=list(class_names), y=counts.tolist(), text=counts.tolist(), textposition="auto"))
    fig.update_layout(template=TEMPLATE, title=title, height=320, xaxis={"type": "category", "title": "class"},
                      yaxis_title="rows")
    return fig


def image_mosaic(images: np.ndarray, rows: Sequence[str], per_row: int, gap: int = 1) -> np.ndarray:
    """Tile ``images`` (len(rows) * per_row, h, w[, c]) into one array, one row of tiles per label."""
    n, h, w = images.shape[:3]
    channels = images.shape[3] if images.ndim == 4 else 1
    canvas = np.full((len(rows) * (h + gap) - gap, per_row * (w + gap) - gap, channels), np.nan)
    for i in range(min(n, len(rows) * per_row)):
        r, c = divmod(i, per_row)
        canvas[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = images[i].reshape(h, w, channels)
    return canvas


def sample_images(x: np.ndarray, y: np.ndarray, class_names: Sequence[str], per_class: int = 8,
                  seed: int = 0) -> go.Figure:
    """A grid of example images: one row per class, ``per_class`` seeded picks each."""
    rng = np.random.default_rng(seed)
    h, w = x.shape[1:3]
    picks = []
    for k in range(len(class_names)):
        idx = np.flatnonzero(y == k)
        chosen = rng.choice(idx, size=min(per_class, len(idx)), replace=False) if len(idx) else []
        tiles = [x[i] for i in chosen] + [np.full(x.shape[1:], np.nan)] * (per_class - len(chosen))
        picks.extend(tiles)
    mosaic = image_mosaic(np.asarray(picks, dtype=float), list(class_names), per_class)
    if mosaic.shape[-1] == 1:
        trace: go.BaseTraceType = go.Heatmap(z=mosaic[..., 0], colorscale="gray", showscale=False, hoverinfo="skip")
    else:
        trace = go.Image(z=np.nan_to_num(mosaic * 255).astype(np.uint8), hoverinfo="skip")
    fig = go.Figure(trace)
    centres = [k * (h + 1) + h / 2 - 0.5 for k in range(len(class_names))]
    fig.update_layout(template=TEMPLATE, title="Sample images per class", height=max(220, 60 * len(class_names) + 80),
                      yaxis={"autorange": "reversed", "tickvals": centres, "ticktext": list(class_names),
                             "scaleanchor": "x", "showgrid": False},
                      xaxis={"showticklabels": False, "showgrid": False}, margin={"l": 90})
    return fig


def feature_histograms(x: np.ndarray, names: Sequence[str], max_features: int = 12, cols: int = 4) -> go.Figure:
    """Histograms of the first ``max_features`` numeric columns."""
    k = min(max_features, x.shape[1])
    n_rows = int(np.ceil(k / cols))
    fig = make_subplots(rows=n_rows, cols=cols, subplot_titles=[str(n) for n in names[:k]])
    for j in range(k):
        fig.add_trace(go.Histogram(x=x[:, j], nbinsx=30, showlegend=False), row=j // cols + 1, col=j % cols + 1)
    fig.update_layout(template=TEMPLATE, height=220 * n_rows, title="Feature distributions", bargap=0.05)
    return fig


def sample_series(x: np.ndarray, y: np.ndarray, class_names: Sequence[str], features: Sequence[str] = ()) -> go.Figure:
    """One example series per class (the first of each), each feature a line over the steps; one panel a class."""
    x = np.asarray(x, dtype=np.float64)
    classes = [k for k in range(len(class_names)) if np.any(np.asarray(y) == k)] or [0]
    fig = make_subplots(rows=1, cols=len(classes), shared_yaxes=True,
                        subplot_titles=[str(class_names[k]) if class_names else "" for k in classes])
    names = list(features) or [f"feature {j}" for j in range(x.shape[2])]
    for col, k in enumerate(classes, start=1):
        series = x[int(np.flatnonzero(np.asarray(y) == k)[0])] if class_names else x[0]
        for j in range(series.shape[1]):
            fig.add_trace(go.Scatter(y=series[:, j], mode="lines", name=names[j], legendgroup=names[j],
                                     showlegend=col == 1), row=1, col=col)
        fig.update_xaxes(title_text="step", row=1, col=col)
    fig.update_layout(template=TEMPLATE, title="One example of each class", height=320)
    return fig
