"""Builders: every architecture and knob builds, trains a step, and follows the task."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from dlcore.data import load_builtin
from dlcore.errors import ModelError
from dlcore.models import ACTIVATIONS, ModelSpec, TrainConfig, build_model, compile_model


@pytest.fixture(scope="module")
def digits():
    return load_builtin("digits")


@pytest.fixture(scope="module")
def diabetes():
    return load_builtin("diabetes")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_cnn_with_every_activation_trains_one_step(digits, activation: str) -> None:
    spec = ModelSpec(arch="cnn", filters=(4,), units=(8,), activation=activation, dropout=0.2, batch_norm=True, l2=1e-4)
    model = build_model(spec, digits)
    compile_model(model, TrainConfig(data="digits", model=spec), digits.task)
    assert model.output_shape == (None, 10)
    logs = model.train_on_batch(digits.x_train[:16], digits.y_train[:16], return_dict=True)
    assert np.isfinite(logs["loss"]) and "accuracy" in logs
    probs = model.predict(digits.x_val[:5], verbose=0)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_knobs_become_layers(digits) -> None:
    spec = ModelSpec(arch="mlp", units=(32, 16, 8), dropout=0.3, batch_norm=True, l1=1e-3, l2=1e-3)
    model = build_model(spec, digits)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Dense") == 4 and kinds.count("BatchNormalization") == 3 and kinds.count("Dropout") == 3
    assert model.get_layer("block1_dense").kernel_regularizer is not None
    assert len(model.losses) == 3  # one L1/L2 penalty per hidden dense layer


@pytest.mark.parametrize("optimizer,cls", [("adam", "Adam"), ("sgd", "SGD"), ("rmsprop", "RMSprop")])
def test_optimizer_and_learning_rate(digits, optimizer: str, cls: str) -> None:
    cfg = TrainConfig(data="digits", optimizer=optimizer, learning_rate=0.0123)
    model = build_model(cfg.model, digits)
    compile_model(model, cfg, digits.task)
    assert type(model.optimizer).__name__ == cls
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.0123)


def test_regression_head_speaks_in_target_units(diabetes) -> None:
    keras.utils.set_random_seed(0)
    model = build_model(ModelSpec(units=(16,)), diabetes)
    compile_model(model, TrainConfig(data="diabetes"), diabetes.task)
    assert model.output_shape == (None, 1)
    head = model.get_layer("output").get_config()  # the network predicts a standardised target
    assert head["offset"] == pytest.approx(float(diabetes.y_train.mean()), rel=1e-5)
    assert head["scale"] == pytest.approx(float(diabetes.y_train.std()), rel=1e-5)
    model.fit(diabetes.x_train, diabetes.y_train, epochs=40, verbose=0)
    mae = np.abs(model.predict(diabetes.x_val, verbose=0).ravel() - diabetes.y_val).mean()
    baseline = np.abs(diabetes.y_val - diabetes.y_train.mean()).mean()
    assert mae < 0.85 * baseline


def test_cnn_refuses_tables_with_the_fix(diabetes) -> None:
    with pytest.raises(ModelError, match="choose mlp"):
        build_model(ModelSpec(arch="cnn"), diabetes)


@pytest.mark.parametrize("kwargs,match", [
    ({"activation": "swish2"}, "activation"), ({"dropout": 1.0}, "dropout"), ({"l2": -1.0}, "L2"),
    ({"units": (0,)}, "positive"),
])
def test_bad_specs_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        ModelSpec(**kwargs)


def test_config_round_trips_through_json() -> None:
    import json

    cfg = TrainConfig(data="iris", model=ModelSpec(arch="mlp", units=(5, 3), dropout=0.1), epochs=3, seed=7)
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert TrainConfig.from_dict({**cfg.to_dict(), "added_later": 1}) == cfg


def test_texts_without_words_give_finite_predictions_even_without_onednn(tmp_path) -> None:
    """Averaging the words of a text with none is 0/0; oneDNN (on by default on x86 CPUs) happens to hide
    that, GPUs do not. The check runs with oneDNN off, in a process of its own (the switch is read at import)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.text_support import write_reviews

    csv = write_reviews(tmp_path / "reviews.csv")
    script = f"""
import keras, numpy as np
from dlcore.data.upload import load_file
from dlcore.models import ModelSpec, build_model
ds = load_file({str(csv)!r})
texts = np.array(["", "!!! ...", "great lovely"], dtype=object)
for arch in ("text", "rnn", "transformer"):
    model = build_model(ModelSpec(arch=arch, units=(8,), seq_units=(8,), heads=1), ds)
    model.save({str(tmp_path)!r} + "/m.keras")
    again = keras.saving.load_model({str(tmp_path)!r} + "/m.keras", safe_mode=True, compile=False)
    p = again.predict(texts, verbose=0)
    assert np.isfinite(p).all() and np.allclose(p.sum(axis=1), 1, atol=1e-5), (arch, p)
print("finite")
"""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONPATH": str(root)}
    run = subprocess.run([sys.executable, "-c", script], env=env, cwd=root, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip().endswith("finite"), run.stderr[-2000:]


def test_every_architecture_is_listed_once_and_each_trainable_one_has_its_builder() -> None:
    from dlcore.commands.train import layer_defaults
    from dlcore.models import (
        architecture,
        architecture_help,
        architectures,
        architectures_for,
        generative_architectures,
        trainable_architectures,
    )
    from dlcore.models.builders import BUILDERS, register
    from dlcore.models.spec import GENERATIVE

    names = architectures()
    assert names == ("mlp", "cnn", "text", "rnn", "transformer", "vae", "gan") and len(set(names)) == len(names)
    assert generative_architectures() == GENERATIVE == ("vae", "gan")
    assert set(BUILDERS) == set(trainable_architectures()) == set(names) - set(GENERATIVE)
    assert architectures_for("image") == ["mlp", "cnn", "rnn", "transformer"]  # never a generative one
    assert architecture_help().startswith("mlp: dense layers; cnn: convolution blocks for images; text: ")
    assert "vae: " in architecture_help(generative=True) and "mlp" not in architecture_help(generative=True)
    assert layer_defaults("vae") == ((128,), (32, 64)) and layer_defaults("gan") == ((), (32, 64))
    assert layer_defaults("rnn") == layer_defaults("unknown") == (ModelSpec().units, ModelSpec().filters)
    with pytest.raises(ModelError, match="unknown architecture 'resnet'; choose one of mlp, cnn"):
        architecture("resnet")
    with pytest.raises(ValueError, match="not a classifier or regressor architecture"):
        register("vae")  # generative models are not built by the builders
    with pytest.raises(ModelError, match="unknown architecture 'gan'; choose one of mlp, cnn, text, rnn, transformer"):
        build_model(ModelSpec(arch="gan"), load_builtin("digits"))
