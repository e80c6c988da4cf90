"""Comparing models: which pair to compare first, their training curves overlaid, and scores before and after
fine-tuning."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from dlcore.plots.training import TEMPLATE
from dlcore.record import ModelMeta, curve_names

CLASSIFICATION_SCORES = ("accuracy", "precision", "recall", "f1")
REGRESSION_SCORES = ("mae", "rmse", "r2")


def shared_curves(a: ModelMeta, b: ModelMeta) -> set[str]:
    """The training curves both models have (``ModelMeta.curves``: never the epoch, its duration or its time)."""
    return set(a.curves()) & set(b.curves())


def comparison_partner(first: ModelMeta, others: Sequence[ModelMeta]) -> int:
    """The index in ``others`` of the model to compare ``first`` with before anyone chooses: the one sharing the
    most curves with it, then one trained on the same data set, then the first listed."""
    def data(m: ModelMeta) -> str | None:
        return m.config.data if m.config is not None else None

    def likeness(i: int) -> tuple[int, bool, int]:
        m = others[i]
        return len(shared_curves(first, m)), data(m) is not None and data(m) == data(first), -i

    return max(range(len(others)), key=likeness)


def overlay_curves(histories: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """The curves any of ``histories`` (a label -> per-epoch rows) has, validation ones first (``curve_names``)."""
    return curve_names([row for rows in histories.values() for row in rows])


def compare_curves(histories: Mapping[str, Sequence[Mapping[str, Any]]], metric: str = "val_loss") -> go.Figure:
    """One line per model: ``metric`` over epochs (``histories`` maps a label to per-epoch rows)."""
    fig = go.Figure()
    for label, rows in histories.items():
        points = [(r.get("epoch"), r.get(metric)) for r in rows if r.get(metric) is not None]
        if points:
            x, y = zip(*points)
            fig.add_trace(go.Scatter(x=list(x), y=list(y), mode="lines+markers", name=str(label)))
    fig.update_layout(template=TEMPLATE, title=f"{metric} by epoch", height=380, xaxis_title="epoch",
                      yaxis_title=metric, legend={"orientation": "h", "y": -0.25})
    return fig


def summary_scores(report: Mapping[str, Any]) -> dict[str, float]:
    """Headline scores of an evaluation report: accuracy and macro precision, recall, F1; or MAE, RMSE, R²."""
    if report.get("kind") == "classification":
        out = {"accuracy": float(report["accuracy"])}
        out.update({k: float(np.mean(report[k])) for k in ("precision", "recall", "f1")})
        return out
    return {k: float(report[k]) for k in REGRESSION_SCORES if k in report}


def before_after(before: Mapping[str, Any], after: Mapping[str, Any],
                 labels: tuple[str, str] = ("before", "after")) -> go.Figure:
    """Grouped bars of the headline scores of two evaluations of the same validation split."""
    b, a = summary_scores(before), summary_scores(after)
    names = [k for k in b if k in a]
    fig = go.Figure([go.Bar(name=labels[0], x=names, y=[b[k] for k in names], text=[f"{b[k]:.3f}" for k in names]),
                     go.Bar(name=labels[1], x=names, y=[a[k] for k in names], text=[f"{a[k]:.3f}" for k in names])])
    macro = " (precision, recall and F1 averaged over classes)" if before.get("kind") == "classification" else ""
    fig.update_layout(template=TEMPLATE, barmode="group", height=360, title=f"Validation scores{macro}",
                      xaxis={"type": "category"})
    if before.get("kind") == "classification":
        fig.update_yaxes(range=[0, 1.05])
    return fig
