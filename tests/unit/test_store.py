"""ModelStore: atomic saves, safe loading, listing only complete models."""
from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from dlcore.errors import ModelError
from dlcore.store import META_FILE, MODEL_FILE, ModelStore


def _model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])


def test_save_load_list_delete(home) -> None:
    store = ModelStore(home)
    model = _model(0)
    rec = store.save(model, {"name": "tiny", "metrics": {"val_accuracy": 0.5}})
    assert (rec.path / MODEL_FILE).is_file() and json.loads((rec.path / META_FILE).read_text())["name"] == "tiny"
    assert rec.meta["params"] == 8 and "keras" in rec.meta["versions"]
    loaded = store.load(rec.model_id)
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    assert np.allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert [r.model_id for r in store.list()] == [rec.model_id]
    store.delete(rec.model_id)
    assert store.list() == [] and not rec.path.exists()
    with pytest.raises(ModelError, match="dlcore models"):
        store.load(rec.model_id)


def test_failed_overwrite_leaves_previous_model_loadable(home, monkeypatch) -> None:
    store = ModelStore(home)
    first = _model(1)
    rec = store.save(first, {"name": "v1"})
    second = _model(2)

    def broken_save(path, overwrite=True):  # writes part of a file, then dies, as a full disk would
        with open(path, "wb") as fh:
            fh.write(b"PK\x03\x04 half a zip")
        raise OSError("No space left on device")

    monkeypatch.setattr(second, "save", broken_save)
    with pytest.raises(OSError):
        store.save(second, {"name": "v2"}, model_id=rec.model_id)
    assert store.get(rec.model_id).meta["name"] == "v1"
    x = np.ones((1, 3), dtype="float32")
    assert np.allclose(store.load(rec.model_id).predict(x, verbose=0), first.predict(x, verbose=0))
    assert [p.name for p in rec.path.iterdir() if p.name.startswith(".")] == []  # no temp files left behind


def test_half_written_folders_are_not_listed(home) -> None:
    store = ModelStore(home)
    (store.root / "m-partial").mkdir()
    (store.root / "m-partial" / MODEL_FILE).write_bytes(b"not finished")
    (store.root / "m-nometa").mkdir()
    assert store.list() == []
    with pytest.raises(ModelError):
        store.get("m-partial")


def test_corrupt_model_file_gives_a_clear_error(home) -> None:
    store = ModelStore(home)
    rec = store.save(_model(0), {"name": "x"})
    rec.model_file.write_bytes(b"garbage")
    with pytest.raises(ModelError, match="delete it and train again"):
        store.load(rec.model_id)


@pytest.mark.parametrize("bad", ["../escape", "", ".hidden", "a/b"])
def test_ids_cannot_escape_the_store(home, bad: str) -> None:
    with pytest.raises(ModelError, match="invalid model id"):
        ModelStore(home).get(bad)
