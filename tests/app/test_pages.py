"""Every page renders without an exception; the Train page starts a job and shows its curves."""
from __future__ import annotations

import json
import time

import pytest

from dlcore import jobs
from dlcore.models import ModelSpec, TrainConfig
from dlcore.store import ModelStore
from tests.app.conftest import open_page


def test_home_links_every_page(home) -> None:
    at = open_page()
    assert not at.exception
    assert "Interpretable deep learning" in at.title[0].value
    assert at.metric[0].value == "0"  # stored models in a fresh workspace


@pytest.mark.parametrize("name", ["digits", "shapes", "wine", "diabetes", "reviews", "sensors"])
def test_data_page_shows_each_builtin(home, name: str) -> None:
    at = open_page("data")
    at.selectbox(key="data_ref").select(name).run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) >= (2 if name in ("digits", "shapes", "sensors") else 1)
    if name == "sensors":  # one example series per class, every sensor a line
        series = json.loads(charts[1].proto.spec)
        assert len(series["data"]) == 3 * 3 and series["layout"]["title"]["text"] == "One example of each class"
    if name == "reviews":  # sample texts with their labels
        texts = at.dataframe[0].value
        assert list(texts.columns) == ["text", "label"] and all(isinstance(t, str) for t in texts["text"])


def test_train_page_starts_a_job_and_shows_live_curves_then_results(home) -> None:
    at = open_page("train")
    assert not at.exception
    assert "No training jobs yet" in at.info[0].value
    at.selectbox(key="train_ref").select("iris").run()
    epochs = next(n for n in at.number_input if n.label == "Epochs")
    epochs.set_value(4)
    lr = next(n for n in at.number_input if n.label == "Learning rate")
    lr.set_value(0.01)
    at.button[0].click().run()  # the form's Train button
    assert not at.exception
    job_id = at.session_state["job_select"]
    status = jobs.poll(job_id, home)
    assert status.config["data"] == "iris" and status.config["epochs"] == 4
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        time.sleep(1.0)
        at.run()
        assert not at.exception
        status = jobs.poll(job_id, home)
        if not status.active:
            break
    at.run()
    assert status.state == "done", status
    assert any("Done" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) >= 3  # curves, confusion matrix, per-class scores
    curves = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["x"] for t in curves["data"][:2]] == [[1, 2, 3, 4]] * 2  # training and validation loss per epoch
    assert ModelStore(home).get(status.model_id).meta.config.epochs == 4


def test_a_queued_job_shows_its_place_and_can_be_cancelled(home, monkeypatch) -> None:
    from tests.queue_support import slot_holder

    monkeypatch.setenv("DLCORE_MAX_WORKERS", "1")
    with slot_holder(home):
        queued = jobs.start(TrainConfig(data="iris", model=ModelSpec(units=(4,)), epochs=1), home)
        at = open_page("train")
        at.selectbox(key="job_select").select(queued.job_id).run()
        assert not at.exception
        assert "queued: place 1 of 1" in at.get("progress")[0].proto.text
        next(b for b in at.button if b.label == "Cancel").click().run()
        assert not at.exception
        assert jobs.poll(queued.job_id, home).state == "cancelled"
        assert any("Cancelled" in i.value for i in at.info)


def test_train_page_reopened_finds_the_last_job(trained_home, monkeypatch) -> None:
    monkeypatch.setenv("DLCORE_HOME", str(trained_home))
    at = open_page("train")  # a new session: nothing in session_state
    assert not at.exception
    newest = jobs.list_jobs(trained_home)[0]
    assert at.selectbox(key="job_select").value == newest.job_id
    assert any("Done" in s.value for s in at.success)


def test_models_page_lists_shows_and_deletes(trained_home, monkeypatch) -> None:
    monkeypatch.setenv("DLCORE_HOME", str(trained_home))
    store = ModelStore(trained_home)
    before = [r.model_id for r in store.list()]
    at = open_page("models")
    assert not at.exception
    assert len(at.dataframe[0].value) == len(before) == 2
    for model_id in before:
        at.selectbox(key="model_one").select(model_id).run()
        assert not at.exception and len(at.get("plotly_chart")) >= 3  # curves + two evaluation figures
    delete = next(b for b in at.button if b.label == "Yes, delete")
    delete.click().run()
    assert not at.exception
    assert len(store.list()) == 1
