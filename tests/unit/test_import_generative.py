"""The project's own VAE and GAN files import like any model file: checked first, then described by their
image shape so the Generate page and ``sample`` can draw from them; hostile variants are still refused."""
from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from dlcore.errors import ModelError
from dlcore.generative import GAN, VAE
from dlcore.generative.sampling import generate
from dlcore.importer import import_model
from dlcore.store import ModelStore
from tests.unit.test_safe_import import refused, rewrite


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny unconditional VAE and a tiny GAN conditional on 3 classes, saved as .keras files."""
    folder = tmp_path_factory.mktemp("generative_files")
    VAE(image_shape=(8, 8, 1), latent_dim=3, filters=(4,), units=(8,), seed=1).save(folder / "vae.keras")
    GAN(image_shape=(8, 8, 1), latent_dim=5, n_classes=3, filters=(4,), units=(), seed=1).save(folder / "gan.keras")
    return {"vae": folder / "vae.keras", "gan": folder / "gan.keras"}


def test_a_vae_file_is_imported_with_its_image_shape_and_samples_like_the_original(files, home: Path) -> None:
    record = import_model(files["vae"], home, name="my vae")
    meta = record.meta
    assert meta.arch == "vae" and meta.task == "generative" and meta.modality == "image" and meta.generative
    assert meta.input_shape == (8, 8, 1) == meta.output_shape and meta.latent_dim == 3
    assert meta.class_names == () and meta.imported.model_class == "VAE" and record.generative
    assert meta.preprocessing == {"kind": "image", "params": {"height": 8, "width": 8, "channels": 1, "scale": 1.0}}
    stored = ModelStore(home).load(record.model_id)
    original = keras.saving.load_model(files["vae"], safe_mode=True)  # our own file: the same weights
    x, labels = generate(stored, 6, seed=4)
    assert x.shape == (6, 8, 8, 1) and labels is None and np.array_equal(x, generate(original, 6, seed=4)[0])


def test_a_conditional_gan_keeps_its_classes_and_checks_the_names_given(files, home: Path) -> None:
    record = import_model(files["gan"], home, class_names=["a", "b", "c"])
    assert record.meta.arch == "gan" and record.meta.class_names == ("a", "b", "c")
    assert record.meta.class_names_known is True
    x, labels = generate(ModelStore(home).load(record.model_id), 6, seed=0)
    assert x.shape == (6, 8, 8, 1) and list(labels) == [0, 1, 2, 0, 1, 2]
    assert import_model(files["gan"], home).meta.class_names == ("0", "1", "2")
    with pytest.raises(ModelError, match="2 class names given, but the GAN is conditional on 3 classes"):
        import_model(files["gan"], home, class_names=["a", "b"])
    with pytest.raises(ModelError, match="the VAE is not conditional; leave them out"):
        import_model(files["vae"], home, class_names=["a", "b"])


def test_command_line_imports_then_samples_a_gan(files, home: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from dlcore.__main__ import main

    assert main(["import", str(files["gan"]), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["arch"] == "gan" and result["task"] == "generative" and result["input_shape"] == [8, 8, 1]
    assert main(["sample", "--model", result["model_id"], "-n", "6", "--out", str(tmp_path / "x.npz"), "--json"]) == 0
    sampled = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sampled["shape"] == [6, 8, 8, 1] and sampled["labels"] == [0, 1, 2]
    with np.load(tmp_path / "x.npz", allow_pickle=False) as npz:
        assert npz["x"].shape == (6, 8, 8, 1) and np.isfinite(npz["x"]).all()


def test_hostile_variants_of_a_generative_file_are_still_refused(files, tmp_path: Path, home: Path) -> None:
    def stranger(config: dict) -> None:
        config["registered_name"] = "dlcore>Stranger"

    def code_in_activation(config: dict) -> None:
        config["config"]["activation"] = {"module": "os", "class_name": "function", "config": "system",
                                          "registered_name": "function"}

    refused(rewrite(files["vae"], tmp_path / "stranger.keras", stranger), home,
            "'dlcore>Stranger' is not one of this app's own classes")
    refused(rewrite(files["vae"], tmp_path / "code.keras", code_in_activation), home, "names module 'os' outside Keras")


def test_a_vae_is_not_explained_nor_fine_tuned_and_the_error_names_the_fix(files, home: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from dlcore.__main__ import main
    from dlcore.errors import ExplainError
    from dlcore.explain import explain

    model_id = import_model(files["vae"], home).model_id
    assert main(["explain", "--model", model_id]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "is a VAE: it draws images" in line and f"python -m dlcore sample --model {model_id}" in line
    with pytest.raises(ExplainError, match="makes no predictions to explain"):
        explain(ModelStore(home).load(model_id), np.zeros((1, 8, 8, 1), np.float32), "lime")
    assert main(["finetune", "--base", model_id, "--data", "digits", "--epochs", "1"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "is a VAE: it draws images" in line and "choose a classifier or regressor as the base" in line
