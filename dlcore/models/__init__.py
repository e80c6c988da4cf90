"""Model specs and the architecture catalog (no Keras import), and the builders (Keras, on first use)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dlcore.models.catalog import (
    Architecture,
    architecture,
    architecture_help,
    architectures,
    architectures_for,
    default_architecture,
    generative_architectures,
    trainable_architectures,
)
from dlcore.models.spec import ACTIVATIONS, CELLS, DISTRIBUTE, OPTIMIZERS, ModelSpec, TrainConfig

if TYPE_CHECKING:
    import keras

    from dlcore.data.dataset import Dataset

ARCHITECTURES = trainable_architectures()  # classifiers and regressors; generative ones: generative_architectures()


def build_model(spec: ModelSpec, dataset: Dataset) -> keras.Model:
    """Build an uncompiled Keras model of architecture ``spec.arch`` for ``dataset``'s inputs and task (imports
    Keras and the builders)."""
    from dlcore.models import builders, sequence  # noqa: F401  each registers its architectures

    if spec.arch not in builders.BUILDERS:
        from dlcore.errors import ModelError

        raise ModelError(f"unknown architecture {spec.arch!r}; choose one of {', '.join(builders.BUILDERS)}")
    return builders.BUILDERS[spec.arch](spec, dataset)


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


__all__ = ["ACTIVATIONS", "ARCHITECTURES", "CELLS", "DISTRIBUTE", "OPTIMIZERS", "Architecture", "ModelSpec",
           "TrainConfig", "architecture", "architecture_help", "architectures", "architectures_for", "build_model",
           "compile_model", "default_architecture", "generative_architectures", "trainable_architectures"]
