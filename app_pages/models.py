"""Models: every stored model; filter, compare, download, delete, and import a model file."""
from __future__ import annotations

import json

import streamlit as st

from dlcore import plots
from ui.cache import store
from ui.imports import import_widget
from ui.models import compare, default_pair, filtered_table
from ui.results import model_results

st.title("Models")
with st.expander("Import a model file (.keras)"):
    st.caption("Uploaded models are untrusted: only Keras 3 `.keras` files are accepted, and each is checked "
               "before it is loaded (no Lambda layers, no code from outside Keras, no layers that read files).")
    if import_widget("models_upload"):
        st.caption("It is listed below.")

records = store().list()
if not records:
    st.info("No models yet. Train one on the Train page, fine-tune one, or import a file above.")
    st.stop()
by_id = {r.model_id: r for r in records}
table = filtered_table(records)
st.dataframe(table, hide_index=True)

st.subheader("Compare")
chosen = st.multiselect("Models to compare (two or more)", list(table["id"]),
                        default=default_pair([by_id[i] for i in table["id"]]),
                        format_func=lambda i: f"{i} · {by_id[i].meta.name}", key="compare_ids")
if len(chosen) >= 2:
    compare([by_id[i] for i in chosen])
else:
    st.caption("Choose at least two models to overlay their curves and compare their metrics.")

st.subheader("One model")
ids = list(table["id"]) or list(by_id)
model_id = st.selectbox("Model", ids, format_func=lambda i: f"{i} · {by_id[i].meta.name}", key="model_one")
record = by_id[model_id]
meta = record.meta
if meta.history:
    st.plotly_chart(plots.training_curves(list(meta.history)), key=f"hist_{model_id}")
if meta.evaluation:
    model_results(record)
elif meta.imported is not None:
    imp = meta.imported
    st.caption(f"Imported from `{imp.file}` (sha256 {imp.sha256[:12]}..., Keras {imp.keras_version}); "
               f"{meta.input_label()}, output {tuple(meta.output_shape)}, "
               f"task {meta.task}. Fine-tune it on the Fine-tune page to evaluate it on data.")

c1, c2, c3 = st.columns(3)
c1.download_button("Download model.keras", record.model_file.read_bytes(), file_name=f"{model_id}.keras",
                   mime="application/octet-stream")
c2.download_button("Download meta.json", json.dumps(meta.to_dict(), indent=2), file_name=f"{model_id}.meta.json",
                   mime="application/json")
with c3.popover("Delete"):
    st.write(f"Delete model `{model_id}` and its files? This cannot be undone.")
    if st.button("Yes, delete", type="primary", key=f"del_{model_id}"):
        store().delete(model_id)
        st.rerun()
