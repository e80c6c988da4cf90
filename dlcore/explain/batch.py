"""Checks and names shared by the explanation methods: inputs as a batch the model takes, the class explained
per row, feature and class names. Importing it imports no TensorFlow."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlcore.errors import ExplainError

METHOD_LABELS = {"shap": "SHAP", "lime": "LIME", "ig": "Integrated Gradients", "smoothgrad": "SmoothGrad",
                 "gradcam": "Grad-CAM", "occlusion": "Occlusion", "attention": "Attention"}  # method -> name for people


def as_batch(model: Any, x: Any) -> np.ndarray:
    """``x`` as a float32 batch shaped like the model's input; one input gets a batch axis."""
    if not hasattr(model, "input_shape"):
        raise ExplainError(f"{getattr(model, 'name', 'this model')!r} makes no predictions to explain (a VAE or "
                           "GAN draws images); pick a classifier or regressor (`python -m dlcore models` lists them)")
    shape = tuple(model.input_shape[1:])
    x = np.asarray(x, dtype=np.float32)
    if x.shape == shape:
        x = x[None]
    if x.shape[1:] != shape or len(x) == 0:
        raise ExplainError(f"inputs shaped {x.shape} do not fit the model's input {shape}; "
                           "pass preprocessed model inputs, batch first")
    if not np.isfinite(x).all():
        raise ExplainError("inputs contain NaN or infinity; fill the missing values first")
    return x


def targets_for(target: Any, predictions: np.ndarray) -> np.ndarray:
    """The class explained per row: the predicted one, or the class asked for."""
    n, k = predictions.shape
    if target in (None, "predicted", "all"):
        return predictions.argmax(axis=1) if k > 1 else np.zeros(n, dtype=int)
    if not 0 <= int(target) < k:
        raise ExplainError(f"target class {target} does not exist; the model has {k} output(s)")
    return np.full(n, int(target))


def feature_names_for(given: Sequence[str] | None, x: np.ndarray) -> tuple[str, ...]:
    """The given feature names, else ``pixel_r_c`` for images and ``x0, x1, ...`` for other inputs."""
    shape = x.shape[1:]
    if given is not None:
        return tuple(str(n) for n in given)
    if len(shape) == 3:
        return tuple(f"pixel_{r}_{c}" for r in range(shape[0]) for c in range(shape[1]))
    return tuple(f"x{j}" for j in range(int(np.prod(shape))))


def class_names_for(given: Sequence[str] | None, k: int) -> tuple[str, ...]:
    """The given class names, else ``prediction`` for one output and ``class 0, class 1, ...``."""
    if given:
        return tuple(str(c) for c in given)
    return ("prediction",) if k == 1 else tuple(f"class {i}" for i in range(k))
