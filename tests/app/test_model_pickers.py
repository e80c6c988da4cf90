"""Each page offers the models it can use: a VAE imported on the Models page is drawn from on the Generate
page and is offered neither for explanations nor as a fine-tuning base; a classifier is the other way round."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from dlcore import jobs
from dlcore.generative import VAE
from dlcore.models import ModelSpec, TrainConfig
from dlcore.training import run_job

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180
pytestmark = pytest.mark.slow


def _page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=TIMEOUT).run()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One iris classifier trained as a job, and a tiny VAE file to upload."""
    home = tmp_path_factory.mktemp("pickers_home")
    config = TrainConfig(data="iris", model=ModelSpec(units=(4,)), epochs=1, name="iris mlp")
    status = run_job(jobs.create(config, home))
    assert status["state"] == "done", status
    vae = home / "upload" / "vae.keras"
    vae.parent.mkdir()
    VAE(image_shape=(8, 8, 1), latent_dim=2, filters=(4,), units=(8,)).save(vae)
    return {"home": home, "classifier": status["model_id"], "vae_file": vae}


def test_an_uploaded_vae_is_generated_from_and_never_offered_where_predictions_are_needed(
        workspace: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLCORE_HOME", str(workspace["home"]))
    models = _page("models")
    models.file_uploader(key="models_upload").set_value(
        ("vae.keras", workspace["vae_file"].read_bytes(), "application/octet-stream")).run()
    assert not models.exception and not models.error
    assert any("imported 'vae'" in s.value and "(vae," in s.value for s in models.success)
    vae_id = next(r for r in models.session_state["models_upload_done"].values())[0]

    generate = _page("generate")
    assert not generate.exception and generate.selectbox(key="gen_model").options[0].startswith(vae_id)
    assert any("imported from `vae.keras`" in c.value for c in generate.caption)
    grid = generate.get("plotly_chart")[0].proto.spec
    assert "64 samples, seed 0" in grid

    explain = _page("explain")
    assert not explain.exception
    assert [o.split(" · ")[0] for o in explain.selectbox(key="explain_model").options] == [workspace["classifier"]]

    finetune = _page("finetune")
    finetune.radio(key="ft_source").set_value("Stored model").run()
    assert not finetune.exception
    stored = next(b for b in finetune.selectbox if b.label == "Stored model")
    assert [o.split(" · ")[0] for o in stored.options] == [workspace["classifier"]]


def test_a_classifier_imported_without_its_data_is_explained_with_a_data_set_picked(
        home: Path, tmp_path: Path) -> None:
    from dlcore.data import load_builtin
    from dlcore.importer import import_model
    from dlcore.models import build_model

    path = tmp_path / "digits_cnn.keras"
    build_model(ModelSpec(arch="cnn", filters=(4,), units=(8,)), load_builtin("digits")).save(path)
    model_id = import_model(path, home).model_id
    explain = _page("explain")
    assert not explain.exception and not explain.error
    assert explain.selectbox(key="explain_model").value == model_id
    assert explain.selectbox(key="explain_data").value == "digits"
    assert any(c.proto.spec and "SHAP (gradient)" in c.proto.spec for c in explain.get("plotly_chart"))
    explain.radio(key="explain_source").set_value("Upload an image").run()
    assert not explain.exception and any("Upload an image to explain" in i.value for i in explain.info)
    picture = io.BytesIO()
    seven = (load_builtin("digits").x_val[0, ..., 0] * 255).astype(np.uint8)
    Image.fromarray(seven).resize((32, 32)).save(picture, "PNG")
    explain.file_uploader(key="explain_upload").set_value(("seven.png", picture.getvalue(), "image/png")).run()
    assert not explain.exception and not explain.error  # a picture becomes an 8x8 grey input in [0, 1]
    assert any(m.value.startswith("**uploaded seven.png**") for m in explain.markdown)
    explain.selectbox(key="explain_data").set_value("iris").run()
    assert not explain.exception
    assert any("'iris' gives inputs shaped (4,) and the model takes (8, 8, 1)" in e.value for e in explain.error)
