"""The Explain page: SHAP and LIME side by side for a tabular and an image model, class switch, typed
rows and the global views, with no exception."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "explain.py")


@pytest.fixture(scope="session")
def explain_home(session_home: Path) -> dict[str, str]:
    from dlcore import jobs
    from dlcore.models import ModelSpec, TrainConfig
    from dlcore.training import run_job

    home = session_home / "explain_page"
    ids = {}
    for data, spec in (("iris", ModelSpec(units=(8,))), ("digits", ModelSpec(arch="cnn", filters=(4,), units=(8,)))):
        status = run_job(jobs.create(TrainConfig(data=data, model=spec, epochs=2, name=f"{data} model"), home))
        ids[data] = status["model_id"]
    ids["home"] = str(home)
    return ids


def _titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]


def _page(explain_home: dict[str, str], monkeypatch: pytest.MonkeyPatch, data: str) -> AppTest:
    monkeypatch.setenv("DLCORE_HOME", explain_home["home"])
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.run()
    assert not at.exception
    model_box = at.selectbox(key="explain_model")
    model_box.set_value(explain_home[data]).run()
    assert not at.exception and not at.error
    return at


@pytest.mark.slow
def test_tabular_model_side_by_side_class_switch_and_global_views(explain_home, monkeypatch) -> None:
    at = _page(explain_home, monkeypatch, "iris")
    titles = _titles(at)
    assert titles[0] == "Model output per class"
    assert any(t.startswith("Why ") for t in titles) and any(t.startswith("LIME weights") for t in titles)
    assert any(t.startswith("Mean |SHAP value|") for t in titles) and any("coloured by" in t for t in titles)
    assert any("values per row" in t for t in titles)  # the beeswarm
    tables = [t.value for t in at.table]
    assert len(tables) == 2 and "additivity gap" in tables[0].index and "LIME local fit" in tables[1].index
    assert tables[0].loc["background", "value"] == "100 rows"
    at.number_input(key="explain_background").set_value(40).run()
    assert not at.exception and [t.value for t in at.table][0].loc["background", "value"] == "40 rows"
    box = next(b for b in at.selectbox if b.label == "Class explained")
    other = next(k for k in box.options if "(predicted)" not in k)
    box.set_value(box.options.index(other) if isinstance(box.value, int) else other).run()
    assert not at.exception
    name = other.split(" (")[0]
    assert any(t.startswith(f"Why {name}") for t in _titles(at))
    at.radio(key="explain_source").set_value("Type a row").run()
    assert not at.exception and not at.error
    assert "typed row" in " ".join(m.value for m in at.markdown)


@pytest.mark.slow
def test_image_model_shows_maps_for_shap_and_lime(explain_home, monkeypatch) -> None:
    at = _page(explain_home, monkeypatch, "digits")
    titles = _titles(at)
    assert any(t.startswith("SHAP (gradient)") for t in titles)
    assert any(t.startswith("LIME superpixels") for t in titles) and any(t.startswith("LIME weights") for t in titles)
    assert not any("Mean |SHAP" in t for t in titles)  # no global views for images
    # the trust panel: a verdict per method first, then the curves, the randomisation and the agreement
    verdicts = [m.value for m in at.markdown if "-badge[" in m.value]
    assert len(verdicts) == 2 and all(any(level in v for level in ("Reliable", "Use with care", "Not reliable"))
                                      for v in verdicts)
    assert sum(t.startswith("Faithfulness") for t in titles) == 2
    assert sum("randomisation: final" in t for t in titles) == 2
    assert sum(t.startswith("Agreement") for t in titles) == 2  # each method against the other one already shown
    assert sum(t.startswith("Spread across seeds") for t in titles) == 2  # beside each map: the stability reruns
    assert any(c.value.startswith("trust checks: about") for c in at.caption)
    assert not any("agreement: not asked for" in c.value for c in at.caption)  # the other method shown is compared
    at.checkbox(key="trust_randomise").uncheck().run()
    assert not at.exception and not any("randomisation: final" in t for t in _titles(at))
    assert any("randomisation: not asked for" in c.value for c in at.caption)
    assert any("200 samples x 10 class(es)" in c.value for c in at.caption)  # shap's default
    at.number_input(key="explain_nsamples").set_value(420).run()
    at.number_input(key="explain_lime_samples").set_value(300).run()
    assert not at.exception and any("420 samples x 10 class(es)" in c.value for c in at.caption)
    assert any("300 perturbed samples per input" in c.value for c in at.caption)
    assert any(c.value.startswith("lime-image") and ", 300 model evaluations, seed 0" in c.value for c in at.caption)
    methods = next(m for m in at.multiselect if m.key.startswith("explain_methods_"))
    assert methods.value == ["shap", "lime"]  # exactly the methods that apply to a CNN; attention needs attention
    assert any("Attention: attention maps need a model with attention layers" in c.value for c in at.caption)
    methods.set_value(["lime"]).run()
    assert not at.exception and all(not t.startswith("SHAP") for t in _titles(at))
    methods = next(m for m in at.multiselect if m.key.startswith("explain_methods_"))
    methods.set_value(["ig", "gradcam", "occlusion"]).run()
    assert not at.exception and not at.error
    titles = _titles(at)
    for name in ("IG (ig-64-black)", "GRADCAM (gradcam-", "OCCLUSION (occlusion-patch"):
        assert any(t.startswith(name) for t in titles), (name, titles)
    matrix = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                  if json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "").startswith("Agreement"))
    assert matrix["data"][0]["y"] == ["Integrated Gradients", "Grad-CAM", "Occlusion"]  # every pair compared
    at.radio(key="explain_source").set_value("Upload an image").run()
    assert not at.exception and any("Upload an image" in i.value for i in at.info)
