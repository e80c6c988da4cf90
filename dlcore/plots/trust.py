"""Figures of how far an explanation can be trusted: deletion and insertion curves against random orders,
the model-randomisation sanity check, agreement between methods, and the spread of a map across seed reruns.

Each takes the result object of its check (``dlcore.explain.faithfulness``, ``randomisation``, ``agreement``)
or a plain array, and returns a ``plotly.graph_objects.Figure``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dlcore.plots.explain import DIVERGING, NEUTRAL, UP
from dlcore.plots.training import TEMPLATE

if TYPE_CHECKING:
    from dlcore.explain.agreement import AgreementMatrix
    from dlcore.explain.faithfulness import Faithfulness
    from dlcore.explain.randomisation import Randomisation

EXPLAINED = "#1f2d3d"  # the explanation's own curve: dark, over the grey random band
BAND = "rgba(154,165,177,0.30)"
SIGNED = "#1f77d4"
SEQUENTIAL = "Viridis"
UNDEFINED = "constant explanation"
ACTION = {"deletion": "removed", "insertion": "revealed"}


def _number(value: float | None, digits: int = 3) -> str:
    """``value`` rounded, or ``n/a`` for None and NaN."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def faithfulness_title(f: Faithfulness) -> str:
    """One line on a deletion or insertion result, e.g. ``deletion: AUC 0.210 vs random 0.450 ± 0.030``,
    then the ratio and whether the explanation beats random orders."""
    verdict = "beats random" if f.beats_random else "does not beat random"
    return (f"{f.kind}: AUC {_number(f.auc)} vs random {_number(f.random_auc)} ± {_number(f.random_auc_std)}"
            f"<br>ratio {_number(f.ratio, 2)}, {verdict}")


def _line(f: Faithfulness, y: np.ndarray, name: str, group: str, legend: bool, hover: str = "",
          **style: Any) -> go.Scatter:
    """One line of a faithfulness panel; its hover says the fraction, the output and which line it is
    (``hover``, else ``name``)."""
    point = f"%{{x:.0%}} {ACTION.get(f.kind, 'changed')}: output %{{y:.3f}}"
    return go.Scatter(x=np.asarray(f.fractions, dtype=float), y=y, mode="lines", name=name, legendgroup=group,
                      showlegend=legend, hovertemplate=f"{point}<extra>{hover or name}</extra>", **style)


def _faithfulness_traces(f: Faithfulness, legend: bool) -> list[go.Scatter]:
    """The random band (lower edge, then upper edge filled down to it), the random mean and the explanation."""
    mean, std = np.asarray(f.random_curve, dtype=float), np.asarray(f.random_curve_std, dtype=float)
    return [
        _line(f, mean - std, "random orders: mean - 1 std", "band", False, line={"width": 0}),
        _line(f, mean + std, "random orders ± 1 std", "band", legend, "random orders: mean + 1 std",
              line={"width": 0}, fill="tonexty", fillcolor=BAND),
        _line(f, mean, "random orders: mean", "random", legend, line={"color": NEUTRAL, "dash": "dash"}),
        _line(f, np.asarray(f.curve, dtype=float), "explanation's order", "explained", legend,
              line={"color": EXPLAINED, "width": 2.5}),
    ]


def faithfulness_curves(deletion: Faithfulness | None, insertion: Faithfulness | None,
                        stacked: bool = False) -> go.Figure:
    """Deletion and insertion curves (either may be None): the class output as the explanation's most
    important parts are removed (revealed) first, against the mean of random orders with a ±1 std band.

    Args:
        deletion, insertion: ``dlcore.explain.faithfulness.Faithfulness`` results, or None to leave one out.
        stacked: one panel above the other (for a narrow column) instead of side by side.

    Raises:
        ValueError: when both are None.
    """
    panels = [f for f in (deletion, insertion) if f is not None]
    if not panels:
        raise ValueError("faithfulness_curves needs a deletion or an insertion result; both are None")
    rows, cols = (len(panels), 1) if stacked else (1, len(panels))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[faithfulness_title(f) for f in panels],
                        horizontal_spacing=0.1, vertical_spacing=0.3)
    for i, f in enumerate(panels):
        at = {"row": i + 1, "col": 1} if stacked else {"row": 1, "col": i + 1}
        for trace in _faithfulness_traces(f, legend=i == 0):
            fig.add_trace(trace, **at)
        fig.update_xaxes(title_text=f"fraction of the {f.parts} parts {ACTION.get(f.kind, 'changed')}",
                         range=[0, 1], tickformat=".0%", **at)
        fig.update_yaxes(title_text=f"output for class {f.cls}", **at)
    fig.update_layout(template=TEMPLATE, height=420 * rows if stacked else 420, margin={"t": 120},
                      title="Faithfulness: the explanation's order against random orders",
                      legend={"orientation": "h", "y": -0.2})
    return fig


def randomisation_labels(layers: Sequence[str], cascade: bool) -> list[str]:
    """The x axis of ``randomisation_curve``: ``+ layer`` for each layer added to the re-initialised ones
    (cascading, output side first), or the layer's own name (independent)."""
    return [f"+ {name}" if cascade else str(name) for name in layers]


def _gaps(values: Sequence[float]) -> list[float | None]:
    """The values with NaN as None, so a line breaks there instead of joining its neighbours."""
    return [None if v is None or not math.isfinite(float(v)) else float(v) for v in values]


def _undefined_trace(labels: list[str], series: dict[str, Sequence[float]]) -> go.Scatter | None:
    """Markers at 0 where a correlation is undefined, their hover naming the constant explanation."""
    xs, texts = [], []
    for name, values in series.items():
        for label, value in zip(labels, values):
            if value is None or not math.isfinite(float(value)):
                xs.append(label)
                texts.append(f"{label}: {name} undefined ({UNDEFINED})")
    if not xs:
        return None
    return go.Scatter(x=xs, y=[0.0] * len(xs), mode="markers", name=f"undefined: {UNDEFINED}", text=texts,
                      marker={"symbol": "x-open", "size": 11, "color": UP}, cliponaxis=False,
                      hovertemplate="%{text}<extra></extra>")


def randomisation_curve(r: Randomisation) -> go.Figure:
    """Spearman correlation of the explanation with the original as layers are re-initialised (cascading
    from the output, or one at a time), on |values| and on signed values, with the pass threshold dashed.
    Undefined correlations (a constant explanation) leave gaps in the lines, marked at 0.

    Args:
        r: a ``dlcore.explain.randomisation.Randomisation`` result.
    """
    labels = randomisation_labels(r.layers, r.cascade)
    series = {"|values|": r.correlations, "signed values": r.correlations_signed}
    fig = go.Figure()
    for (name, values), colour in zip(series.items(), (EXPLAINED, SIGNED)):
        fig.add_trace(go.Scatter(x=labels, y=_gaps(values), mode="lines+markers", name=f"ρ on {name}",
                                 line={"color": colour}, connectgaps=False, cliponaxis=False,
                                 hovertemplate=f"%{{x}}: ρ on {name} %{{y:.3f}}<extra></extra>"))
    undefined = _undefined_trace(labels, series)
    if undefined is not None:
        fig.add_trace(undefined)
    fig.add_hline(y=r.threshold, line_dash="dash", line_color=NEUTRAL,
                  annotation_text=f"threshold {r.threshold:.2f}", annotation_position="top right")
    kind = "Cascading" if r.cascade else "Independent"
    outcome = "passes" if r.passes else "fails"
    note = f"<br><sup>{r.reason}</sup>" if r.reason else ""
    axis = "layers re-initialised, from the output" if r.cascade else "layer re-initialised (each alone)"
    fig.update_layout(template=TEMPLATE, height=420, margin={"t": 90},
                      title=f"{kind} randomisation: final ρ {_number(r.final, 2)} (|values|), "
                      f"{_number(r.final_signed, 2)} (signed); {outcome}{note}",
                      xaxis={"type": "category", "title": axis},
                      yaxis={"range": [-1, 1], "title": "Spearman ρ with the original explanation"},
                      legend={"orientation": "h", "y": -0.3})
    return fig


def agreement_heatmap(m: AgreementMatrix) -> go.Figure:
    """Spearman correlation between every pair of explanations, written in the cells (diverging scale from
    -1 to 1); the hover adds the share of the top-``k`` features both put first.

    Args:
        m: a ``dlcore.explain.agreement.AgreementMatrix``.
    """
    rho = np.asarray(m.rho, dtype=float)
    overlap = np.asarray(m.overlap, dtype=float)
    names = list(m.names)
    text = [[_number(v, 2) for v in row] for row in rho]
    fig = go.Figure(go.Heatmap(
        z=rho, x=names, y=names, zmin=-1, zmax=1, zmid=0, colorscale=DIVERGING, text=text,
        texttemplate="%{text}", customdata=[[_number(v, 2) for v in row] for row in overlap],
        colorbar={"title": "Spearman ρ"},
        hovertemplate=f"%{{y}} vs %{{x}}<br>Spearman ρ %{{text}}<br>top-{m.k} overlap %{{customdata}}"
                      "<extra></extra>"))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", type="category")
    fig.update_xaxes(type="category", side="bottom")
    fig.update_layout(template=TEMPLATE, height=max(320, 70 * len(names) + 160), margin={"t": 70},
                      title=f"Agreement: Spearman ρ between methods (hover: top-{m.k} overlap)")
    return fig


def spread_map(image_spread: np.ndarray, title: str = "Spread of the attribution across seeds") -> go.Figure:
    """Per-pixel spread across seed reruns as a heat map from 0 (light scale start) up, oriented like the
    image (row 0 on top, square pixels).

    Args:
        image_spread: ``(height, width)``, or ``(height, width, channels)`` summed over channels here.
        title: the figure's title.

    Raises:
        ValueError: when the array is not 2-D or 3-D, or holds negative values.
    """
    arr = np.asarray(image_spread, dtype=np.float64)
    if arr.ndim not in (2, 3):
        raise ValueError(f"spread map shaped {arr.shape}: pass (height, width) or (height, width, channels)")
    heat = arr.sum(axis=-1) if arr.ndim == 3 else arr
    if (heat < 0).any():
        raise ValueError("spread map holds negative values; pass a spread (standard deviation across seeds)")
    top = float(np.nanmax(heat)) if np.isfinite(heat).any() else 0.0
    fig = go.Figure(go.Heatmap(z=heat, colorscale=SEQUENTIAL, zmin=0.0, zmax=top or 1.0,
                               colorbar={"title": "spread"},
                               hovertemplate="row %{y}, col %{x}: spread %{z:.3g}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False, showgrid=False, zeroline=False)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_layout(template=TEMPLATE, height=340, margin={"t": 60, "b": 10}, title=title)
    return fig
