"""The job's checkpoint when several workers train one model: the chief's state on every worker.

Only the chief keeps a checkpoint worth resuming from (the others write theirs to a temporary folder), and
a worker killed between two epoch ends may hold an older one than the chief. So when training begins, every
worker takes the chief's weights, optimizer state and epoch, sent with one all-reduce: the workers start in
step on any machine, whether or not it shares a disk with the chief.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from dlcore.checkpoint import EpochCheckpoint
from dlcore.distributed import broadcast_from_chief, is_chief, task


class ChiefCheckpoint(EpochCheckpoint):
    """``EpochCheckpoint``; under a multi-worker cluster the chief restores and the others copy it."""

    def _load_model(self) -> None:
        if task() is None or not isinstance(self.model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            super()._load_model()
            return
        if is_chief():
            super()._load_model()
        opt = self.model.optimizer
        if opt is not None and not opt.built:
            opt.build(self.model.trainable_variables)
        weights = self.model.get_weights()
        variables = self.optimizer_variables()
        epoch = np.array([getattr(self.model, "_initial_epoch", None) or 0], np.int64)
        arrays = [*weights, *(keras.ops.convert_to_numpy(v.value) for v in variables), epoch]
        synced = broadcast_from_chief(self.model.distribute_strategy, arrays)
        self.model.set_weights(synced[:len(weights)])
        for var, value in zip(variables, synced[len(weights):-1]):
            var.assign(value)
        self.model._initial_epoch = int(synced[-1][0])
