"""Figures of a forecast: the series over the validation period with the forecast and the baselines, and the
error at each step."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dlcore.plots.training import TEMPLATE

DASHES = ("dot", "dash", "dashdot", "longdash")


def forecast_plot(times: Sequence[str], actual: Sequence[float], forecast: Sequence[float],
                  baselines: Mapping[str, Sequence[float]] | None = None, target: str = "value",
                  horizon: int = 1) -> go.Figure:
    """Top: the true series, the model's forecast and each baseline's, over the validation period. Bottom: the
    absolute error of each at every step, with its mean (the MAE) in the legend."""
    actual_ = np.asarray(actual, dtype=np.float64)
    lines = {"model": np.asarray(forecast, dtype=np.float64),
             **{k: np.asarray(v, dtype=np.float64) for k, v in (baselines or {}).items()}}
    x = list(times) if len(times) == len(actual_) else list(range(len(actual_)))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.06,
                        subplot_titles=(f"{target}: {horizon} step(s) ahead over the validation period",
                                        "absolute error per step"))
    fig.add_trace(go.Scatter(x=x, y=actual_, mode="lines", name="actual", line={"color": "black"}), row=1, col=1)
    for i, (name, values) in enumerate(lines.items()):
        style = {"color": "#1f77b4"} if name == "model" else {"dash": DASHES[(i - 1) % len(DASHES)]}
        mae = float(np.mean(np.abs(values - actual_))) if len(values) else float("nan")
        fig.add_trace(go.Scatter(x=x, y=values, mode="lines", name=f"{name} (MAE {mae:.3g})", line=style,
                                 legendgroup=name), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=np.abs(values - actual_), mode="lines", name=f"{name} error", line=style,
                                 legendgroup=name, showlegend=False), row=2, col=1)
    fig.update_yaxes(title_text=target, row=1, col=1)
    fig.update_yaxes(title_text="|error|", rangemode="tozero", row=2, col=1)
    fig.update_layout(template=TEMPLATE, height=520, margin={"t": 50, "b": 40}, legend={"orientation": "h", "y": -0.12})
    return fig


__all__ = ["forecast_plot"]
