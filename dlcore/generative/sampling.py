"""NumPy in, NumPy out: sample, encode, decode, reconstruct and interpolate with a generative model.

These are what the page, the command line and the quality report call; the models themselves only
know tensors. Every random draw takes a ``seed``.
"""
from __future__ import annotations

from typing import Any

import keras
import numpy as np

from dlcore.errors import ModelError
from dlcore.generative.base import GenerativeModel

MAX_SAMPLES = 10_000  # one request; more would only fill memory


def as_generative(model: Any) -> GenerativeModel:
    """``model`` itself when it is one of the project's generative models, else a ModelError."""
    if not isinstance(model, GenerativeModel):
        raise ModelError(f"{getattr(model, 'name', type(model).__name__)!r} is not a generative model; "
                         "pick a model trained with --arch vae or gan")
    return model


def noise(n: int, latent_dim: int, seed: int = 0) -> np.ndarray:
    """``n`` standard normal latent codes, the same for the same seed."""
    return np.random.default_rng(seed).standard_normal((int(n), int(latent_dim))).astype(np.float32)


def default_labels(n: int, n_classes: int) -> np.ndarray:
    """Classes for ``n`` conditional samples: every class in turn, so all are equally represented."""
    return np.arange(int(n)) % max(1, int(n_classes))


def class_vectors(model: GenerativeModel, labels: Any, n: int) -> np.ndarray | None:
    """One-hot (or given mixed) class vectors for ``n`` codes; ``None`` for an unconditional model."""
    if not model.n_classes:
        return None
    if labels is None:
        labels = default_labels(n, model.n_classes)
    labels = np.asarray(labels)
    if labels.ndim == 2:
        vectors = labels.astype(np.float32)
    else:
        ints = np.broadcast_to(labels.astype(int), (n,))
        if ints.min() < 0 or ints.max() >= model.n_classes:
            raise ModelError(f"class index out of range: the model has {model.n_classes} classes "
                             f"(0..{model.n_classes - 1})")
        vectors = np.eye(model.n_classes, dtype=np.float32)[ints]
    if vectors.shape != (n, model.n_classes):
        raise ModelError(f"expected {n} class vectors of length {model.n_classes}, got shape {vectors.shape}")
    return vectors


def decode(model: Any, z: np.ndarray, labels: Any = None, batch_size: int = 512) -> np.ndarray:
    """Images (n, height, width, channels) in [0, 1] for latent codes ``z`` (classes ``labels`` if conditional)."""
    model = as_generative(model)
    z = np.asarray(z, dtype=np.float32).reshape(-1, model.latent_dim)
    onehot = class_vectors(model, labels, len(z))
    parts = []
    for start in range(0, len(z), batch_size):
        part = slice(start, start + batch_size)
        out = model.decode(z[part], None if onehot is None else onehot[part])
        parts.append(keras.ops.convert_to_numpy(out))
    images = np.concatenate(parts) if parts else np.zeros((0, *model.image_shape), np.float32)
    return np.clip(images.astype(np.float32), 0.0, 1.0)


def generate(model: Any, n: int, seed: int = 0, labels: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``n`` new images from seeded noise, and their classes (``None`` when the model is unconditional)."""
    model = as_generative(model)
    if not 1 <= int(n) <= MAX_SAMPLES:
        raise ModelError(f"ask for between 1 and {MAX_SAMPLES} samples, not {n}")
    onehot = class_vectors(model, labels, int(n))
    images = decode(model, noise(n, model.latent_dim, seed), onehot)
    return images, None if onehot is None else onehot.argmax(axis=1)


def encode(model: Any, x: np.ndarray, labels: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Latent means and log-variances of images ``x`` (a VAE only: a GAN has no encoder)."""
    model = as_generative(model)
    if not hasattr(model, "encoder"):
        raise ModelError("a GAN has no encoder, so images cannot be mapped to its latent space; use a VAE")
    x = np.asarray(x, dtype=np.float32)
    onehot = class_vectors(model, labels, len(x))
    means, log_vars = [], []
    for start in range(0, len(x), 512):  # eagerly, like decode: sizes vary from call to call
        part = slice(start, start + 512)
        mean, log_var = model.encode(x[part], None if onehot is None else onehot[part])
        means.append(keras.ops.convert_to_numpy(mean))
        log_vars.append(keras.ops.convert_to_numpy(log_var))
    if not means:
        empty = np.zeros((0, model.latent_dim), np.float32)
        return empty, empty
    return np.concatenate(means).astype(np.float32), np.concatenate(log_vars).astype(np.float32)


def reconstruct(model: Any, x: np.ndarray, labels: Any = None) -> np.ndarray:
    """Images decoded from the latent means of ``x`` (a VAE's reconstructions)."""
    mean, _ = encode(model, x, labels)
    return decode(model, mean, labels)


def interpolate(a: np.ndarray, b: np.ndarray, steps: int, spherical: bool = False) -> np.ndarray:
    """``steps`` points from ``a`` to ``b`` (both included); ``spherical`` follows the great circle, which
    keeps Gaussian noise at a typical length (the usual choice between two GAN seeds)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    t = np.linspace(0.0, 1.0, max(2, int(steps)))[:, None]
    cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) or 1.0))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if not spherical or omega < 1e-6:
        return ((1 - t) * a + t * b).astype(np.float32)
    return ((np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)).astype(np.float32)
