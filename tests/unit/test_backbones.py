"""keras.applications backbones: used only from a weights file already on disk; without one, a clear message
and no download attempt (nothing is fetched, the backbone is not even built)."""
from __future__ import annotations

import socket
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from dlcore import backbones
from dlcore.data import load_builtin
from dlcore.data.subset import limit_train
from dlcore.errors import ModelError
from dlcore.finetune import build_plan, load_base
from dlcore.models.spec import FineTuneSpec

FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"


@pytest.fixture()
def offline(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """An empty Keras cache, and every way to reach the network or build the backbone recorded and blocked."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    calls: dict[str, list] = {"net": [], "get_file": [], "build": []}

    def no_net(*args, **kwargs):
        calls["net"].append(args)
        raise OSError("network blocked in tests")

    def no_get_file(*args, **kwargs):
        calls["get_file"].append(args)
        raise OSError("downloads blocked in tests")

    monkeypatch.setattr(socket.socket, "connect", no_net)
    monkeypatch.setattr(socket, "create_connection", no_net)
    monkeypatch.setattr(keras.utils, "get_file", no_get_file)
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", no_get_file)
    real = keras.applications.MobileNetV2

    def build(*args, **kwargs):
        calls["build"].append(kwargs.get("weights"))
        return real(*args, **kwargs)

    monkeypatch.setattr(keras.applications, "MobileNetV2", build)
    return calls


def test_without_the_weights_file_the_message_names_it_and_nothing_is_fetched(offline: dict, home: Path) -> None:
    with pytest.raises(ModelError) as info:
        load_base("keras:MobileNetV2")
    message = str(info.value)
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5" in message
    assert str(home / "weights") in message and "keras_home/models" in message and "nothing is downloaded" in message
    assert offline == {"net": [], "get_file": [], "build": []}  # it returned before building anything
    assert backbones.available() == []
    with pytest.raises(ModelError, match="has weights for alpha"):
        load_base("keras:MobileNetV2:0.2")


@pytest.mark.slow
def test_a_local_weights_file_is_used_and_the_backbone_gets_a_new_head(offline: dict, tmp_path: Path,
                                                                     home: Path) -> None:
    keras.utils.set_random_seed(0)
    donor = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False, weights=None)
    offline["build"].clear()  # the donor of random "pretrained" weights is not what is checked
    cache = tmp_path / "keras_home" / "models"
    cache.mkdir(parents=True)
    with h5py.File(cache / FILE, "w") as fh:  # the legacy layout Keras publishes these weights in
        from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

        save_weights_to_hdf5_group(fh, donor)
    assert [b["ref"] for b in backbones.available()] == ["keras:MobileNetV2:0.35:96"]
    digits = limit_train(load_builtin("digits"), 40, seed=0)
    plan = build_plan(FineTuneSpec(base="keras:MobileNetV2"), digits)
    assert offline["net"] == [] and offline["get_file"] == [] and offline["build"] == [str(cache / FILE)]
    assert plan.head == "added" and plan.base.label == f"MobileNetV2 ({FILE})"
    meta = plan.base.meta  # the backbone's record: no head, the input scale it was trained on, its weights file
    assert meta.headless and meta.arch == "MobileNetV2" and meta.input_scale == (2.0, -1.0)
    assert backbones.weights_file(meta) == FILE and meta.class_names == ()
    names = [layer.name for layer in plan.model.layers]
    assert names[:4] == ["input", "adapt_resize", "adapt_rgb", "adapt_scale"] and names[-2:] == ["head_pool", "output"]
    assert any("resized from 8x8 to 96x96" in n for n in plan.notes)
    assert any("repeated into 3 channels" in n for n in plan.notes)
    donor_conv = donor.get_layer("Conv1").get_weights()[0]
    np.testing.assert_array_equal(plan.model.get_layer("Conv1").get_weights()[0], donor_conv)
    trainable = [layer.name for layer in plan.model.layers if layer.trainable and layer.weights]
    assert trainable == ["output"]  # freeze -1: the whole backbone is frozen, its batch norms in inference mode
    out = plan.model.predict(digits.x_val[:3], verbose=0)
    assert out.shape == (3, 10) and np.allclose(out.sum(axis=1), 1, atol=1e-5)


def test_uploaded_weights_are_checked_before_they_are_kept(home: Path) -> None:
    with pytest.raises(ModelError, match="not a backbone weights file"):
        backbones.save_uploaded_weights(b"\x89HDF\r\n\x1a\n", "evil.h5")
    with pytest.raises(ModelError, match="must be an HDF5 weights file"):
        backbones.save_uploaded_weights(b"PK\x03\x04zip", FILE)
    with pytest.raises(ModelError, match="does not hold MobileNetV2 weights"):
        backbones.save_uploaded_weights(b"\x89HDF\r\n\x1a\n" + b"\0" * 64, FILE)
    assert not (home / "weights" / FILE).exists()
