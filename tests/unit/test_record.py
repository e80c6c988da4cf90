"""The typed model record: a schema-1 ``meta.json`` (as training and importing wrote it before the record had a
schema) stored beside a real ``model.keras`` loads through the store with the right typed fields, writes back
every key it had, keeps keys it does not know, and a newer schema is refused with a clear error."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from dlcore.data import load_builtin
from dlcore.errors import ExplainError, ModelError
from dlcore.record import DataSummary, ImportInfo, ModelMeta, curve_names
from dlcore.store import META_FILE, MODEL_FILE, ModelStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"meta_schema1_{name}.json").read_text())


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny 4 -> 3 classifier saved as a Keras 3 file (35 parameters, as the fixtures say)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    path = tmp_path_factory.mktemp("record_model") / MODEL_FILE
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(4)(inputs))).save(path)
    return path


@pytest.fixture()
def stored(home: Path, model_file: Path) -> ModelStore:
    """A store holding both fixtures, each in its own folder beside the model file, as the old code left them."""
    store = ModelStore(home)
    for name in ("trained", "imported"):
        meta = _fixture(name)
        folder = store.root / meta["id"]
        folder.mkdir()
        shutil.copy(model_file, folder / MODEL_FILE)
        (folder / META_FILE).write_text(json.dumps(meta))
    return store


def test_the_store_loads_schema_one_records_with_typed_fields(stored: ModelStore) -> None:
    assert [r.model_id for r in stored.list()] == ["m-imported", "m-trained"]  # newest first
    meta = stored.get("m-trained").meta
    assert isinstance(meta, ModelMeta) and meta.schema == 2 and meta.model_id == "m-trained"
    assert (meta.name, meta.arch, meta.task, meta.modality) == ("iris mlp", "mlp", "classification", "tabular")
    assert meta.input_shape == (4,) and meta.class_names == ("setosa", "versicolor", "virginica")
    assert meta.feature_names[0] == "sepal length (cm)" and meta.params == 35 and meta.versions["keras"] == "3.9.2"
    assert meta.config.data == "iris" and meta.config.model.units == (4,) and meta.config.epochs == 2
    assert meta.dataset == DataSummary("iris", "classification", "tabular", 120, 30, (4,), 4,
                                       ("setosa", "versicolor", "virginica"),
                                       "Fisher's iris: 150 flowers, 4 measurements, 3 species")
    assert meta.job == "j-20250501-100000-abcd" and meta.imported is None and meta.extra == {}
    assert meta.origin == "trained" and meta.has_training_data and not meta.generative and not meta.takes_texts
    assert meta.data_name == "iris" and meta.data_key() == ("iris", None, 0.2, 0, None, None) and meta.n_outputs == 3
    assert meta.best_epoch == 2 and meta.final_metrics(validation=True) == {"val_accuracy": 0.5, "val_loss": 0.98}
    assert meta.final_metrics(validation=False) == {"accuracy": 0.45, "loss": 1.02}
    assert meta.evaluation["kind"] == "classification" and meta.input_label() == "input (4,)"
    assert meta.preprocessing_steps().kind == "tabular"
    x = np.zeros((2, 4), np.float32)
    assert stored.load("m-trained").predict(x, verbose=0).shape == (2, 3)


def test_an_imported_schema_one_record(stored: ModelStore) -> None:
    meta = stored.get("m-imported").meta
    assert meta.imported == ImportInfo("flowers.keras", meta.imported.sha256, 21345, "3.9.2", "Functional")
    assert len(meta.imported.sha256) == 64 and meta.is_imported and meta.origin == "imported"
    assert meta.output_shape == (3,) and meta.n_outputs == 3 and meta.class_names_known is False
    assert meta.config is None and meta.dataset is None and meta.data_name == "" and not meta.has_training_data
    assert meta.history == () and meta.curves() == [] and meta.best_epoch == 0 and meta.final_metrics() == {}
    with pytest.raises(ExplainError, match="imported without its training data"):
        meta.data_key()
    assert meta.data_key("iris") == ("iris", None, 0.2, 0, None, None)
    meta.check_fits(load_builtin("iris"))  # four numbers in, three classes out
    with pytest.raises(ExplainError, match="choose a data set shaped like the model's input"):
        meta.check_fits(load_builtin("digits"))
    assert meta.output_names(("setosa", "versicolor", "virginica")) == ("0", "1", "2")


def _kept(old: dict, written: dict) -> dict:
    """``written`` cut to the keys of ``old``, and its training config to the config keys of ``old``."""
    out = {k: written[k] for k in old}
    if isinstance(old.get("config"), dict):
        out["config"] = {k: written["config"][k] for k in old["config"]}
    return out


@pytest.mark.parametrize("name", ["trained", "imported"])
def test_to_dict_round_trips_and_keeps_every_schema_one_key(name: str) -> None:
    old = _fixture(name)
    meta = ModelMeta.from_dict(old)
    written = meta.to_dict()
    assert written["schema"] == 2
    assert _kept(old, written) == old  # every key, same name, same value (the config may gain new defaults)
    assert ModelMeta.from_dict(written).to_dict() == written
    assert json.loads(json.dumps(written)) == written  # plain JSON: lists, not tuples


def test_a_save_through_the_store_writes_schema_two_that_reads_back_the_same(home: Path, model_file: Path) -> None:
    meta = ModelMeta.from_dict(_fixture("trained"))
    model = keras.saving.load_model(model_file, compile=False)
    record = ModelStore(home).save(model, meta)
    on_disk = json.loads((record.path / META_FILE).read_text())
    assert on_disk["schema"] == 2 and on_disk["id"] == record.model_id != "m-trained"
    old = _fixture("trained")
    assert {k: v for k, v in _kept(old, on_disk).items() if k not in ("id", "created", "versions")} == \
        {k: v for k, v in old.items() if k not in ("id", "created", "versions")}
    assert ModelStore(home).get(record.model_id).meta.to_dict() == on_disk


def test_unknown_keys_survive_in_extra(home: Path, model_file: Path) -> None:
    newer = {**_fixture("trained"), "schema": 2, "notes": {"by": "a newer version"}, "tags": ["a", "b"]}
    meta = ModelMeta.from_dict(newer)
    assert meta.extra == {"notes": {"by": "a newer version"}, "tags": ["a", "b"]}
    assert meta.to_dict()["notes"] == {"by": "a newer version"} and meta.to_dict()["tags"] == ["a", "b"]
    record = ModelStore(home).save(keras.saving.load_model(model_file, compile=False), meta)
    assert ModelStore(home).get(record.model_id).meta.extra == meta.extra


def test_a_newer_schema_is_refused_with_a_clear_error(stored: ModelStore) -> None:
    with pytest.raises(ModelError, match="schema 3, newer than this version reads .2.; update the app"):
        ModelMeta.from_dict({**_fixture("trained"), "schema": 3})
    folder = stored.root / "m-trained"
    (folder / META_FILE).write_text(json.dumps({**_fixture("trained"), "schema": 3}))
    assert [r.model_id for r in stored.list()] == ["m-imported"]  # not listed
    with pytest.raises(ModelError, match="schema 3"):
        stored.get("m-trained")


def test_curves_are_the_losses_and_metrics_never_the_epoch_or_its_time() -> None:
    meta = ModelMeta.from_dict(_fixture("trained"))
    assert "time" in meta.history[0] and "seconds" in meta.history[0]
    assert meta.curves() == ["val_accuracy", "val_loss", "accuracy", "loss"]
    assert curve_names([{"epoch": 1, "seconds": 0.2, "time": 1.7e9}]) == []
    assert curve_names([{"epoch": 1, "loss": 0.5, "note": "text", "flag": True}]) == ["loss"]  # numbers only


def test_the_models_command_lists_schema_one_records_with_the_same_keys(stored: ModelStore,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from dlcore.__main__ import main

    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["models"]
    trained = {"model_id": "m-trained", "name": "iris mlp", "arch": "mlp", "data": "iris", "params": 35,
               "metrics": {"val_accuracy": 0.5, "val_loss": 0.98}, "created": "2025-05-01T10:00:00Z",
               "path": str(stored.root / "m-trained" / MODEL_FILE)}
    imported = {**trained, "model_id": "m-imported", "name": "flowers", "arch": "imported", "data": "", "metrics": {},
                "created": "2025-05-02T09:30:00Z", "path": str(stored.root / "m-imported" / MODEL_FILE)}
    assert rows == [imported, trained]
