"""Figures of generative models: image grids and strips, the latent map, and the quality report."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from dlcore.plots.data import image_mosaic
from dlcore.plots.training import TEMPLATE

SHADES = ("\u00a0", "░", "▒", "▓", "█")  # hover text draws an image with these (no space: hover collapses it)
HOVER_ROWS = 10


def image_grid(images: np.ndarray, per_row: int | None = None, title: str = "",
               row_labels: Sequence[str] | None = None, column_labels: Sequence[str] | None = None,
               tile_pixels: int = 48) -> go.Figure:
    """Images (n, h, w, c) in [0, 1] tiled ``per_row`` a row (default: near square), grey or colour."""
    x = np.asarray(images, dtype=float)
    n, h, w = x.shape[:3]
    per_row = int(per_row or int(np.ceil(np.sqrt(n))))
    rows = int(np.ceil(n / per_row))
    mosaic = image_mosaic(x, [""] * rows, per_row)
    if mosaic.shape[-1] == 1:
        trace: go.BaseTraceType = go.Heatmap(z=mosaic[..., 0], colorscale="gray", zmin=0, zmax=1, showscale=False,
                                             hoverinfo="skip")
    else:
        trace = go.Image(z=np.nan_to_num(mosaic * 255).astype(np.uint8), hoverinfo="skip")
    fig = go.Figure(trace)
    y_ticks = {"tickvals": [r * (h + 1) + h / 2 - 0.5 for r in range(rows)], "ticktext": list(row_labels)} \
        if row_labels else {"showticklabels": False}
    x_ticks = {"tickvals": [c * (w + 1) + w / 2 - 0.5 for c in range(per_row)], "ticktext": list(column_labels)} \
        if column_labels else {"showticklabels": False}
    scale = max(1.0, tile_pixels / h)
    fig.update_layout(template=TEMPLATE, title=title or None, height=int(rows * (h + 1) * scale + 90),
                      yaxis={"autorange": "reversed", "scaleanchor": "x", "showgrid": False, "zeroline": False,
                             **y_ticks},
                      xaxis={"showgrid": False, "zeroline": False, "side": "top", **x_ticks},
                      margin={"l": 60 if row_labels else 10, "r": 10, "t": 60 if title else 30, "b": 10})
    return fig


def ascii_image(image: np.ndarray, max_rows: int = HOVER_ROWS) -> str:
    """An image as lines of shade characters joined by ``<br>`` (Plotly hover labels cannot show images)."""
    x = np.asarray(image, dtype=float)
    x = x.mean(axis=-1) if x.ndim == 3 else x
    step = int(np.ceil(x.shape[0] / max_rows))
    if step > 1:  # block averages, so a 28x28 image fits in a hover label
        h, w = (x.shape[0] // step) * step, (x.shape[1] // step) * step
        x = x[:h, :w].reshape(h // step, step, w // step, step).mean(axis=(1, 3))
    levels = np.clip((x * len(SHADES)).astype(int), 0, len(SHADES) - 1)
    return "<br>".join("".join(SHADES[v] * 2 for v in row) for row in levels)  # doubled: cells are tall


def latent_map(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], images: np.ndarray | None = None,
               axis_titles: tuple[str, str] = ("z1", "z2"), title: str = "Latent map") -> go.Figure:
    """Encoded images as points in 2-D, one colour a class; hovering shows the image (in shade characters).
    Each point's ``customdata`` is its row index, so a selection names the images picked."""
    pts, labels = np.asarray(points, dtype=float), np.asarray(labels, dtype=int)
    fig = go.Figure()
    for k, name in enumerate(class_names):
        idx = np.flatnonzero(labels == k)
        if not len(idx):
            continue
        text = [ascii_image(images[i]) for i in idx] if images is not None else None
        fig.add_trace(go.Scattergl(x=pts[idx, 0], y=pts[idx, 1], mode="markers", name=str(name), customdata=idx,
                                   text=text, marker={"size": 7, "opacity": 0.8},
                                   hovertemplate=f"class {name}, row %{{customdata}}<br>%{{text}}<extra></extra>"
                                   if text else f"class {name}, row %{{customdata}}<extra></extra>"))
    fig.update_layout(template=TEMPLATE, title=title, height=480, xaxis_title=axis_titles[0],
                      yaxis_title=axis_titles[1], hoverlabel={"font": {"family": "monospace", "size": 11}},
                      legend={"title": "class"}, dragmode="select")
    return fig


def class_coverage(report: Mapping[str, Any], class_names: Sequence[str] | None = None) -> go.Figure:
    """How many samples the reference classifier puts in each class, against an even share."""
    counts = list(report["class_counts"])
    names = list(class_names) if class_names else [str(k) for k in range(len(counts))]
    fig = go.Figure(go.Bar(x=names, y=counts, text=counts, textposition="auto", name="samples"))
    fig.add_hline(y=sum(counts) / max(1, len(counts)), line_dash="dash", annotation_text="even share")
    fig.update_layout(template=TEMPLATE, height=340, xaxis={"type": "category", "title": "predicted class"},
                      yaxis_title="samples", title=(
                          f"Class coverage: {report['classes_present']}/{len(counts)} classes, entropy "
                          f"{report['class_entropy']:.2f} of {report['max_entropy']:.2f} nats"))
    return fig


def memorisation_histogram(memo: Mapping[str, Any]) -> go.Figure:
    """Distances from samples to their nearest training image against training image to nearest other
    training image; samples left of the copy threshold count as copies."""
    fig = go.Figure([
        go.Histogram(x=memo["train_distances"], name="training image to nearest other", opacity=0.6,
                     histnorm="probability density", nbinsx=40),
        go.Histogram(x=memo["sample_distances"], name="sample to nearest training image", opacity=0.6,
                     histnorm="probability density", nbinsx=40)])
    fig.add_vline(x=memo["copy_threshold"], line_dash="dash", annotation_text="copy threshold")
    verdict = "passed" if memo["passed"] else "failed"
    fig.update_layout(template=TEMPLATE, barmode="overlay", height=340, xaxis_title="pixel distance",
                      yaxis_title="density", legend={"orientation": "h", "y": -0.25},
                      title=f"Memorisation check {verdict}: {memo['copy_fraction']:.1%} copies<br>"
                            f"<sup>median sample distance {memo['near_ratio']:.2f}x the training images' own</sup>")
    return fig
