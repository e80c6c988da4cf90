"""The live view of a training job: progress, time left, curves, stop, and the result when it ends."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from dlcore import jobs, plots
from dlcore.errors import DlcoreError
from dlcore.images import read_samples
from dlcore.models.spec import TrainConfig
from ui.cache import store, workspace
from ui.results import model_results


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating time left..."
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"about {minutes} min {secs} s left" if minutes else f"about {secs} s left"


def start_job(config: TrainConfig) -> str | None:
    """Start a training job in the workspace and return its id; on a refusal, show why and return None."""
    try:
        return jobs.start(config, workspace()).job_id
    except DlcoreError as exc:
        st.error(f"The job could not be started: {exc}")
        return None


def _progress(status: jobs.JobStatus) -> None:
    label = f"epoch {status.epoch}/{status.epochs}"
    if status.state == "queued":
        label = f"queued: place {status.place} of {status.queue_length}, waiting for a free worker"
    elif status.state == "running" and status.epoch == 0 and not status.step:
        label = "starting the worker (loading TensorFlow)..."
    elif status.state == "running":
        label += f", {_eta(status.eta_seconds)}"
    st.progress(status.progress, text=label)


def _curves(folder: Path, rows: list, key: str) -> None:
    """The curves; beside them the latest sample grid when the job writes one (generative models)."""
    grid = read_samples(folder)
    if grid is None:
        st.plotly_chart(plots.training_curves(rows), key=key)
        return
    left, right = st.columns([3, 2])
    left.plotly_chart(plots.training_curves(rows), key=key)
    right.plotly_chart(plots.image_grid(grid["x"], int(grid["columns"]), f"Samples after epoch {int(grid['epoch'])} "
                                        "(same noise every epoch)"), key=f"grid_{key}")


@st.fragment(run_every=1.0)
def live_job(job_id: str) -> None:
    """Refreshes itself every second while the job runs; reruns the page once when it ends."""
    status = jobs.poll(job_id, workspace())
    if not status.active:
        if st.session_state.get(f"was_active_{job_id}"):
            st.session_state[f"was_active_{job_id}"] = False
            st.rerun()
        return
    st.session_state[f"was_active_{job_id}"] = True
    _progress(status)
    if status.state == "queued":
        if st.button("Cancel", key=f"cancel_{job_id}", help="Takes the job out of the queue; it never starts"):
            _cancel(job_id)
        return
    rows = jobs.metrics(job_id, workspace())
    if rows:
        _curves(status.folder, rows, key=f"live_curves_{job_id}_{len(rows)}")
    if st.button("Stop", key=f"stop_{job_id}", help="Ends training after the current batch and keeps the best epoch"):
        jobs.stop(job_id, workspace())
        st.toast("Stopping after the current batch...")


def _cancel(job_id: str) -> None:
    try:
        jobs.cancel(job_id, workspace())
    except DlcoreError as exc:  # it got a worker meanwhile
        st.toast(str(exc))
    st.rerun()


def job_view(job_id: str) -> None:
    """Everything about one job: live while active, results when done, a way forward when not."""
    try:
        status = jobs.poll(job_id, workspace())
    except DlcoreError as exc:
        st.error(str(exc))
        return
    cfg = status.config
    st.caption(f"Job `{status.job_id}` · {cfg.get('model', {}).get('arch', '?')} on {cfg.get('data', '?')} · "
               f"{status.device or 'device chosen by the worker'}")
    if status.active:
        live_job(job_id)
        return
    if status.state == "failed":
        st.error(f"Training failed: {status.message}")
    elif status.state == "interrupted":
        st.warning(f"{status.message} (last saved epoch: {status.epoch}).")
        if st.button("Resume", key=f"resume_{job_id}"):
            jobs.resume(job_id, workspace())
            st.rerun()
    elif status.state == "cancelled":
        st.info(f"Cancelled: {status.message}.")
    else:
        st.success(f"{status.state.capitalize()}: {status.message}")
    rows = jobs.metrics(job_id, workspace())
    if rows:
        _curves(status.folder, rows, key=f"curves_{job_id}")
    if status.model_id:
        try:
            model_results(store().get(status.model_id))
        except DlcoreError:
            st.info("The model of this job has been deleted.")
