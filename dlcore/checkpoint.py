"""The per-epoch checkpoint that lets a killed job resume: Keras' BackupAndRestore, stored faster.

Keras' own ``BackupAndRestore`` writes the model and optimizer with ``save_weights`` (about 20 ms an epoch
for a small CNN, most of it per-layer Python work, more than the epoch's other bookkeeping together) and
copies the previous file for safety. This subclass keeps Keras' logic (when to save, the initial epoch on
resume, clean-up at the end) and stores the same arrays, weights and optimizer state, as one ``.npz``
replaced atomically, so a kill at any moment leaves the previous checkpoint whole (about 2 ms an epoch).
"""
from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np

from dlcore.errors import JobError

CHECKPOINT_FILE = "checkpoint.npz"


def saved_epoch(backup_dir: str | os.PathLike[str]) -> int:
    """The number of epochs the checkpoint in ``backup_dir`` has finished (0 when there is none)."""
    try:
        with np.load(Path(backup_dir) / CHECKPOINT_FILE, allow_pickle=False) as data:
            return int(data["epoch"])
    except (FileNotFoundError, KeyError, ValueError, OSError):
        return 0


class EpochCheckpoint(keras.callbacks.BackupAndRestore):
    """Saves weights, optimizer state and the epoch at every epoch end; restores them when a job resumes."""

    async_safe = True  # its batch hook does nothing when saving once an epoch

    def __init__(self, backup_dir: str | os.PathLike[str]) -> None:
        super().__init__(str(backup_dir), save_freq="epoch", delete_checkpoint=True)
        self.path = Path(backup_dir) / CHECKPOINT_FILE

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._load_model()

    def _optimizers(self) -> list[keras.optimizers.Optimizer]:
        """``model.optimizer`` first, then any other optimizer the model holds (a GAN's discriminator's)."""
        found = [self.model.optimizer] if self.model.optimizer is not None else []
        for name in sorted(vars(self.model)):
            value = getattr(self.model, name, None)
            if isinstance(value, keras.optimizers.Optimizer) and all(value is not f for f in found):
                found.append(value)
        return found

    def optimizer_variables(self) -> list[keras.Variable]:
        """Every built optimizer's variables (the GAN has two optimizers), in a fixed order."""
        return [v for opt in self._optimizers() if opt.built for v in opt.variables]

    def _save_model(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"w{i}": w for i, w in enumerate(self.model.get_weights())}
        arrays.update({f"o{i}": keras.ops.convert_to_numpy(v.value) for i, v in enumerate(self.optimizer_variables())})
        tmp = self.path.with_name(f".{CHECKPOINT_FILE}.tmp.npz")
        np.savez(tmp, epoch=np.int64(self._current_epoch), **arrays)
        os.replace(tmp, self.path)

    def _load_model(self) -> None:
        if not self.path.is_file():
            return
        with np.load(self.path, allow_pickle=False) as data:
            names = set(data.files)
            weights = [data[f"w{i}"] for i in range(sum(n.startswith("w") for n in names))]
            opt_arrays = [data[f"o{i}"] for i in range(sum(n.startswith("o") for n in names))]
            epoch = int(data["epoch"])
        try:
            self.model.set_weights(weights)
            if opt_arrays:
                opt = self.model.optimizer
                if opt is not None and not opt.built:
                    opt.build(self.model.trainable_variables)
                variables = self.optimizer_variables()
                if len(variables) != len(opt_arrays):
                    raise ValueError(f"{len(opt_arrays)} optimizer arrays saved, {len(variables)} expected")
                for var, value in zip(variables, opt_arrays):
                    var.assign(value)
        except ValueError as exc:
            raise JobError(f"the job's checkpoint does not fit its model ({exc}); start a new job") from exc
        self.model._initial_epoch = epoch
