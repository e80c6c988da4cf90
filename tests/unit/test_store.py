"""ModelStore: atomic saves, safe loading, listing only complete models."""
from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from dlcore.errors import ModelError
from dlcore.record import ModelMeta
from dlcore.store import META_FILE, MODEL_FILE, ModelStore


def _model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])


def test_save_load_list_delete(home) -> None:
    store = ModelStore(home)
    model = _model(0)
    rec = store.save(model, ModelMeta(name="tiny", metrics={"val_accuracy": 0.5}))
    on_disk = json.loads((rec.path / META_FILE).read_text())
    assert (rec.path / MODEL_FILE).is_file() and on_disk["name"] == "tiny" and on_disk["schema"] == 2
    assert on_disk["id"] == rec.model_id == rec.meta.model_id and on_disk["params"] == 8
    assert rec.meta.params == 8 and "keras" in rec.meta.versions and rec.meta.created
    assert store.get(rec.model_id).meta.to_dict() == rec.meta.to_dict() == on_disk
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
    rec = store.save(first, ModelMeta(name="v1"))
    second = _model(2)

    def broken_save(path, overwrite=True):  # writes part of a file, then dies, as a full disk would
        with open(path, "wb") as fh:
            fh.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(second, "save", broken_save)
    with pytest.raises(ModelError, match=r"could not save the model .*No space left on device.*free disk space"):
        store.save(second, ModelMeta(name="v2"), model_id=rec.model_id)
    assert store.get(rec.model_id).meta.name == "v1"
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
    rec = store.save(_model(0), ModelMeta(name="x"))
    rec.model_file.write_bytes(b"garbage")
    with pytest.raises(ModelError, match="delete it and train again"):
        store.load(rec.model_id)


@pytest.mark.parametrize("bad", ["../escape", "", ".hidden", "a/b"])
def test_ids_cannot_escape_the_store(home, bad: str) -> None:
    with pytest.raises(ModelError, match="invalid model id"):
        ModelStore(home).get(bad)


def test_a_meta_json_shaped_mapping_is_read_as_a_record(home) -> None:
    rec = ModelStore(home).save(_model(0), {"name": "from a dict", "task": "classification", "class_names": [0, 1],
                                            "input_shape": [3], "metrics": {"val_loss": 0.25, "epoch": 2}})
    meta = ModelStore(home).get(rec.model_id).meta
    assert isinstance(meta, ModelMeta) and meta.name == "from a dict" and meta.class_names == ("0", "1")
    assert meta.input_shape == (3,) and meta.best_epoch == 2 and meta.final_metrics() == {"val_loss": 0.25}


def test_a_model_whose_meta_is_newer_is_not_listed_and_get_says_why(home) -> None:
    store = ModelStore(home)
    rec = store.save(_model(0), ModelMeta(name="future"))
    meta = json.loads((rec.path / META_FILE).read_text())
    (rec.path / META_FILE).write_text(json.dumps({**meta, "schema": 3}))
    assert store.list() == []
    with pytest.raises(ModelError, match="schema 3, newer than this version reads"):
        store.get(rec.model_id)


def test_a_job_whose_save_hits_a_full_disk_fails_with_one_message_and_keeps_the_other_models(home, monkeypatch):
    from dlcore import jobs
    from dlcore.models import ModelSpec, TrainConfig
    from dlcore.training import run_job

    store = ModelStore(home)
    kept = store.save(_model(3), ModelMeta(name="earlier"))

    def full_disk(self, path, overwrite=True, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", full_disk)
    status = run_job(jobs.create(TrainConfig(data="iris", model=ModelSpec(units=(4,)), epochs=1), home))
    assert status["state"] == "failed"
    assert "No space left on device" in status["message"] and "free disk space" in status["message"]
    assert [r.model_id for r in store.list()] == [kept.model_id] and store.get(kept.model_id).meta.name == "earlier"
    assert [p.name for p in store.root.iterdir()] == [kept.model_id]  # no half-made folder left behind
