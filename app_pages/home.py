"""Home: what the tool does and where to go. Must not import TensorFlow."""
from __future__ import annotations

import streamlit as st

from dlcore import jobs
from ui.cache import device_info, store, workspace

st.title("Interpretable deep learning")
st.markdown(
    "Train neural networks on built-in data or your own, watch them learn, and see **why** they decide "
    "what they decide. Everything runs on this machine; nothing is downloaded."
)
info = device_info()
st.info(f"Training runs on: **{info.label}**" + ("" if info.kind == "gpu" else
        " (training works on the CPU; a GPU is used automatically when one is present)."))

models, all_jobs = store().list(), jobs.list_jobs(workspace())
c1, c2, c3 = st.columns(3)
c1.metric("Stored models", len(models))
c2.metric("Training jobs", len(all_jobs))
queued = sum(j.state == "queued" for j in all_jobs)
c3.metric("Running now", sum(j.state == "running" for j in all_jobs), delta=f"{queued} queued" if queued else None,
          delta_color="off")

st.subheader("Where to go")
LINKS = [
    ("app_pages/data.py", "Data: upload your own file, or look at the built-in data sets", ":material/table_chart:"),
    ("app_pages/train.py", "Train: build a model and watch its curves live", ":material/model_training:"),
    ("app_pages/generate.py", "Generate: train a VAE or GAN, sample it, explore its latent space",
     ":material/auto_awesome:"),
    ("app_pages/finetune.py", "Fine-tune: adapt a trained or uploaded model to new data", ":material/tune:"),
    ("app_pages/explain.py", "Explain: SHAP and LIME for a prediction, side by side", ":material/psychology:"),
    ("app_pages/models.py", "Models: compare, import, download or delete models", ":material/inventory_2:"),
]
for page, label, icon in LINKS:
    st.page_link(page, label=label, icon=icon)
