"""rnn and transformer: each learns an easy task on every modality it reads, reloads safely, refuses tables."""
from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from dlcore.data import load_builtin
from dlcore.data.upload import load_file
from dlcore.errors import ModelError
from dlcore.models import ModelSpec, TrainConfig, architectures_for, build_model, compile_model, default_architecture
from dlcore.safe_import import check_model_file

SEQUENCE_ARCHS = ("rnn", "transformer")


def keyword_texts(path: Path, n: int = 150, seed: int = 0) -> Path:
    """A CSV of short texts whose class is decided by one keyword among filler words."""
    rng = np.random.default_rng(seed)
    keywords = {"sport": "goal match team", "food": "soup bread cake", "music": "song drum guitar"}
    filler = "the a was it very and then later quite some of on".split()
    lines = ["text,topic"]
    for i in range(n):
        topic = list(keywords)[i % 3]
        words = [*rng.choice(filler, 7), rng.choice(keywords[topic].split())]
        rng.shuffle(words)
        lines.append(f"{' '.join(words)},{topic}")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def bump_sequences(path: Path, n: int = 240, steps: int = 24, seed: int = 0) -> Path:
    """An NPZ of noisy 2-feature sequences; the class is where a bump in the first feature sits (early, middle,
    late), so only a model that knows the order of the steps can tell the classes apart."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(0.0, 0.3, size=(n, steps, 2)).astype(np.float32)
    for i, cls in enumerate(y):
        start = cls * steps // 3 + int(rng.integers(0, steps // 3 - 3))
        x[i, start:start + 3, 0] += 2.0
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("sequence_data")
    return {"image": load_builtin("digits"), "text": load_file(str(keyword_texts(folder / "topics.csv"))),
            "sequence": load_file(str(bump_sequences(folder / "bumps.npz")))}


# (arch, modality): the knobs, epochs, learning rate and the validation accuracy it must reach (chance: 1/3 or 1/10)
CASES = {
    ("rnn", "image"): (ModelSpec(arch="rnn", seq_units=(32,), units=(32,)), 3, 3e-3, 0.75),
    ("rnn", "text"): (ModelSpec(arch="rnn", cell="gru", seq_units=(16,), units=(16,)), 4, 1e-2, 0.8),
    ("rnn", "sequence"): (ModelSpec(arch="rnn", seq_units=(16,), units=(16,), bidirectional=True), 3, 1e-2, 0.8),
    ("transformer", "image"): (ModelSpec(arch="transformer", seq_units=(32,), units=(32,)), 3, 3e-3, 0.75),
    ("transformer", "text"): (ModelSpec(arch="transformer", seq_units=(16,), units=(16,), heads=2), 4, 1e-2, 0.8),
    ("transformer", "sequence"): (ModelSpec(arch="transformer", seq_units=(16,), units=(16,), heads=1), 5, 1e-2, 0.8),
}


@pytest.mark.slow
@pytest.mark.parametrize("arch,modality", list(CASES), ids=[f"{a}-{m}" for a, m in CASES])
def test_learns_and_reloads_with_safe_mode(data: dict, tmp_path: Path, arch: str, modality: str) -> None:
    spec, epochs, lr, wanted = CASES[arch, modality]
    ds = data[modality]
    keras.utils.set_random_seed(0)
    model = build_model(spec, ds)
    compile_model(model, TrainConfig(data=ds.name, model=spec, learning_rate=lr), ds.task)
    history = model.fit(ds.x_train, ds.y_train, validation_data=(ds.x_val, ds.y_val), epochs=epochs,
                        batch_size=16, verbose=0)
    accuracy = history.history["val_accuracy"][-1]
    assert accuracy >= wanted, (arch, modality, history.history["val_accuracy"])
    path = tmp_path / "model.keras"
    model.save(path)
    layers = {n["class_name"] for n in check_model_file(path)["config"]["config"]["layers"]}
    assert layers & {"rnn": {"LSTM", "GRU", "Bidirectional"}, "transformer": {"MultiHeadAttention"}}[arch]
    again = keras.saving.load_model(path, safe_mode=True, compile=False)
    np.testing.assert_allclose(again.predict(ds.x_val[:8], verbose=0), model.predict(ds.x_val[:8], verbose=0),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method,options", [("shap", {"algorithm": "gradient", "nsamples": 20}),
                                            ("lime", {"num_samples": 60, "segmentation": "grid", "cell": 2})])
def test_an_rnn_reading_image_rows_is_explained_like_any_image_model(data: dict, method: str, options: dict) -> None:
    from dlcore.explain import explain

    ds = data["image"]
    keras.utils.set_random_seed(0)
    spec = ModelSpec(arch="rnn", seq_units=(16,), units=(16,))
    model = build_model(spec, ds)
    compile_model(model, TrainConfig(data="digits", model=spec, learning_rate=3e-3), ds.task)
    model.fit(ds.x_train, ds.y_train, epochs=2, batch_size=32, verbose=0)
    attr = explain(model, ds.x_val[:2], method, background=ds.x_train[:20], seed=0, **options)
    assert attr.values.shape == (2, 8, 8, 1) and np.isfinite(attr.values).all()
    assert (np.abs(attr.values).reshape(2, -1).max(axis=1) > 0).all()  # every image got some attribution
    assert list(attr.targets) == list(model.predict(ds.x_val[:2], verbose=0).argmax(axis=1))


@pytest.mark.parametrize("arch", ("text", *SEQUENCE_ARCHS))
def test_padding_is_masked_for_texts(data: dict, arch: str) -> None:
    """Whatever the padding token's embedding holds, the predictions do not change."""
    ds = data["text"]
    keras.utils.set_random_seed(0)
    model = build_model(ModelSpec(arch=arch, seq_units=(8,), units=(8,), heads=2), ds)
    before = model.predict(ds.x_val[:6], verbose=0)
    table = model.get_layer("embedding").embeddings
    table.assign(np.concatenate([np.full((1, table.shape[1]), 5.0), table.numpy()[1:]]).astype("float32"))
    np.testing.assert_allclose(model.predict(ds.x_val[:6], verbose=0), before, rtol=1e-5, atol=1e-6)


def test_the_bag_of_words_text_model_passes_the_safe_importer(data: dict, tmp_path: Path) -> None:
    """Its padding mask is a layer's output, not Keras' implicit mask ops, which the importer refuses."""
    ds = data["text"]
    model = build_model(ModelSpec(arch="text", units=(8,)), ds)
    model.save(tmp_path / "text.keras")
    layers = {n["class_name"] for n in check_model_file(tmp_path / "text.keras")["config"]["config"]["layers"]}
    assert "Discretization" in layers and "NotEqual" not in layers
    again = keras.saving.load_model(tmp_path / "text.keras", safe_mode=True, compile=False)
    np.testing.assert_allclose(again.predict(ds.x_val[:4], verbose=0), model.predict(ds.x_val[:4], verbose=0),
                               rtol=1e-5)


@pytest.mark.parametrize("arch", SEQUENCE_ARCHS)
def test_tables_are_refused_with_the_fix(arch: str) -> None:
    with pytest.raises(ModelError, match=r"choose mlp$") as caught:
        build_model(ModelSpec(arch=arch), load_builtin("iris"))
    assert "\n" not in str(caught.value) and "is a table" in str(caught.value)


def test_rnn_knobs_become_layers(data: dict) -> None:
    spec = ModelSpec(arch="rnn", cell="gru", seq_units=(12, 6), units=(8,), bidirectional=True, batch_norm=True,
                     dropout=0.2, l2=1e-3)
    model = build_model(spec, data["image"])
    assert model.get_layer("rows").output.shape[1:] == (8, 8)  # eight rows of eight pixels
    first, second = model.get_layer("bigru1"), model.get_layer("bigru2")
    assert type(first.forward_layer).__name__ == "GRU" and first.forward_layer.units == 12
    assert first.forward_layer.return_sequences and not second.forward_layer.return_sequences
    assert first.output.shape[-1] == 24 and second.forward_layer.dropout == 0.2  # both directions
    assert {"gru1_bn", "gru2_bn", "dense1_bn"} <= {layer.name for layer in model.layers}
    assert first.forward_layer.cell.kernel_regularizer is not None
    assert len(model.losses) == 2 * 2 * 2 + 1  # kernel and recurrent penalty, 2 directions, 2 layers; dense


def test_transformer_knobs_become_layers(data: dict) -> None:
    spec = ModelSpec(arch="transformer", seq_units=(16, 24), heads=2, patch=2, units=(8,))
    model = build_model(spec, data["image"])
    assert model.get_layer("patches").output.shape[1:] == (16, 4)  # 8x8 digits: sixteen 2x2 patches
    assert model.get_layer("embed").bias.shape == (16, 16)  # one learned vector per position
    attention = model.get_layer("block2_attention")
    assert attention.num_heads == 2 and attention.key_dim == 12
    assert model.get_layer("block2_project").units == 24 and model.output_shape == (None, 10)
    rows = build_model(ModelSpec(arch="transformer", seq_units=(16,)), data["image"])
    assert rows.get_layer("embed").bias.shape == (8, 16)  # rows as tokens
    with pytest.raises(ModelError, match="patches of 3x3 do not tile 8x8 images"):
        build_model(ModelSpec(arch="transformer", patch=3), data["image"])


def test_patches_keep_each_square_together(data: dict) -> None:
    model = build_model(ModelSpec(arch="transformer", seq_units=(8,), patch=4, units=(4,)), data["image"])
    cut = keras.Model(model.input, model.get_layer("patches").output)
    image = np.arange(64, dtype="float32").reshape(1, 8, 8, 1)
    tokens = cut.predict(image, verbose=0)[0]
    np.testing.assert_array_equal(tokens[1], image[0, :4, 4:, 0].ravel())  # top-right square, row by row
    np.testing.assert_array_equal(tokens[2], image[0, 4:, :4, 0].ravel())  # bottom-left


def test_architectures_offered_per_modality() -> None:
    assert architectures_for("image") == ["mlp", "cnn", "rnn", "transformer"]
    assert architectures_for("text") == ["text", "rnn", "transformer"]
    assert architectures_for("sequence") == ["mlp", "rnn", "transformer"]
    assert architectures_for("tabular") == ["mlp"]
    assert [default_architecture(m) for m in ("image", "text", "sequence", "tabular")] == ["cnn", "text", "rnn", "mlp"]


@pytest.mark.parametrize("kwargs,match", [({"cell": "elman"}, "recurrent cell"), ({"heads": 0}, "heads"),
                                          ({"patch": -1}, "patch"), ({"seq_units": (0,)}, "positive")])
def test_bad_sequence_knobs_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        ModelSpec(**kwargs)


def test_sequence_knobs_round_trip_and_old_configs_load() -> None:
    spec = ModelSpec(arch="rnn", seq_units=(32, 16), cell="gru", bidirectional=True, heads=2, patch=4)
    cfg = TrainConfig(data="digits", model=spec)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    old = {"data": "digits", "model": {"arch": "cnn", "units": [64, 32], "filters": [16, 32]}, "epochs": 3}
    loaded = TrainConfig.from_dict(old)
    assert loaded.model.seq_units == (64,) and loaded.model.cell == "lstm" and loaded.model.heads == 4


def test_cli_trains_an_rnn_on_digits(home: Path, capsys: pytest.CaptureFixture) -> None:
    from dlcore.__main__ import main

    code = main(["train", "--data", "digits", "--arch", "rnn", "--cell", "gru", "--seq-units", "32", "--units", "32",
                 "--epochs", "2", "--lr", "0.003", "--json"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and result["epochs"] == 2 and result["metrics"]["val_accuracy"] > 0.3  # chance: 0.1
    meta = json.loads((home / "models" / result["model_id"] / "meta.json").read_text())
    spec = meta["config"]["model"]
    assert (meta["arch"], spec["cell"], spec["seq_units"]) == ("rnn", "gru", [32])
    check_model_file(result["path"])


def test_cli_refuses_a_transformer_on_a_table(home: Path, capsys: pytest.CaptureFixture) -> None:
    from dlcore.__main__ import main

    assert main(["train", "--data", "iris", "--arch", "transformer", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("choose mlp") and "\n" not in err
