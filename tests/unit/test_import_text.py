"""Text models (a string in, one text per row) import like any model file: trained here with the app's own text,
rnn and transformer builders, imported from their ``.keras`` files, checked on sample strings, described so that
LIME explains them on texts; the config checks stay as strict (a vocabulary that names a file is refused)."""
from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from dlcore.errors import ModelError
from dlcore.importer import SAMPLE_TEXTS, import_model
from dlcore.store import ModelStore
from tests.text_support import BAD, GOOD, write_reviews
from tests.unit.test_safe_import import layer, refused, rewrite

pytestmark = pytest.mark.slow
ARCHS = ("text", "rnn", "transformer")


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A reviews CSV and one model of each text architecture trained on it (the text model well, the others
    for one epoch), each also copied out of the store as a plain ``.keras`` file."""
    from dlcore import jobs
    from dlcore.models import ModelSpec, TrainConfig
    from dlcore.training import run_job

    home = tmp_path_factory.mktemp("text_import_home")
    csv = write_reviews(home / "reviews.csv")
    out: dict = {"home": home, "csv": csv}
    for arch in ARCHS:
        spec = ModelSpec(arch=arch, units=(16,), seq_units=(8,), heads=2)
        config = TrainConfig(data=str(csv), model=spec, epochs=8 if arch == "text" else 1, learning_rate=3e-3,
                             seed=0, name=f"{arch} reviews")
        status = run_job(jobs.create(config, home))
        assert status["state"] == "done", status.get("message")
        record = ModelStore(home).get(status["model_id"])
        path = home / f"{arch}.keras"
        path.write_bytes(record.model_file.read_bytes())
        out[arch] = {"model_id": record.model_id, "file": path}
    return out


@pytest.mark.parametrize("arch", ARCHS)
def test_a_text_model_file_is_imported_described_for_texts_and_predicts_like_the_original(
        texts: dict, home: Path, arch: str) -> None:
    record = import_model(texts[arch]["file"], home, name=f"my {arch}")
    meta = record.meta
    assert meta.modality == "text" and meta.task == "classification" and meta.arch == "imported"
    assert meta.input_shape == () and meta.output_shape == (2,) and meta.takes_texts
    assert meta.class_names == ("0", "1") and meta.class_names_known is False
    assert meta.preprocessing == {"kind": "text", "params": {"column": "text"}}
    assert meta.feature_names == ("text",) and meta.input_label() == "input: texts"
    stored = ModelStore(home).load(record.model_id)
    original = ModelStore(texts["home"]).load(texts[arch]["model_id"])
    sample = np.asarray(["the film was good", "awful dull plot", *SAMPLE_TEXTS], dtype=object)
    np.testing.assert_allclose(stored.predict_on_batch(sample), original.predict_on_batch(sample), rtol=1e-5, atol=1e-6)


def test_command_line_imports_a_text_model_with_class_names(texts: dict, home: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from dlcore.__main__ import main

    assert main(["import", str(texts["text"]["file"]), "--classes", "down,up", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["task"] == "classification" and result["class_names"] == ["down", "up"]
    assert result["input_shape"] == [] and ModelStore(home).get(result["model_id"]).meta.modality == "text"
    assert main(["import", str(texts["text"]["file"])]) == 0
    assert "input: texts" in capsys.readouterr().out
    assert main(["import", str(texts["text"]["file"]), "--classes", "a,b,c"]) == 2
    assert "3 class names given, but the model has 2 output(s)" in capsys.readouterr().err


def test_an_imported_text_model_is_explained_with_lime_as_the_original_is(
        texts: dict, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The imported model, explained on the same CSV (named with --data), gives the original's word weights."""
    from dlcore.__main__ import main

    model_id = import_model(texts["text"]["file"], home, class_names=["down", "up"]).model_id
    args = ["explain", "--method", "lime", "--samples", "300", "--seed", "3", "--top", "3", "--json"]
    assert main([*args, "--model", model_id, "--data", str(texts["csv"])]) == 0
    imported = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    monkeypatch.setenv("DLCORE_HOME", str(texts["home"]))  # where the original was trained
    assert main([*args, "--model", texts["text"]["model_id"]]) == 0, capsys.readouterr().err
    original = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert imported["method"] == "lime" and imported["algorithm"] == "lime-text"
    assert imported["class"] == original["class"]
    assert [f["feature"] for f in imported["top_features"]] == [f["feature"] for f in original["top_features"]]
    np.testing.assert_allclose(imported["values"], original["values"], atol=1e-4)
    assert {f["feature"] for f in imported["top_features"][:2]} <= set(GOOD + BAD)


def test_text_checks_before_loading_stay_as_strict(texts: dict, tmp_path: Path, home: Path) -> None:
    marker = tmp_path / "vocabulary-read"
    marker.write_text("secret\nwords\n")

    def from_file(config: dict) -> None:
        layer(config, "vectorize")["config"]["vocabulary"] = str(marker)

    refused(rewrite(texts["text"]["file"], tmp_path / "vocab.keras", from_file), home,
            "layer 'vectorize' (TextVectorization)", f"vocabulary='{str(marker)[:80]}'", "names a file")

    def lookup_from_file(config: dict) -> None:
        config["config"]["layers"].append({"module": "keras.layers", "class_name": "StringLookup",
                                           "config": {"name": "lookup", "vocabulary_path": str(marker)}})

    refused(rewrite(texts["text"]["file"], tmp_path / "lookup.keras", lookup_from_file), home,
            "layer 'lookup' (StringLookup)", "names a file")


def test_only_one_string_per_row_is_accepted_among_inputs_without_a_fixed_shape(tmp_path: Path, home: Path) -> None:
    inputs = keras.Input((2,), dtype="string", name="pair")
    words = keras.layers.StringLookup(vocabulary=["good", "bad"], output_mode="multi_hot", name="lookup")(inputs)
    path = tmp_path / "pairs.keras"
    keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(words)).save(path)
    with pytest.raises(ModelError, match=r"the text input is shaped \(2,\); .*shape=\(\), dtype='string'"):
        import_model(path, home)
    scalar = keras.Input((), name="number")
    path = tmp_path / "scalar.keras"
    keras.Model(scalar, keras.layers.Dense(1)(keras.layers.Reshape((1,))(scalar))).save(path)
    with pytest.raises(ModelError, match="is not fixed"):
        import_model(path, home)
    assert ModelStore(home).list() == []


def test_a_text_model_whose_outputs_are_not_finite_on_sample_texts_is_refused(tmp_path: Path, home: Path) -> None:
    inputs = keras.Input((), dtype="string", name="input")
    ids = keras.layers.StringLookup(vocabulary=["good", "bad"], name="lookup")(inputs)
    embedding = keras.layers.Embedding(3, 2, name="embedding")
    outputs = keras.layers.Dense(2, activation="softmax", name="out")(embedding(ids))
    embedding.set_weights([np.full((3, 2), np.inf, dtype="float32")])  # saved as they are: inf in, NaN out
    path = tmp_path / "nan.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ModelError, match="on sample texts .* NaN or infinite values"):
        import_model(path, home)
    assert ModelStore(home).list() == []
