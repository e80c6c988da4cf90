"""VAE and GAN: one epoch of training logs finite losses, samples have the right shapes and ranges, files
round-trip under safe_mode, training resumes from a backup, and a VAE's interpolation ends at its inputs."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from dlcore.data import load_builtin
from dlcore.errors import ModelError
from dlcore.generative import GAN, REGISTERED, VAE, sampling
from dlcore.generative.blocks import MinibatchStd, upsamplings

SHAPE = (8, 8, 1)
CASES = {  # name: (class, constructor arguments)
    "vae-conv": (VAE, {"latent_dim": 3, "filters": (4, 8), "units": (16,)}),
    "vae-dense-conditional": (VAE, {"latent_dim": 2, "filters": (), "units": (16,), "n_classes": 10}),
    "gan-conv": (GAN, {"latent_dim": 4, "filters": (4, 8)}),
    "gan-conv-conditional": (GAN, {"latent_dim": 4, "filters": (4, 8), "n_classes": 10, "dropout": 0.2}),
}


@pytest.fixture(scope="module")
def digits():
    return load_builtin("digits")


def _tiny(name: str):
    cls, kwargs = CASES[name]
    keras.utils.set_random_seed(0)
    model = cls(SHAPE, seed=0, **kwargs)
    if cls is GAN:
        model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), d_optimizer=keras.optimizers.Adam(1e-3))
    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


@pytest.mark.parametrize("name", list(CASES))
def test_one_epoch_logs_finite_losses_and_samples_images(name: str, digits) -> None:
    model = _tiny(name)
    history = model.fit(digits.x_train[:256], digits.y_train[:256],
                        validation_data=(digits.x_val[:64], digits.y_val[:64]), epochs=1, batch_size=64,
                        verbose=0).history
    expected = {"loss", "reconstruction_loss", "kl_loss"} if isinstance(model, VAE) else \
        {"d_loss", "g_loss", "real_score", "fake_score"}
    assert set(history) == expected | {f"val_{k}" for k in expected}
    assert all(np.isfinite(v[0]) for v in history.values())
    if isinstance(model, VAE):
        total = history["reconstruction_loss"][0] + model.beta * history["kl_loss"][0]
        assert history["loss"][0] == pytest.approx(total, rel=1e-4)
    x, y = sampling.generate(model, 12, seed=3)
    assert x.shape == (12, *SHAPE) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.std() > 0
    again, _ = sampling.generate(model, 12, seed=3)
    other, _ = sampling.generate(model, 12, seed=4)
    assert np.array_equal(x, again) and not np.allclose(x, other)
    if model.n_classes:
        assert list(y) == [k % 10 for k in range(12)]
    else:
        assert y is None


@pytest.mark.parametrize("name", ["vae-dense-conditional", "gan-conv"])
def test_save_and_load_with_safe_mode(name: str, tmp_path: Path) -> None:
    model = _tiny(name)
    path = tmp_path / "model.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    assert config["registered_name"] in REGISTERED == {"dlcore>VAE", "dlcore>GAN", "dlcore>MinibatchStd"}
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    labels = [1, 5, 9] if model.n_classes else None
    z = sampling.noise(3, model.latent_dim, seed=1)
    assert np.array_equal(sampling.decode(model, z, labels), sampling.decode(loaded, z, labels))


class _CrashAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch == 1:
            raise RuntimeError("worker killed")


@pytest.mark.parametrize("name", ["vae-conv", "gan-conv-conditional"])
def test_training_resumes_from_a_backup(name: str, digits, tmp_path: Path) -> None:
    """What a job's Resume relies on: BackupAndRestore reloads weights and both GAN optimizers."""
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    data = (digits.x_train[:128], digits.y_train[:128])
    with pytest.raises(RuntimeError, match="worker killed"):
        _tiny(name).fit(*data, epochs=3, batch_size=64, verbose=0, callbacks=[backup, _CrashAfterFirstEpoch()])
    resumed = _tiny(name)
    history = resumed.fit(*data, epochs=3, batch_size=64, verbose=0,
                          callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))])
    assert len(next(iter(history.history.values()))) == 2  # epochs 2 and 3 only
    if isinstance(resumed, GAN):
        assert int(resumed.d_optimizer.iterations.numpy()) == int(resumed.optimizer.iterations.numpy()) == 3 * 2


@pytest.fixture(scope="module")
def trained_vae(digits) -> VAE:
    keras.utils.set_random_seed(0)
    model = VAE(SHAPE, latent_dim=8, beta=0.5, filters=(16, 32), units=(64,))
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(digits.x_train, digits.y_train, epochs=15, batch_size=32, verbose=0)
    return model


@pytest.mark.slow
def test_interpolation_endpoints_decode_back_near_their_inputs(trained_vae: VAE, digits) -> None:
    rows = [int(np.flatnonzero(digits.y_val == k)[0]) for k in (0, 1, 4, 7)]
    x = digits.x_val[rows]
    mean, _ = sampling.encode(trained_vae, x)
    baseline = np.abs(digits.x_train.mean(axis=0) - x).mean(axis=(1, 2, 3))  # the average digit's error
    for i, j in [(0, 1), (2, 3)]:
        path = sampling.decode(trained_vae, sampling.interpolate(mean[i], mean[j], 7))
        start_err, end_err = np.abs(path[0] - x[i]).mean(), np.abs(path[-1] - x[j]).mean()
        assert start_err < 0.8 * baseline[i] and end_err < 0.8 * baseline[j]
        assert start_err < np.abs(path[0] - x[j]).mean() and end_err < np.abs(path[-1] - x[i]).mean()
        middle = path[3]
        assert np.abs(middle - x[i]).mean() > start_err and np.abs(middle - x[j]).mean() > end_err
        # decoded in a batch of 7 against a batch of 1: oneDNN may pick other kernels, so not bit for bit
        np.testing.assert_allclose(path[0], sampling.reconstruct(trained_vae, x[i:i + 1])[0], rtol=1e-5, atol=1e-5)
    recon = sampling.reconstruct(trained_vae, digits.x_val)
    assert np.abs(recon - digits.x_val).mean() < 0.75 * np.abs(digits.x_train.mean(axis=0) - digits.x_val).mean()


def test_interpolate_and_class_vectors() -> None:
    a, b = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    line = sampling.interpolate(a, b, 5)
    assert line.shape == (5, 2) and np.allclose(line[0], a) and np.allclose(line[-1], b)
    assert np.allclose(line[2], [0.5, 1.0])
    arc = sampling.interpolate(np.array([3.0, 0.0]), np.array([0.0, 3.0]), 5, spherical=True)
    assert np.allclose(np.linalg.norm(arc, axis=1), 3.0)  # stays on the circle, unlike the straight line
    model = GAN(SHAPE, latent_dim=2, filters=(4,), n_classes=3)
    assert sampling.class_vectors(model, None, 4).argmax(axis=1).tolist() == [0, 1, 2, 0]
    with pytest.raises(ModelError, match="out of range"):
        sampling.class_vectors(model, [3], 1)
    with pytest.raises(ModelError, match="no encoder"):
        sampling.encode(model, np.zeros((1, *SHAPE)))
    with pytest.raises(ModelError, match="not a generative model"):
        sampling.generate(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), 2)


def test_minibatch_std_sees_a_collapsed_batch() -> None:
    same = np.repeat(np.random.default_rng(0).random((1, 4, 4, 2)), 8, axis=0).astype(np.float32)
    varied = np.random.default_rng(1).random((8, 4, 4, 2)).astype(np.float32)
    out_same, out_varied = (keras.ops.convert_to_numpy(MinibatchStd()(v)) for v in (same, varied))
    assert out_same.shape == (8, 4, 4, 3)
    assert np.abs(out_same[..., 2]).max() < 1e-6 and out_varied[..., 2].min() > 0.1
    assert np.array_equal(out_varied[..., :2], varied)


def test_image_sizes_the_generator_reaches() -> None:
    assert [upsamplings(h, h, 3) for h in (8, 28, 32, 30)] == [2, 2, 3, 1]
    for shape in [(28, 28, 1), (32, 32, 3)]:
        model = GAN(shape, latent_dim=4, filters=(4, 8))
        assert sampling.generate(model, 2)[0].shape == (2, *shape)
