"""Models: every stored model, its results, download and delete."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dlcore import plots
from ui.cache import store
from ui.results import model_results

st.title("Models")
records = store().list()
if not records:
    st.info("No models yet. Train one on the Train page.")
    st.stop()


def _row(r) -> dict:
    m = r.meta
    val = {k: round(v, 4) for k, v in (m.get("metrics") or {}).items() if k.startswith("val_") and isinstance(v, (int, float))}
    return {"id": r.model_id, "name": m.get("name", ""), "data": (m.get("dataset") or {}).get("name", ""),
            "arch": m.get("arch", ""), "params": m.get("params"), **val, "created": m.get("created", "")}


st.dataframe(pd.DataFrame([_row(r) for r in records]), hide_index=True)
by_id = {r.model_id: r for r in records}
chosen = st.selectbox("Model", list(by_id), format_func=lambda i: f"{i} · {by_id[i].meta.get('name', '')}")
record = by_id[chosen]
if record.meta.get("history"):
    st.plotly_chart(plots.training_curves(record.meta["history"]), key=f"hist_{chosen}")
model_results(record)

c1, c2, c3 = st.columns(3)
c1.download_button("Download model.keras", record.model_file.read_bytes(), file_name=f"{chosen}.keras",
                   mime="application/octet-stream")
c2.download_button("Download meta.json", json.dumps(dict(record.meta), indent=2), file_name=f"{chosen}.meta.json",
                   mime="application/json")
with c3.popover("Delete"):
    st.write(f"Delete model `{chosen}` and its files? This cannot be undone.")
    if st.button("Yes, delete", type="primary", key=f"del_{chosen}"):
        store().delete(chosen)
        st.rerun()
