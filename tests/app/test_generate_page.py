"""The Generate page: every view of a VAE and a conditional GAN draws without an exception, widgets change
what is drawn, and the form starts a job whose sample grid shows beside its curves."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.gen_support import run_generative_job

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "generate.py")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gen_home(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("gen_page_home")
    return {"home": home, "vae": run_generative_job(home, "vae")["model_id"],
            "gan": run_generative_job(home, "gan", conditional=True)["model_id"]}


def _page(home: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("DLCORE_HOME", str(home))
    return AppTest.from_file(PAGE, default_timeout=120).run()


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_empty_workspace_offers_the_training_form(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(home, monkeypatch)
    assert not at.exception
    assert any("No generative models yet" in i.value for i in at.info)
    assert [b.label for b in at.button] == ["Train"] and {n.label for n in at.number_input} >= {"Latent size", "Epochs"}


@pytest.mark.parametrize("arch,views", [
    ("vae", ["Samples", "Latent map", "Reconstruction", "Interpolation", "Latent traversal", "Quality"]),
    ("gan", ["Samples", "Interpolation", "Latent traversal", "Quality"])])
def test_every_view_draws(arch: str, views: list[str], gen_home: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(gen_home["home"], monkeypatch)
    at.selectbox(key="gen_model").set_value(gen_home[arch]).run()
    assert at.radio(key="gen_view").options == views
    for view in views:
        at.radio(key="gen_view").set_value(view).run()
        assert not at.exception, (view, at.exception)
        figures = _figures(at)
        assert figures, view
        if view == "Quality":
            titles = " ".join(f["layout"]["title"]["text"] for f in figures)
            assert "Class coverage" in titles and "Memorisation check" in titles
            assert {m.label for m in at.metric} >= {"Mean confidence", "Classes present", "Frechet distance"}


def test_seed_changes_the_samples_and_a_conditional_grid_has_a_row_per_class(gen_home: dict,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(gen_home["home"], monkeypatch)
    at.selectbox(key="gen_model").set_value(gen_home["gan"]).run()
    before = _figures(at)[0]
    assert before["layout"]["yaxis"]["ticktext"] == [str(k) for k in range(10)]  # the class of each row
    at.number_input(key="sample_seed").set_value(7).run()
    after = _figures(at)[0]
    assert "seed 7" in after["layout"]["title"]["text"]
    assert after["data"][0]["z"] != before["data"][0]["z"]


def test_the_form_starts_a_job_whose_grid_shows_beside_its_curves(gen_home: dict,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from dlcore import jobs

    at = _page(gen_home["home"], monkeypatch)
    at.radio(key="gen_arch").set_value("gan").run()
    next(n for n in at.number_input if n.label == "Epochs").set_value(1)
    next(n for n in at.number_input if n.label.startswith("Learning rate")).set_value(0.001)
    at.button[0].click().run()
    assert not at.exception
    job_id = at.session_state["gen_job"]
    status = jobs.wait(job_id, gen_home["home"], timeout=240)
    assert status.state == "done", status.message
    assert status.config["model"]["arch"] == "gan" and status.config["learning_rate"] == 0.001
    at.run()
    titles = [f["layout"].get("title", {}).get("text", "") for f in _figures(at)]
    assert any(t.startswith("Samples after epoch 1") for t in titles)
    assert any(status.model_id in o for o in at.selectbox(key="gen_model").options)


def test_the_data_choices_are_the_image_sets_built_in_and_uploaded(home: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from dlcore.data.stored import DatasetStore
    from dlcore.data.upload import Choices
    from tests.gen_support import write_image_zip
    from tests.table_support import write_passengers

    kept = DatasetStore(home)
    kept.save("passengers", write_passengers(tmp_path / "p.csv").read_bytes(), "p.csv", Choices(target="survived"))
    kept.save("my_digits", write_image_zip(tmp_path / "d.zip").read_bytes(), "d.zip")
    at = _page(home, monkeypatch)
    assert at.selectbox(key="gen_ref").options == ["digits", "shapes", "shapes_outline", "my_digits"]
    at.selectbox(key="gen_ref").set_value("my_digits").run()
    assert not at.exception and not at.warning and [b.label for b in at.button] == ["Train"]
