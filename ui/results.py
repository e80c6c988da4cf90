"""A stored model's results: final metrics and the held-out evaluation figures (from its metadata)."""
from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from dlcore import plots
from dlcore.data import forecast, load_dataset
from dlcore.errors import DlcoreError
from dlcore.store import ModelRecord, ModelStore
from ui.cache import model, workspace
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
        if "forecast" in meta.preprocessing.get("params", {}) and meta.config is not None:
            forecast_results(record)
    elif ev.get("kind") == "generative":
        quality_panel(ev, key, meta.class_names)


@st.cache_resource(show_spinner="Forecasting the validation period...", max_entries=4)
def _forecast(model_id: str, root: str) -> forecast.ForecastResult:
    config = ModelStore(root).get(model_id).meta.config
    assert config is not None
    ds = load_dataset(config.data, config.target, config.validation_split, config.seed,
                      tuple(config.sensitive) or None, forecast=config.forecast)
    return forecast.predict(model(model_id), ds)


def forecast_results(record: ModelRecord) -> None:
    """A forecasting model: the series over the validation period with its forecast, the baselines and the error."""
    try:
        result = _forecast(record.model_id, str(workspace()))
    except DlcoreError as exc:
        st.warning(f"The forecast could not be redrawn: {exc}")
        return
    scores = result.baseline_mae()
    st.caption(f"In {result.target}'s units: validation MAE {result.mae:.4g}; baselines "
               + ", ".join(f"{k} {v:.4g}" for k, v in scores.items())
               + (" (the model beats the last value)." if result.mae < scores["last value"] else
                  " (the model does not beat the last value)."))
    st.plotly_chart(plots.forecast_plot(result.times, result.actual, result.forecast, result.baselines,
                                        result.target, result.horizon), key=f"forecast_{record.model_id}")
