"""The Fairness page on a real model of the biased ``hiring`` table: the disparity and the proxy flagged, the
figures drawn, post-processing stored as a model of its own; a model without sensitive columns still gets its
shortcut check; the Data and Train pages show the sensitive column and offer reweighing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dlcore.store import ModelStore
from tests.app.conftest import open_page

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "fairness.py")


@pytest.fixture(scope="module")
def fair_home(session_home: Path) -> dict[str, str]:
    from dlcore import jobs
    from dlcore.models import ModelSpec, TrainConfig
    from dlcore.training import run_job

    home = session_home / "fairness_page"
    ids = {"home": str(home)}
    for data, epochs in (("hiring", 8), ("iris", 2), (_weather(home), 10)):
        config = TrainConfig(data=data, model=ModelSpec(units=(16,)), epochs=epochs, learning_rate=0.01,
                             name=f"{data} model")
        ids[Path(data).stem] = run_job(jobs.create(config, home))["model_id"]
    return ids


def _weather(home: Path) -> str:
    """The weather case: whether it rains follows the year of the date column (90% of days), nothing else."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    dates = pd.date_range("2012-01-01", periods=600, freq="3D")
    rain = (dates.year >= 2014) ^ (rng.uniform(size=600) < 0.1)
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "wind": rng.normal(3, 1, 600).round(1),
                          "rain": np.where(rain, "yes", "no")})
    home.mkdir(parents=True, exist_ok=True)
    frame.to_csv(home / "weather.csv", index=False)
    return str(home / "weather.csv")


def _page(fair_home: dict[str, str], monkeypatch: pytest.MonkeyPatch, data: str) -> AppTest:
    monkeypatch.setenv("DLCORE_HOME", fair_home["home"])
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.run()
    at.selectbox(key="fair_model").set_value(fair_home[data]).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def _titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]


def test_a_biased_model_is_flagged_its_proxy_named_and_post_processing_stored(fair_home, monkeypatch) -> None:
    at = _page(fair_home, monkeypatch, "hiring")
    warnings = " ".join(w.value for w in at.warning)
    assert "demographic parity difference" in warnings and "four-fifths" in warnings
    assert "'club' predicts it" in warnings
    titles = " ".join(_titles(at))
    assert "Which inputs predict 'sex'" in titles
    assert len(at.get("plotly_chart")) >= 5  # groups, selection rates, confusion, proxies, features by group
    assert at.metric[0].label == "Demographic parity difference" and float(at.metric[0].value) > 0.1
    at.radio[0].set_value("demographic_parity")
    next(b for b in at.button if b.label == "Post-process and store").click().run()
    assert not at.exception and not at.error
    stored = [r for r in ModelStore(fair_home["home"]).list() if r.meta.postprocessing is not None]
    assert len(stored) == 1 and stored[0].meta.postprocessing.base_model == fair_home["hiring"]
    assert any(stored[0].model_id in s.value for s in at.success)
    post = stored[0].meta.postprocessing
    assert post.after["demographic_parity_difference"] < post.before["demographic_parity_difference"]


def test_a_model_without_sensitive_columns_says_how_to_add_one_and_checks_shortcuts(fair_home, monkeypatch) -> None:
    at = _page(fair_home, monkeypatch, "iris")
    assert any("keeps no sensitive column" in i.value for i in at.info)
    assert "Shortcuts and leaks" in [h.value for h in at.header]
    table = at.dataframe[-1].value  # every column's one-feature score against the model's
    assert set(table["column"]) == {"sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"}
    assert table["one-feature score"].between(0, 1).all() and table["model's score"].notna().all()


def test_a_model_resting_on_the_year_is_warned_about(fair_home, monkeypatch) -> None:
    at = _page(fair_home, monkeypatch, "weather")
    notes = [w.value for w in at.warning]
    assert any("date.year" in n and "split by time" in n for n in notes), notes


def test_data_page_shows_the_groups_and_train_page_offers_reweighing(home) -> None:
    at = open_page("data")
    at.selectbox(key="data_ref").select("hiring").run()
    assert not at.exception
    assert any("'yes' is" in w.value for w in at.warning)  # the label rate gap of the biased history
    assert any("Sensitive columns" == s.value for s in at.subheader)
    at = open_page("train")
    at.selectbox(key="train_ref").select("hiring").run()
    assert not at.exception
    assert any(c.label.startswith("Reweigh by the sensitive columns (sex)") for c in at.checkbox)
