"""Fine-tune page: the plan for the shipped base (head kept or replaced, input adapter, layer table), a clear
error when shapes cannot fit, the backbone path without weights, and a real job with before/after results."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dlcore import jobs
from dlcore.store import ModelStore

TIMEOUT = 180
PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "finetune.py")


def _titles(at: AppTest) -> list[str]:
    return [(json.loads(c.proto.spec)["layout"].get("title") or {}).get("text", "") for c in at.get("plotly_chart")]


def test_the_plan_shows_head_and_adapter_and_the_layer_table(home: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    at.selectbox(key="ft_data").set_value("digits").run()
    assert any("The head is replaced: the base has 4 output(s)" in w.value for w in at.warning)
    assert any("resized from 8x8 to 28x28" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert list(table.columns) == ["index", "name", "type", "output_shape", "params", "trainable", "part"]
    assert table["name"].tolist()[:3] == ["input", "adapt_resize", "conv1"] and table["part"].iloc[-1] == "head"
    at.selectbox(key="ft_data").set_value("shapes_outline").run()
    at.number_input(key="ft_freeze").set_value(4).run()
    assert any("The head is kept" in i.value for i in at.info)
    assert at.dataframe[0].value["trainable"].tolist()[:5] == [False, False, False, False, True]
    at.selectbox(key="ft_data").set_value("iris").run()
    assert not at.exception
    assert any("cannot be fine-tuned on `iris`" in e.value and "they cannot fit" in e.value for e in at.error)


def test_backbone_without_weights_explains_where_to_put_them(home: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras_home"))
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    at.radio(key="ft_source").set_value("Keras backbone").run()
    assert not at.exception
    assert any("nothing is downloaded" in i.value and "no_top.h5" in i.value for i in at.info)
    assert at.file_uploader(key="ft_weights") is not None


@pytest.mark.slow
def test_a_fine_tuning_job_runs_and_shows_before_and_after(home: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    at.selectbox(key="ft_data").set_value("shapes_outline").run()
    at.number_input(key="ft_freeze").set_value(4).run()
    form = {n.label: n for n in at.number_input}
    form["Epochs (first phase)"].set_value(3)
    form["Use at most N training rows (0: all)"].set_value(100)
    next(b for b in at.button if b.label == "Start fine-tuning").click().run()
    assert not at.exception
    job_id = at.session_state["ft_job"]
    status = jobs.wait(job_id, home, timeout=300)
    assert status.state == "done", status.message
    at.run()
    assert not at.exception
    assert any(s.value == "Before and after fine-tuning" for s in at.subheader)
    titles = _titles(at)
    assert "Before: Confusion matrix (validation)" in titles and "After: Confusion matrix (validation)" in titles
    ev = ModelStore(home).get(status.model_id).meta["evaluation"]
    assert ev["finetune"]["head"] == "kept" and ev["accuracy"] > ev["before"]["accuracy"]
