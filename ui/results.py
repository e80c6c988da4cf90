"""A stored model's results: final metrics and the held-out evaluation figures (from its metadata)."""
from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from dlcore import plots
from dlcore.store import ModelRecord
from ui.quality import quality_panel


def metric_row(metrics: Mapping[str, float]) -> None:
    """Final metrics as Streamlit metric tiles, validation first."""
    keys = [k for k in metrics if k.startswith("val_")] + [k for k in metrics
                                                          if not k.startswith("val_") and k != "epoch"]
    cols = st.columns(max(1, len(keys)))
    for col, key in zip(cols, keys):
        col.metric(key, f"{metrics[key]:.4g}")


def model_results(record: ModelRecord) -> None:
    """Metrics, then a confusion matrix and per-class scores, or predicted-vs-true and residuals."""
    meta = record.meta
    params = f"{meta.params:,}" if meta.params is not None else "?"
    st.markdown(f"**Model `{record.model_id}`** ({meta.name}), {params} parameters; "
                f"weights from epoch {meta.best_epoch}.")
    metric_row(meta.final_metrics())
    ev, key = meta.evaluation, record.model_id
    if ev.get("kind") == "classification":
        left, right = st.columns(2)
        left.plotly_chart(plots.confusion_matrix(ev["confusion_matrix"], ev["class_names"]), key=f"cm_{key}")
        right.plotly_chart(plots.per_class_scores(ev), key=f"pcs_{key}")
    elif ev.get("kind") == "regression":
        st.caption(f"Validation MAE {ev['mae']:.4g} against {ev['baseline_mae']:.4g} for always predicting the mean; "
                   f"R² {ev['r2']:.3f}.")
        left, right = st.columns(2)
        left.plotly_chart(plots.predicted_vs_true(ev["y_true"], ev["y_pred"]), key=f"pvt_{key}")
        right.plotly_chart(plots.residuals(ev["y_true"], ev["y_pred"]), key=f"res_{key}")
    elif ev.get("kind") == "generative":
        quality_panel(ev, key, meta.class_names)
