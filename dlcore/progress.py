"""A terminal progress bar for training, fed by a Keras callback (progress leaves training only there)."""
from __future__ import annotations

import sys
from typing import Any

import keras


class EpochBar(keras.callbacks.Callback):
    """One tqdm bar over epochs on stderr, with the latest metrics as its postfix."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs
        self.bar: Any = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        from tqdm import tqdm

        start = int(getattr(self.model, "_initial_epoch", None) or 0)
        self.bar = tqdm(total=self.epochs, initial=start, unit="epoch", file=sys.stderr, dynamic_ncols=True)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.bar is not None:
            self.bar.set_postfix({k: f"{float(v):.4g}" for k, v in (logs or {}).items()}, refresh=False)
            self.bar.update(1)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.bar is not None:
            self.bar.close()
