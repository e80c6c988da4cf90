"""The Train page offers the sequence models with their own settings and trains an rnn from the form."""
from __future__ import annotations

import time

from dlcore import jobs
from dlcore.store import ModelStore
from tests.app.conftest import open_page


def _labels(at) -> set[str]:
    return {w.label for kind in ("text_input", "selectbox", "number_input", "checkbox") for w in at.get(kind)}


def test_the_form_shows_the_settings_of_the_chosen_architecture(home) -> None:
    at = open_page("train")
    at.selectbox(key="train_ref").select("digits").run()
    arch = at.selectbox(key="train_arch_image")
    assert arch.value == "cnn" and arch.options == ["mlp", "cnn", "rnn", "transformer"]
    assert "Conv filters per block" in _labels(at) and "Recurrent cell" not in _labels(at)
    arch.select("transformer").run()
    assert {"Encoder block widths", "Attention heads", "Patch side (0: each row is a token)"} <= _labels(at)
    assert "Conv filters per block" not in _labels(at) and not at.exception
    next(w for w in at.text_input if w.label == "Encoder block widths").input("64,wide")
    next(b for b in at.button if b.label == "Train").click().run()
    assert [e.value for e in at.error] == ["Encoder block widths: write whole numbers separated by commas, e.g. 64,32"]
    assert "job_select" not in at.session_state  # nothing started


def test_train_page_trains_an_rnn(home) -> None:
    at = open_page("train")
    at.selectbox(key="train_ref").select("digits").run()
    at.selectbox(key="train_arch_image").select("rnn").run()
    assert "Attention heads" not in _labels(at)
    next(w for w in at.selectbox if w.label == "Recurrent cell").select("gru")
    next(w for w in at.text_input if w.label == "Recurrent layer sizes").input("16")
    next(w for w in at.text_input if w.label == "Dense layer sizes").input("16")
    next(w for w in at.checkbox if w.label == "Bidirectional").check()
    next(n for n in at.number_input if n.label == "Epochs").set_value(2)
    next(n for n in at.number_input if n.label == "Learning rate").set_value(0.003)
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception
    job_id = at.session_state["job_select"]
    deadline = time.monotonic() + 180
    status = jobs.poll(job_id, home)
    while status.active and time.monotonic() < deadline:
        time.sleep(1.0)
        status = jobs.poll(job_id, home)
    at.run()
    assert status.state == "done", status
    assert not at.exception and any("Done" in s.value for s in at.success)
    meta = ModelStore(home).get(status.model_id).meta
    model = meta.config.model
    assert (meta.arch, model.cell, model.seq_units, model.units, model.bidirectional) == \
        ("rnn", "gru", (16,), (16,), True)
    assert meta.evaluation["accuracy"] > 0.3  # ten classes: chance is 0.1
