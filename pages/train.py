"""Train: choose data and settings, start a job, watch it live; jobs survive reloads and page switches."""
from __future__ import annotations

import streamlit as st

from dlcore import jobs
from ui.cache import dataset, device_info, workspace
from ui.jobview import job_view
from ui.widgets import dataset_picker, train_form

st.title("Train")
ref = dataset_picker("train_ref")
ds = dataset(ref)
st.caption(f"{ds.task}, {ds.modality}, {ds.n_train} training and {ds.n_val} validation rows, "
           f"input {ds.input_shape}, {ds.n_outputs} output(s).")

config = train_form(ref, ds, gpu=device_info().kind == "gpu")
if config is not None:
    status = jobs.start(config, workspace())
    st.session_state["job_id"] = status.job_id
    st.query_params["job"] = status.job_id

st.subheader("Jobs")
all_jobs = jobs.list_jobs(workspace())
if not all_jobs:
    st.info("No training jobs yet: choose settings above and press Train.")
    st.stop()
ids = [j.job_id for j in all_jobs]
wanted = st.session_state.get("job_id") or st.query_params.get("job") or ids[0]
labels = {j.job_id: f"{j.job_id} · {j.config.get('model', {}).get('arch', '?')} on {j.config.get('data', '?')} · {j.state}"
          for j in all_jobs}
job_id = st.selectbox("Job", ids, index=ids.index(wanted) if wanted in ids else 0, format_func=labels.get)
st.session_state["job_id"] = job_id
job_view(job_id)
