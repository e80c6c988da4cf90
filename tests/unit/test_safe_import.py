"""Importing a model file is a security boundary: every hostile file is built here, refused with a message
that names the reason (and the layer), and its payload never runs (the marker file it would write stays absent)."""
from __future__ import annotations

import json
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from dlcore import safe_import
from dlcore.errors import ModelError, UnsafeModelError
from dlcore.importer import import_bytes, import_model
from dlcore.store import ModelStore


@pytest.fixture(scope="session")
def good_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small, honest classifier saved as .keras."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), name="input")
    x = keras.layers.Dense(8, activation="relu", name="dense")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="output")(x)
    path = tmp_path_factory.mktemp("good") / "good.keras"
    keras.Model(inputs, outputs).save(path)
    return path


def rewrite(src: Path, dst: Path, edit: Callable[[dict], Any] | None = None,
            extra: dict[str, bytes] | None = None, drop: tuple[str, ...] = ()) -> Path:
    """Copy a .keras archive, editing its config.json and adding or dropping members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            data = zin.read(info.filename)
            if info.filename == "config.json" and edit is not None:
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            zout.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            zout.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return dst


def layer(config: dict, name: str) -> dict:
    return next(entry for entry in config["config"]["layers"] if entry["config"]["name"] == name)


def refused(path: Path, home: Path, *fragments: str) -> str:
    """Import ``path``, expect a refusal that mentions every fragment, and nothing stored or left behind."""
    with pytest.raises(UnsafeModelError) as info:
        import_model(path, home)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert ModelStore(home).list() == []
    assert not any((home / ".imports").glob("*")) if (home / ".imports").exists() else True
    return message


def test_a_safe_model_is_imported_loaded_and_described(good_file: Path, home: Path) -> None:
    record = import_model(good_file, home, name="mine")
    meta = record.meta
    assert meta.name == "mine" and meta.arch == "imported" and meta.is_imported and meta.origin == "imported"
    assert meta.task == "classification" and meta.modality == "tabular"
    assert meta.input_shape == (6,) and meta.output_shape == (3,) and meta.class_names == ("0", "1", "2")
    assert meta.imported.file == "good.keras" and len(meta.imported.sha256) == 64
    assert meta.imported.bytes == good_file.stat().st_size and meta.imported.model_class == "Functional"
    assert meta.config is None and not meta.has_training_data and meta.input_label() == "input (6,)"
    on_disk = json.loads((record.path / "meta.json").read_text())
    assert on_disk["schema"] == 2 and on_disk["imported"]["file"] == "good.keras" and on_disk["input_shape"] == [6]
    x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    original = keras.saving.load_model(good_file, compile=False, safe_mode=True)
    np.testing.assert_allclose(ModelStore(home).load(record.model_id).predict(x, verbose=0),
                               original.predict(x, verbose=0), rtol=1e-6)


def test_a_lambda_layer_is_refused_and_its_code_never_runs(tmp_path: Path, home: Path) -> None:
    marker = tmp_path / "lambda-ran"
    where = str(marker)  # the lambda's closure is stored in the file with its code
    inputs = keras.Input((4,))
    payload = keras.layers.Lambda(lambda t: (open(where, "w").close(), t)[1], name="payload")(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, keras.layers.Dense(2, name="out")(payload)).save(path)
    marker.unlink()  # building the model called the lambda once; loading must not
    refused(path, home, "layer 'payload' (Lambda)", "Python code")
    assert not marker.exists()


def test_legacy_h5_models_are_refused_with_how_to_convert(good_file: Path, tmp_path: Path, home: Path) -> None:
    model = keras.saving.load_model(good_file, compile=False)
    h5 = tmp_path / "legacy.h5"
    model.save(h5)
    assert h5.read_bytes()[:4] == b"\x89HDF"
    refused(h5, home, "legacy HDF5 model", "model.save('model.keras')")
    renamed = tmp_path / "sneaky.keras"
    renamed.write_bytes(h5.read_bytes())
    refused(renamed, home, "HDF5 model renamed to .keras")


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # what a hostile pickle does: call a function on load
        return (os.system, (f"touch {self.marker}",))


def test_pickles_and_savedmodels_are_refused_without_being_read(tmp_path: Path, home: Path) -> None:
    marker = tmp_path / "pickle-ran"
    data = pickle.dumps(_Payload(marker))
    for name in ("model.pkl", "model.joblib", "model.pt", "model.keras"):
        (tmp_path / name).write_bytes(data)
    refused(tmp_path / "model.pkl", home, "a pickle", "Keras 3 `.keras`")
    refused(tmp_path / "model.joblib", home, "pickle")
    refused(tmp_path / "model.pt", home, "PyTorch")
    refused(tmp_path / "model.keras", home, "pickle renamed to .keras")
    saved = tmp_path / "exported"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"\x08\x01")
    refused(saved, home, "SavedModel folder", "model.save('model.keras')")
    (tmp_path / "junk.keras").write_bytes(b"not a zip at all")
    refused(tmp_path / "junk.keras", home, "not a zip archive")
    assert not marker.exists()


@pytest.mark.parametrize("payload, fragment", [
    ({"module": "os", "class_name": "function", "config": "system", "registered_name": None}, "module 'os'"),
    ({"module": "builtins", "class_name": "function", "config": "exec", "registered_name": None}, "module 'builtins'"),
    ({"module": "keras.utils", "class_name": "function", "config": "get_file", "registered_name": None},
     "module 'keras.utils'"),
    ({"module": "keras.config", "class_name": "function", "config": "enable_unsafe_deserialization",
      "registered_name": None}, "module 'keras.config'"),
    ({"module": "keras.src.activations.activations", "class_name": "function", "config": "__import__",
      "registered_name": None}, "not a Keras activation"),
    ({"module": "subprocess", "class_name": "Popen", "config": {"args": "touch MARKER"}}, "module 'subprocess'"),
])
def test_config_naming_code_outside_keras_layers_is_refused(good_file: Path, tmp_path: Path, home: Path,
                                                             payload: dict, fragment: str) -> None:
    marker = tmp_path / "config-ran"
    text = json.dumps(payload).replace("MARKER", str(marker))

    def edit(config: dict) -> None:
        layer(config, "dense")["config"]["activation"] = json.loads(text)

    path = rewrite(good_file, tmp_path / "hostile.keras", edit)
    refused(path, home, "layer 'dense' (Dense)", fragment)
    assert not marker.exists()


def test_a_whole_layer_from_another_module_is_refused(good_file: Path, tmp_path: Path, home: Path) -> None:
    marker = tmp_path / "layer-ran"

    def edit(config: dict) -> None:
        config["config"]["layers"].append({"module": "os", "class_name": "system", "name": "evil",
                                           "config": {"name": "evil", "command": f"touch {marker}"}})

    refused(rewrite(good_file, tmp_path / "hostile.keras", edit), home, "layer 'evil' (system)", "module 'os'")
    assert not marker.exists()


@pytest.mark.parametrize("entry, fragments", [
    ({"module": "keras.layers", "class_name": "TFSMLayer", "config": {"name": "sm", "filepath": "/tmp/x"}},
     ("layer 'sm' (TFSMLayer)", "SavedModel from a path")),
    ({"module": "keras.layers", "class_name": "StringLookup",
      "config": {"name": "lookup", "vocabulary": "/etc/passwd"}},
     ("layer 'lookup' (StringLookup)", "vocabulary='/etc/passwd'", "names a file")),
    ({"module": "evil_pkg.layers", "class_name": "Evil", "registered_name": "evil_pkg>Evil", "config": {"name": "ev"}},
     ("layer 'ev' (Evil)", "'evil_pkg>Evil' is not one of this app's own classes")),
    ({"module": "keras.layers", "class_name": "TorchModuleWrapper", "config": {"name": "torch"}},
     ("layer 'torch' (TorchModuleWrapper)", "pickled")),
])
def test_layers_that_read_files_or_are_unknown_are_refused(good_file: Path, tmp_path: Path, home: Path,
                                                           entry: dict, fragments: tuple[str, ...]) -> None:
    def edit(config: dict) -> None:
        config["config"]["layers"].append(entry)

    refused(rewrite(good_file, tmp_path / "hostile.keras", edit), home, *fragments)


@keras.saving.register_keras_serializable(package="dlcore_test")
class Scale(keras.layers.Layer):
    """A registered layer standing in for the project's own classes (VAE, GAN)."""

    def call(self, x):
        return x * 2.0


def test_registered_classes_load_only_when_allowed(tmp_path: Path, home: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(2, activation="softmax", name="out")(Scale(name="scale")(inputs))
    path = tmp_path / "custom.keras"
    keras.Model(inputs, outputs).save(path)
    refused(path, home, "layer 'scale' (Scale)", "'dlcore_test>Scale' is not one of this app's own classes")
    monkeypatch.setattr(safe_import, "SAFE_REGISTERED", set())
    safe_import.allow_registered("dlcore_test>Scale")
    record = import_model(path, home)
    assert record.meta.input_shape == (3,)


def test_zip_bombs_traversal_links_and_strangers_are_refused_before_extraction(
        good_file: Path, tmp_path: Path, home: Path) -> None:
    bomb = rewrite(good_file, tmp_path / "bomb.keras", drop=("model.weights.h5",),
                   extra={"model.weights.h5": bytes(32 * 2**20)})
    assert bomb.stat().st_size < 2**20  # 32 MiB of zeros squeezed into a few KiB
    refused(bomb, home, "'model.weights.h5' declares 32 MiB", "zip bomb")
    escape = tmp_path.parent / "escaped.txt"
    for name in ("../escaped.txt", "assets/../../escaped.txt"):
        refused(rewrite(good_file, tmp_path / "walk.keras", extra={name: b"x"}), home, "leaves the archive")
    refused(rewrite(good_file, tmp_path / "abs.keras", extra={"/tmp/escaped.txt": b"x"}), home, "absolute path")
    assert not escape.exists()
    refused(rewrite(good_file, tmp_path / "py.keras", extra={"payload.py": b"import os"}), home,
            "'payload.py'", "a name Keras never writes")
    many = {f"assets/f{i}.txt": b"" for i in range(safe_import.MAX_MEMBERS)}
    refused(rewrite(good_file, tmp_path / "many.keras", extra=many), home, "members; a Keras file has a handful")
    link = zipfile.ZipInfo("assets/link")
    link.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(rewrite(good_file, tmp_path / "link.keras"), "a") as zf:
        zf.writestr(link, "/etc/passwd")
    refused(tmp_path / "link.keras", home, "symbolic link")
    refused(rewrite(good_file, tmp_path / "noweights.keras", drop=("model.weights.h5",)), home,
            "lacks model.weights.h5")


def test_sizes_are_capped_before_reading(good_file: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safe_import, "MAX_FILE_BYTES", 1000)
    refused(good_file, home, "the limit is")
    monkeypatch.setattr("dlcore.importer.MAX_FILE_BYTES", 1000)
    with pytest.raises(UnsafeModelError, match="the limit is"):
        import_bytes(good_file.read_bytes(), "upload.keras", home)


def test_a_model_without_a_fixed_input_shape_is_refused(tmp_path: Path, home: Path) -> None:
    inputs = keras.Input((None, 3))
    path = tmp_path / "free.keras"
    keras.Model(inputs, keras.layers.Dense(1)(inputs)).save(path)
    with pytest.raises(ModelError, match="is not fixed"):
        import_model(path, home)
    assert ModelStore(home).list() == []


def test_command_line_import(good_file: Path, tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dlcore.__main__ import main

    assert main(["import", str(good_file), "--classes", "a,b,c", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["model_id"] and result["task"] == "classification" and result["class_names"] == ["a", "b", "c"]
    h5 = tmp_path / "m.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n")
    assert main(["import", str(h5)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: refused m.h5") and "model.save('model.keras')" in err[0]
