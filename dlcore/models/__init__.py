"""Model specs (no Keras import) and builders (import Keras on first use)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dlcore.models.spec import ACTIVATIONS, CELLS, DISTRIBUTE, OPTIMIZERS, ModelSpec, TrainConfig

if TYPE_CHECKING:
    import keras

    from dlcore.data.dataset import Dataset

ARCHITECTURES = ("mlp", "cnn", "text", "rnn", "transformer")
# Architectures that take only some modalities; the others take any numeric input.
MODALITIES = {"cnn": ("image",), "text": ("text",), "rnn": ("text", "sequence", "image"),
              "transformer": ("text", "sequence", "image")}
NUMERIC_MODALITIES = ("tabular", "image", "sequence")
DEFAULT_ARCHITECTURE = {"image": "cnn", "text": "text", "sequence": "rnn"}


def architectures_for(modality: str) -> list[str]:
    """The architectures that can train on data of ``modality``."""
    return [a for a in ARCHITECTURES if modality in MODALITIES.get(a, NUMERIC_MODALITIES)]


def default_architecture(modality: str) -> str:
    """The architecture offered first for data of ``modality`` (mlp for tables)."""
    return DEFAULT_ARCHITECTURE.get(modality, "mlp")


def build_model(spec: ModelSpec, dataset: Dataset) -> keras.Model:
    """Build an uncompiled Keras model for ``dataset`` (imports Keras)."""
    from dlcore.models.builders import build_model as _build

    return _build(spec, dataset)


def compile_model(model: Any, config: TrainConfig, task: str) -> None:
    """Compile with the config's optimizer and the task's loss and metric (logged as Keras names them)."""
    import keras

    opt: keras.optimizers.Optimizer
    if config.optimizer == "sgd":
        opt = keras.optimizers.SGD(config.learning_rate, momentum=config.momentum)
    elif config.optimizer == "rmsprop":
        opt = keras.optimizers.RMSprop(config.learning_rate)
    else:
        opt = keras.optimizers.Adam(config.learning_rate)
    if task == "classification":
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    else:
        model.compile(optimizer=opt, loss="mse", metrics=["mae"])


__all__ = ["ACTIVATIONS", "ARCHITECTURES", "CELLS", "DISTRIBUTE", "MODALITIES", "OPTIMIZERS", "ModelSpec",
           "TrainConfig", "architectures_for", "build_model", "compile_model", "default_architecture"]
