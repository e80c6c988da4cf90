"""Fine-tune: bring a base model, adapt it to new data as a job, and compare before and after."""
from __future__ import annotations

import streamlit as st

from dlcore import jobs
from dlcore.errors import DlcoreError
from dlcore.models.spec import HEAD_MODES
from ui.cache import store, workspace
from ui.finetune import base_picker, before_after_view, finetune_form, plan_for, plan_view
from ui.jobview import job_view, start_job
from ui.widgets import dataset_picker

st.title("Fine-tune")
st.markdown("Start from a trained model and adapt it to new data: keep what it learned, retrain what must change. "
            "Try the shipped base (trained on filled `shapes`) on `shapes_outline`, limited to 100 training rows.")

left, right = st.columns(2)
with left:
    ref, meta = base_picker()
with right:
    data_ref = dataset_picker("ft_data", "New data", default="shapes_outline")
    c1, c2 = st.columns(2)
    freeze = c1.number_input("Freeze the first N layers", -1, 10_000, -1, key="ft_freeze",
                             help="-1 freezes every layer below the head; "
                                  "frozen batch-norm layers run in inference mode")
    head = c2.selectbox("Head", HEAD_MODES, key="ft_head",
                        help="auto: replaced when the classes or output size differ; replace: always; keep: never")

if ref:
    try:
        plan = plan_for(ref, data_ref, head, int(freeze), str(workspace()))
    except DlcoreError as exc:
        st.error(f"This base cannot be fine-tuned on `{data_ref}`: {exc}")
        plan = None
    if plan is not None:
        st.subheader("The base, adapted to the data")
        plan_view(plan)
        config = finetune_form(ref, data_ref, meta, head, int(freeze))
        if config is not None and (started := start_job(config)):
            st.session_state["ft_job"] = started

st.subheader("Fine-tuning jobs")
tuned = [j for j in jobs.list_jobs(workspace()) if j.config.get("finetune")]
if not tuned:
    st.info("No fine-tuning jobs yet: choose a base and data above, then start one.")
    st.stop()
ids = [j.job_id for j in tuned]
wanted = st.session_state.get("ft_job") or ids[0]
labels = {j.job_id: f"{j.job_id} · {j.config.get('name') or j.config['finetune'].get('base')} · {j.state}"
          for j in tuned}
job_id = st.selectbox("Job", ids, index=ids.index(wanted) if wanted in ids else 0, format_func=labels.get)
st.session_state["ft_job"] = job_id
job_view(job_id)
status = jobs.poll(job_id, workspace())
if status.model_id and not status.active:
    try:
        before_after_view(store().get(status.model_id))
    except DlcoreError:
        pass  # the model was deleted; job_view says so
