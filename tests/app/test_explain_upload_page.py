"""The Explain page on a model trained on an uploaded table with categories: the typed-row form speaks in
the upload's raw columns and known categories, and the SHAP views use the one-hot inputs."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import charts_by_title
from tests.table_support import write_passengers

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "explain.py")
pytestmark = pytest.mark.slow


def test_typed_row_and_global_views_of_a_model_trained_on_an_upload(home: Path, tmp_path: Path) -> None:
    from dlcore import jobs
    from dlcore.data.stored import DatasetStore
    from dlcore.data.upload import Choices
    from dlcore.models import ModelSpec, TrainConfig
    from dlcore.training import run_job

    csv = write_passengers(tmp_path / "passengers.csv")
    DatasetStore(home).save("passengers", csv.read_bytes(), "passengers.csv", Choices(target="survived"))
    status = run_job(jobs.create(TrainConfig(data="passengers", model=ModelSpec(units=(8,)), epochs=3), home))
    assert status["state"] == "done", status
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    assert not at.exception and not at.error
    figures = charts_by_title(at)
    importance = next(s for t, s in figures.items() if t.startswith("Mean |SHAP value|"))
    assert {"sex", "embarked", "alone", "age"} <= set(importance["data"][0]["y"])  # one feature per uploaded column
    assert not {"sex=female", "sex=male"} & set(importance["data"][0]["y"])
    at.checkbox(key="explain_group").uncheck().run()
    importance = next(s for t, s in charts_by_title(at).items() if t.startswith("Mean |SHAP value|"))
    assert {"sex=female", "sex=male", "embarked=S", "alone", "age"} <= set(importance["data"][0]["y"])
    dependence = next(b for b in at.selectbox if b.label == "Dependence of")
    assert "sex=male" in dependence.options
    dependence.set_value("sex=male").run()
    assert not at.exception and any(t.startswith("sex=male: value vs SHAP") for t in charts_by_title(at))

    at.radio(key="explain_source").set_value("Type a row").run()
    assert not at.exception and not at.error
    assert any(m.value.startswith("**typed row**") for m in at.markdown)
    waterfall = next(s for t, s in charts_by_title(at).items() if t.startswith("Why "))
    labels = set(waterfall["data"][0]["y"])
    assert {"sex=female = 1", "sex=male = 0", "embarked=C = 1"} <= labels  # the starting row, one-hot columns apart
    at.checkbox(key="explain_group").check().run()
    waterfall = next(s for t, s in charts_by_title(at).items() if t.startswith("Why "))
    labels = set(waterfall["data"][0]["y"])
    assert {"sex = female", "embarked = C"} <= labels  # raw values as uploaded, one feature per column

