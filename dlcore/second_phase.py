"""The optional second phase of a fine-tuning job (``dlcore.finetune``): the last ``fine_epochs`` epochs
unfreeze the top ``unfreeze`` frozen layers with weights and train at ``fine_learning_rate``. Batch-norm
layers stay frozen, in inference mode.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from dlcore.checkpoint import saved_epoch
from dlcore.finetune import head_layer_index
from dlcore.models.spec import TrainConfig


def unfreeze_top(model: Any, k: int, head_start: int) -> list[str]:
    """Unfreeze the top ``k`` frozen layers with weights below the head; batch norm stays frozen."""
    frozen = [layer for layer in model.layers[:head_start]
              if layer.weights and not layer.trainable and not layer.name.startswith("adapt_")
              and not isinstance(layer, keras.layers.BatchNormalization)]
    chosen = frozen[-k:] if k > 0 else []
    for layer in chosen:
        layer.trainable = True
    return [layer.name for layer in chosen]

class SecondPhase(keras.callbacks.Callback):
    """At the start of the second phase: unfreeze the top layers and switch to the lower learning rate.

    A resumed job that was already in its second phase switches before ``BackupAndRestore`` restores the
    weights, so the optimizer it restores has the same variables as the one that was saved.
    """

    def __init__(self, config: TrainConfig, backup_dir: Path) -> None:
        super().__init__()
        assert config.finetune is not None
        self.spec, self.backup_dir = config.finetune, Path(backup_dir)
        self.start = config.epochs - config.finetune.fine_epochs
        self.unfrozen: list[str] | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        if saved_epoch(self.backup_dir) >= self.start:
            self.switch()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch >= self.start and self.unfrozen is None:
            self.switch()

    def switch(self) -> None:
        model = self.model
        self.unfrozen = unfreeze_top(model, self.spec.unfreeze, _head_index(model))
        old = model.optimizer
        inner = getattr(old, "inner_optimizer", old)  # a LossScaleOptimizer under mixed precision
        new = type(inner).from_config({**inner.get_config(), "learning_rate": self.spec.fine_learning_rate})
        if inner is not old:
            new = keras.optimizers.LossScaleOptimizer(new)
        with model.distribute_strategy.scope():
            new.build(model.trainable_variables)
        model.optimizer = new
        model.make_train_function(force=True)


def _head_index(model: Any) -> int:
    """Where the head of an adapted model starts: its first head layer by name, else its last with weights."""
    names = [layer.name for layer in model.layers]
    for name in ("head_pool", "head_flatten", "output_standardised", "output"):
        if name in names:
            return names.index(name)
    return head_layer_index(model)


def phase_callbacks(config: TrainConfig, backup_dir: Path) -> list[keras.callbacks.Callback]:
    """The callbacks a fine-tuning job adds (its kind, ``dlcore.kinds``, puts them ahead of the job's own)."""
    spec = config.finetune
    return [SecondPhase(config, backup_dir)] if spec is not None and spec.fine_epochs > 0 else []
