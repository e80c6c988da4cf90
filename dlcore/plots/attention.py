"""Figures of attention: the weights of every head (``AttentionMaps``) and the attention rollout drawn back onto
the input (an ``Attribution`` of method ``attention``). Rollout is a non-negative share of relevance, not a push
up or down, so it gets a one-sided scale (white at 0) rather than the red-blue scale of the other methods.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dlcore.plots.explain import FAINT_GREY
from dlcore.plots.training import TEMPLATE

SEQUENTIAL = "Viridis"  # attention weights: 0 dark, high bright
OVER_IMAGE = [[0.0, "rgba(255,140,0,0)"], [1.0, "rgba(214,39,61,1)"]]  # transparent at 0, red where relevant


def _short_labels(maps: Any, row: int) -> tuple[list[str], np.ndarray]:
    """Axis labels of the tokens drawn (a text's words, padding left out) and their positions."""
    keep = np.flatnonzero(maps.pooled[row] > 0) if maps.tokens.kind == "word" else np.arange(maps.n_tokens)
    if maps.tokens.kind == "word":
        return [f"{p}:{maps.tokens.words[row][p]}" for p in keep], keep
    return [label.split(" (")[0] for label in np.asarray(maps.tokens.labels)[keep]], keep


def attention_heads(maps: Any, layer: int | None = 0, row: int = 0) -> go.Figure:
    """A grid of heat maps of the attention weights of input ``row``, tokens (queries, down) x tokens (keys,
    across): one row of the grid per layer drawn and one column per head, titled ``layer L head H`` (both
    counted from 1). ``layer`` picks one layer (from 0); ``None`` draws every layer."""
    layers = list(range(maps.n_layers)) if layer is None else [int(layer)]
    if not all(0 <= li < maps.n_layers for li in layers):
        raise ValueError(f"layer {layer} does not exist; the model has {maps.n_layers} attention layer(s)")
    if not 0 <= int(row) < len(maps.pooled):
        raise ValueError(f"row {row} does not exist; there are {len(maps.pooled)} input(s)")
    heads = max(maps.heads(li) for li in layers)
    labels, keep = _short_labels(maps, row)
    titles = [f"layer {li + 1} head {h + 1}" if h < maps.heads(li) else "" for li in layers for h in range(heads)]
    fig = make_subplots(rows=len(layers), cols=heads, subplot_titles=titles, horizontal_spacing=0.04,
                        vertical_spacing=0.08)
    for r, li in enumerate(layers, start=1):
        for h in range(maps.heads(li)):
            z = maps.weights[li][row, h][np.ix_(keep, keep)]
            fig.add_trace(go.Heatmap(z=z, x=labels, y=labels, colorscale=SEQUENTIAL, zmin=0.0, zmax=1.0,
                                     showscale=r == 1 and h == 0, colorbar={"title": "weight"},
                                     hovertemplate="query %{y}, key %{x}: %{z:.3f}<extra></extra>"), row=r, col=h + 1)
            fig.update_yaxes(autorange="reversed", showticklabels=h == 0, row=r, col=h + 1)
            fig.update_xaxes(showticklabels=False, row=r, col=h + 1)
    fig.update_layout(template=TEMPLATE, height=max(320, 260 * len(layers)), margin={"t": 80, "b": 10},
                      title=f"Attention weights of each head ({maps.tokens.kind}s): row = query, column = key")
    return fig


def rollout_map(attr: Any, row: int = 0) -> go.Figure:
    """The attention rollout of input ``row`` drawn back onto it: an image beside the map over it, a sequence's
    steps as a heat map beside each step's relevance, or a text's words as bars."""
    one = attr.row(row)  # a text keeps only its own words
    values = one.class_values(None)[0]
    title = f"Attention rollout ({attr.algorithm}): share of relevance of each part of the input, not class-specific"
    if attr.texts:
        order = np.argsort(-values, kind="stable")[:20]
        fig = go.Figure(go.Bar(x=values[order], y=[one.feature_names[j] for j in order], orientation="h",
                               marker_color="#d6273d"))
        fig.update_yaxes(autorange="reversed")
        fig.update_layout(template=TEMPLATE, height=360, title=title, xaxis_title="relevance")
        return fig
    if attr.inputs.ndim == 4:
        return _image_rollout(attr.inputs[row], values.mean(axis=-1), title)
    fig = make_subplots(rows=1, cols=2, subplot_titles=["input (features x steps)", "relevance of each step"],
                        horizontal_spacing=0.08)
    fig.add_trace(go.Heatmap(z=np.asarray(attr.inputs[row]).T, colorscale="gray", showscale=False), row=1, col=1)
    fig.add_trace(go.Bar(x=np.arange(values.shape[0]), y=values.mean(axis=-1), marker_color="#d6273d"), row=1, col=2)
    fig.update_layout(template=TEMPLATE, height=340, title=title, showlegend=False)
    return fig


def _image_rollout(image: np.ndarray, heat: np.ndarray, title: str) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=["input", "attention rollout over the input"],
                        horizontal_spacing=0.06)
    fig.add_trace(go.Heatmap(z=image.mean(axis=-1), colorscale="gray", showscale=False), row=1, col=1)
    fig.add_trace(go.Heatmap(z=image.mean(axis=-1), colorscale=FAINT_GREY, showscale=False, hoverinfo="skip"),
                  row=1, col=2)
    fig.add_trace(go.Heatmap(z=heat, colorscale=OVER_IMAGE, zmin=0.0, zmax=float(heat.max()) or 1.0,
                             colorbar={"title": "relevance", "len": 0.9},
                             hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>"), row=1, col=2)
    for c in (1, 2):
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{'' if c == 1 else c}", showticklabels=False, row=1,
                         col=c)
        fig.update_xaxes(showticklabels=False, row=1, col=c)
    fig.update_layout(template=TEMPLATE, height=340, margin={"t": 70, "b": 10}, title=title)
    return fig
