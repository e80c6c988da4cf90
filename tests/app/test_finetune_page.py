"""Fine-tune page: the plan for the shipped base (head kept or replaced, input adapter, layer table), a clear
error when shapes cannot fit, the backbone path without weights, and a real job with before/after results."""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
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
    assert not at.exception and at.selectbox(key="ft_data").value == "shapes_outline"  # what the page suggests
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
    ev = ModelStore(home).get(status.model_id).meta.evaluation
    assert ev["finetune"]["head"] == "kept" and ev["accuracy"] > ev["before"]["accuracy"]
    _explanations_come_from_both_models(at, home, status.model_id, ev)


def _array(value: object) -> np.ndarray:
    """A figure's array as plotly writes it to JSON: a list, or base64 bytes with a dtype and shape."""
    if isinstance(value, dict):
        import base64

        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return flat.reshape([int(v) for v in str(value.get("shape", len(flat))).split(",")]).astype(float)
    return np.asarray(value, dtype=float)


def _explanations_come_from_both_models(at: AppTest, home: Path, model_id: str, ev: Mapping) -> None:
    """The before/after SHAP maps are those of the base as the job started and of the tuned model."""
    from dlcore.data import load_dataset
    from dlcore.evaluation import evaluate
    from dlcore.explain import explain
    from dlcore.finetune import seeded_plan

    assert any(m.value.startswith("**Explanations before and after** (SHAP") for m in at.markdown)
    maps = [json.loads(c.proto.spec) for c in at.get("plotly_chart")
            if (json.loads(c.proto.spec)["layout"].get("title") or {}).get("text", "").startswith("SHAP (gradient)")]
    assert len(maps) == 2
    config = ModelStore(home).get(model_id).meta.config
    ds = load_dataset(config.data, None, config.validation_split, config.seed)
    before, after = seeded_plan(config, ds, home).model, ModelStore(home).load(model_id)
    assert evaluate(before, ds)["accuracy"] == ev["before"]["accuracy"]  # the very model the job started from
    cls = int(ds.y_val[0])
    shown = []
    for net, fig in zip((before, after), maps):
        attr = explain(net, ds.x_val[:3], "shap", ds.x_train, seed=0, target="all", class_names=ds.class_names)
        shown.append(_array(fig["data"][-1]["z"]))
        assert np.allclose(shown[-1], attr.class_values(cls)[0].sum(axis=-1), rtol=1e-4, atol=1e-7)
    assert not np.allclose(shown[0], shown[1], atol=1e-4)  # fine-tuning changed what the model looks at
    assert any("Rank agreement of the two explanations" in c.value for c in at.caption)
    verdicts = [m.value for m in at.markdown if "-badge[" in m.value]  # each model's explanation gets its verdict
    assert len(verdicts) == 2 and verdicts[0].startswith("Before: ") and verdicts[1].startswith("After: ")
