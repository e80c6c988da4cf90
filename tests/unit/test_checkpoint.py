"""The per-epoch checkpoint: weights, optimizer state and epoch come back exactly; a misfit is refused."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from dlcore.checkpoint import CHECKPOINT_FILE, EpochCheckpoint, saved_epoch
from dlcore.errors import JobError


def _trained(units: int = 4, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    x = np.random.default_rng(seed).normal(size=(32, 3)).astype("float32")
    model.fit(x, x[:, :2], epochs=2, verbose=0)
    return model


def test_weights_optimizer_state_and_epoch_round_trip(tmp_path) -> None:
    saved = _trained()
    cb = EpochCheckpoint(tmp_path)
    cb.set_model(saved)
    cb._current_epoch = 7
    cb._save_model()
    assert saved_epoch(tmp_path) == 7 and (tmp_path / CHECKPOINT_FILE).is_file()
    assert not list(tmp_path.glob(".*"))  # the temporary file was moved into place

    fresh = _trained(seed=1)  # same architecture, other weights and optimizer moments
    restore = EpochCheckpoint(tmp_path)
    restore.set_model(fresh)
    restore.on_train_begin()
    assert fresh._initial_epoch == 7
    for a, b in zip(saved.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(saved.optimizer.variables, fresh.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert int(fresh.optimizer.iterations.numpy()) == int(saved.optimizer.iterations.numpy()) > 0


def test_a_checkpoint_of_another_model_is_refused_with_the_fix(tmp_path) -> None:
    cb = EpochCheckpoint(tmp_path)
    cb.set_model(_trained(units=4))
    cb._current_epoch = 1
    cb._save_model()
    other = EpochCheckpoint(tmp_path)
    other.set_model(_trained(units=5))
    with pytest.raises(JobError, match="start a new job"):
        other.on_train_begin()


def test_no_checkpoint_means_epoch_zero(tmp_path) -> None:
    assert saved_epoch(tmp_path) == 0
    model = _trained()
    cb = EpochCheckpoint(tmp_path)
    cb.set_model(model)
    cb.on_train_begin()
    assert getattr(model, "_initial_epoch", None) in (None, 0)
