"""What the VAE and the GAN share: shapes, the class given as a one-hot vector, noise and loss trackers."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf


def unpack(data: Any) -> tuple[Any, Any]:
    """Images and labels of a training batch (labels ``None`` when fit without them)."""
    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    return x, y


class GenerativeModel(keras.Model):
    """Base of the generative models: images shaped ``image_shape`` in [0, 1], a latent code of
    ``latent_dim`` numbers, and ``n_classes`` > 0 for a conditional model (the class is given as a
    one-hot, or mixed, vector next to the image or the code). Subclasses build their networks, then call
    ``_finish_init`` with the names of the values they log."""

    kind = ""

    def __init__(self, image_shape: Sequence[int], latent_dim: int, n_classes: int, filters: Sequence[int],
                 units: Sequence[int], seed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.image_shape = tuple(int(v) for v in image_shape)
        self.latent_dim, self.n_classes, self.seed = int(latent_dim), int(n_classes), int(seed)
        self.filters, self.units = tuple(int(f) for f in filters), tuple(int(u) for u in units)

    def _finish_init(self, logged: Sequence[str]) -> None:
        self.noise = keras.random.SeedGenerator(self.seed)
        self.trackers = {k: keras.metrics.Mean(name=k) for k in logged}
        self.built = True  # the sub-models are built; BackupAndRestore and loading need a built model

    def _inputs(self, shape: Sequence[int], name: str) -> tuple[Any, Any, Any]:
        """A network's inputs: a tensor shaped ``shape`` and, when conditional, the class vector. Returns
        what ``keras.Model`` takes as inputs, the tensor, and the class vector (or None)."""
        first = keras.Input(shape=tuple(shape), name=name)
        if not self.n_classes:
            return first, first, None
        label = keras.Input(shape=(self.n_classes,), name="label")
        return [first, label], first, label

    def _with_label(self, x: Any, onehot: Any) -> Any:
        return [x, onehot] if self.n_classes else x

    def onehot(self, y: Any) -> Any:
        """Integer labels as one-hot vectors (``None`` for an unconditional model)."""
        if not self.n_classes:
            return None
        return keras.ops.one_hot(keras.ops.reshape(keras.ops.cast(y, "int32"), (-1,)), self.n_classes)

    def decode(self, z: Any, onehot: Any = None, training: bool = False) -> Any:
        """Images in [0, 1] for latent codes ``z`` (and classes ``onehot`` when conditional)."""
        raise NotImplementedError

    @staticmethod
    def _scaled(optimizer: keras.optimizers.Optimizer, loss: Any) -> Any:
        """The loss to differentiate (computed inside the tape): scaled for mixed precision, and divided by
        the number of replicas, whose gradients a strategy sums (as Keras does in its own train_step)."""
        return optimizer.scale_loss(loss / tf.distribute.get_strategy().num_replicas_in_sync)

    @staticmethod
    def _apply(optimizer: keras.optimizers.Optimizer, tape: tf.GradientTape, scaled: Any, variables: list) -> None:
        optimizer.apply(tape.gradient(scaled, variables), variables)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def _record(self, values: dict[str, Any]) -> dict[str, Any]:
        for key, tracker in self.trackers.items():
            tracker.update_state(values[key])
        return {key: tracker.result() for key, tracker in self.trackers.items()}

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "image_shape": list(self.image_shape),
                "latent_dim": self.latent_dim, "n_classes": self.n_classes, "filters": list(self.filters),
                "units": list(self.units), "seed": self.seed}
