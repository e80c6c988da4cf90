"""VAE and GAN jobs: trained through the job mechanism, stored with a quality report, a sample grid
written each epoch, and ``python -m dlcore sample`` writing .npz and .png as promised."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dlcore.__main__ import main
from dlcore.generative import GAN, VAE
from dlcore.images import read_samples
from dlcore.store import ModelStore
from dlcore.training import nan_epoch
from tests.gen_support import run_generative_job, write_image_zip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("gen_home")
    return {"home": home, "vae": run_generative_job(home, "vae"),
            "gan": run_generative_job(home, "gan", conditional=True, label_smoothing=0.2)}


def test_jobs_store_losses_sample_grids_and_a_quality_report(trained: dict) -> None:
    store = ModelStore(trained["home"])
    for arch, logged in (("vae", {"loss", "reconstruction_loss", "kl_loss"}),
                         ("gan", {"d_loss", "g_loss", "real_score", "fake_score"})):
        status = trained[arch]
        meta = store.get(status["model_id"]).meta
        assert meta.arch == arch and meta.generative and len(meta.history) == 2
        assert logged | {f"val_{k}" for k in logged} <= set(meta.metrics)
        assert all(math.isfinite(meta.metrics[k]) for k in logged)
        report = meta.evaluation
        assert report["kind"] == "generative" and report["n_samples"] == 1000
        assert len(report["class_counts"]) == 10 and sum(report["class_counts"]) == 1000
        assert 0.0 <= report["class_entropy"] <= report["max_entropy"]
        assert report["frechet_distance"] >= 0 and isinstance(report["memorisation"]["passed"], bool)
        reference = store.get(report["classifier_id"]).meta
        assert reference.arch == "cnn" and reference.name == "reference classifier for digits"
        assert report["classifier_accuracy"] == pytest.approx(reference.evaluation["accuracy"])
        grid = read_samples(Path(trained["home"]) / "jobs" / meta.job)
        assert grid is not None and int(grid["epoch"]) == 2 and grid["x"].shape[1:] == (8, 8, 1)
    gan_report = store.get(trained["gan"]["model_id"]).meta.evaluation
    assert gan_report["conditional"] and 0.0 <= gan_report["label_agreement"] <= 1.0
    # one reference classifier serves both models: a job of its own, listed with the others, trained once
    assert store.get(trained["vae"]["model_id"]).meta.evaluation["classifier_id"] == gan_report["classifier_id"]
    judge = store.get(gan_report["classifier_id"]).meta
    assert judge.job and (Path(trained["home"]) / "jobs" / judge.job / "config.json").is_file()
    assert [r.meta.name for r in store.list()].count("reference classifier for digits") == 1
    assert len(list((Path(trained["home"]) / "jobs").iterdir())) == 3  # the judge's job, the VAE's, the GAN's


def test_conditional_gan_grid_has_a_row_per_class(trained: dict) -> None:
    meta = ModelStore(trained["home"]).get(trained["gan"]["model_id"]).meta
    grid = read_samples(Path(trained["home"]) / "jobs" / meta.job)
    assert grid["x"].shape[0] == 10 * int(grid["columns"])
    assert grid["y"].tolist() == np.repeat(np.arange(10), int(grid["columns"])).tolist()


def test_stored_models_load_as_their_classes(trained: dict) -> None:
    store = ModelStore(trained["home"])
    assert isinstance(store.load(trained["vae"]["model_id"]), VAE)
    gan = store.load(trained["gan"]["model_id"])
    assert isinstance(gan, GAN) and gan.n_classes == 10 and gan.label_smoothing == 0.2


@pytest.mark.parametrize("arch", ["vae", "gan"])
def test_cli_sample_writes_npz_and_png(arch: str, trained: dict, tmp_path: Path, monkeypatch, capsys) -> None:
    from PIL import Image

    monkeypatch.setenv("DLCORE_HOME", str(trained["home"]))
    model_id = trained[arch]["model_id"]
    npz, png = tmp_path / "s.npz", tmp_path / "s.png"
    assert main(["sample", "--model", model_id, "-n", "20", "--seed", "5", "--out", str(npz), "--json"]) == 0
    assert '"n": 20' in capsys.readouterr().out.strip().splitlines()[-1]
    with np.load(npz, allow_pickle=False) as data:
        x = data["x"]
        assert x.shape == (20, 8, 8, 1) and x.dtype == np.float32 and 0.0 <= x.min() <= x.max() <= 1.0
        assert ("y" in data.files) == (arch == "gan")  # the GAN here is conditional: its classes come along
    assert main(["sample", "--model", model_id, "-n", "20", "--seed", "5", "--out", str(png)]) == 0
    image = np.asarray(Image.open(png))
    per_row = 10 if arch == "gan" else 5  # a column per class when conditional, else a near square
    scale = 6  # 8-pixel images are enlarged to at least 48 pixels
    rows = 2 if arch == "gan" else 4
    assert image.shape == (rows * 9 * scale - scale, per_row * 9 * scale - scale)
    assert np.array_equal(image[:8 * scale:scale, :8 * scale:scale], np.round(x[0, ..., 0] * 255).astype(np.uint8))


def test_cli_sample_refuses_what_it_cannot_do(trained: dict, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DLCORE_HOME", str(trained["home"]))
    reference = ModelStore(trained["home"]).get(trained["vae"]["model_id"]).meta.evaluation["classifier_id"]
    cases = [(["--model", reference, "--out", str(tmp_path / "a.png")], "not a generative model"),
             (["--model", trained["vae"]["model_id"], "--out", str(tmp_path / "a.jpg")], ".npz or .png"),
             (["--model", trained["vae"]["model_id"], "--label", "3", "--out", str(tmp_path / "a.npz")],
              "not conditional"),
             (["--model", trained["gan"]["model_id"], "--label", "12", "--out", str(tmp_path / "a.npz")],
              "out of range")]
    for args, message in cases:
        assert main(["sample", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_a_non_finite_gan_loss_fails_the_job() -> None:
    rows = [{"epoch": 1, "d_loss": 1.3, "g_loss": 0.8, "seconds": 0.5},
            {"epoch": 2, "d_loss": float("nan"), "g_loss": 0.7}]
    assert nan_epoch(rows, history=type("H", (), {"history": {}})()) == 2
    assert nan_epoch(rows[:1], history=type("H", (), {"history": {}})()) is None


def test_the_reference_classifier_is_found_again_whatever_other_knobs_say() -> None:
    from dataclasses import replace

    from dlcore.data import load_builtin
    from dlcore.generative.reference import job_key, reference_config
    from dlcore.models.spec import TrainConfig

    config = reference_config(load_builtin("digits"), 0.2, 0)
    stored = config.to_dict()
    older = TrainConfig.from_dict({**stored, "model": {**stored["model"], "beta": 1.0, "latent_dim": 5},
                                   "retired_option": True})  # as read back from an older meta.json
    assert job_key(older) == job_key(config)  # knobs of other kinds of model do not matter
    for changed in (replace(config, seed=1), replace(config, validation_split=0.3),
                    replace(config, model=replace(config.model, filters=(8,)))):
        assert job_key(changed) != job_key(config)
    assert job_key(None) != job_key(config)  # an imported model has no config


def test_a_vae_on_an_image_zip_given_by_its_path_is_judged_by_a_classifier_of_that_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    images = write_image_zip(tmp_path / "two_digits.zip")
    status = run_generative_job(home, "vae", epochs=1, data=str(images))
    evaluation = ModelStore(home).get(status["model_id"]).meta.evaluation
    assert evaluation["kind"] == "generative" and 0 <= evaluation["classifier_accuracy"] <= 1
    judge = ModelStore(home).get(evaluation["classifier_id"]).meta
    assert judge.config.data == str(images) and judge.class_names == ("0", "1")
