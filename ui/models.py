"""The model list: one row per stored model, filters, and the side-by-side comparison of several."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from dlcore import plots
from dlcore.plots.compare import comparison_partner, overlay_curves
from dlcore.store import ModelRecord


def model_row(record: ModelRecord) -> dict:
    """What the table shows of a model: data set, architecture, size, final validation metrics, date, base."""
    m = record.meta
    val = {k: round(v, 4) for k, v in m.final_metrics(validation=True).items()}
    return {"id": record.model_id, "name": m.name, "data": m.data_name, "arch": m.arch, "params": m.params, **val,
            "created": m.created, "origin": m.origin}


def filtered_table(records: Sequence[ModelRecord]) -> pd.DataFrame:
    """The model table with a text filter and data set / architecture filters above it."""
    table = pd.DataFrame([model_row(r) for r in records])
    c1, c2, c3 = st.columns([2, 1, 1])
    text = c1.text_input("Filter by name or id", key="models_filter")
    datas = c2.multiselect("Data set", sorted(set(table["data"]) - {""}), key="models_data")
    archs = c3.multiselect("Architecture", sorted(set(table["arch"]) - {""}), key="models_arch")
    keep = pd.Series(True, index=table.index)
    if text:
        keep &= (table["name"].str.contains(text, case=False, regex=False)
                 | table["id"].str.contains(text, regex=False))
    if datas:
        keep &= table["data"].isin(datas)
    if archs:
        keep &= table["arch"].isin(archs)
    return table[keep]


def default_pair(records: Sequence[ModelRecord]) -> list[str]:
    """The two models compared before the user chooses: the first listed and the one that shares the most
    curves with it (``dlcore.plots.compare.comparison_partner``), so that the overlay compares."""
    if len(records) < 2:
        return [r.model_id for r in records]
    first, rest = records[0], list(records[1:])
    return [first.model_id, rest[comparison_partner(first.meta, [r.meta for r in rest])].model_id]


def compare(records: Sequence[ModelRecord]) -> None:
    """Overlay the training curves of the chosen models and put their final metrics side by side."""
    histories = {f"{r.meta.name} ({r.model_id})": list(r.meta.history) for r in records}
    metrics = overlay_curves(histories)
    if metrics:
        metric = st.selectbox("Curve", metrics, key="compare_metric")
        st.plotly_chart(plots.compare_curves(histories, metric), key="compare_curves")
    else:
        st.caption("None of these models has a training history (imported models have none).")
    rows = {r.model_id: {"name": r.meta.name, "params": r.meta.params,
                         **{k: v for k, v in r.meta.metrics.items() if isinstance(v, (int, float))}}
            for r in records}
    st.dataframe(pd.DataFrame.from_dict(rows, orient="index"), key="compare_table")
