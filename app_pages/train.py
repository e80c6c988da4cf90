"""Train: choose data and settings, start a job, watch it live; jobs survive reloads and page switches."""
from __future__ import annotations

import streamlit as st

from dlcore import jobs
from ui.cache import dataset, device_info, workspace
from ui.jobview import job_view, start_job
from ui.widgets import dataset_picker, train_form

st.title("Train")
ref = dataset_picker("train_ref")
ds = dataset(ref)
st.caption(f"{ds.task}, {ds.modality}, {ds.n_train} training and {ds.n_val} validation rows, "
           f"input {ds.input_shape}, {ds.n_outputs} output(s).")

config = train_form(ref, ds, gpu=device_info().kind == "gpu")
if config is not None and (started := start_job(config)):
    st.session_state["job_select"] = started

st.subheader("Jobs")
all_jobs = jobs.list_jobs(workspace())
if not all_jobs:
    st.info("No training jobs yet: choose settings above and press Train.")
    st.stop()
ids = [j.job_id for j in all_jobs]
if st.session_state.get("job_select") not in ids:  # a new session: the job in the address, else the newest
    st.session_state["job_select"] = st.query_params.get("job") if st.query_params.get("job") in ids else ids[0]
labels = {j.job_id: f"{j.job_id} · {j.config.get('model', {}).get('arch', '?')} on {j.config.get('data', '?')}"
          for j in all_jobs}  # no state here: a keyed select box keeps its first labels
job_id = st.selectbox("Job", ids, format_func=labels.get, key="job_select")
st.query_params["job"] = job_id
job_view(job_id)
