"""A small CNN on the built-in digits, trained in the tests that need a real image model."""
from __future__ import annotations

from typing import Any


def digits_cnn(epochs: int) -> tuple[Any, Any]:
    """A CNN (8 filters, dense 16) trained ``epochs`` epochs on the built-in digits (8x8, 10 classes), seed 0;
    the model and the data set."""
    import keras

    from dlcore.data import load_builtin
    from dlcore.models import ModelSpec, TrainConfig, build_model, compile_model

    ds = load_builtin("digits")
    keras.utils.set_random_seed(0)
    config = TrainConfig(data="digits", model=ModelSpec(arch="cnn", filters=(8,), units=(16,)), epochs=epochs,
                         seed=0, learning_rate=3e-3)
    model = build_model(config.model, ds)
    compile_model(model, config, ds.task)
    model.fit(ds.x_train, ds.y_train, epochs=epochs, batch_size=32, verbose=0)
    return model, ds
