"""Building blocks shared by the VAE and the GAN: images to features, latent codes to images.

Only built-in Keras layers are used (no ``Lambda``, no custom layers), so the saved sub-models load
under ``safe_mode=True`` with nothing but the two registered model classes.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

Shape = tuple[int, int, int]


def upsamplings(height: int, width: int, wanted: int) -> int:
    """How many stride-2 steps (at most ``wanted``) both sides can be halved by while staying whole and >= 2."""
    steps = 0
    while steps < wanted and height % 2 == 0 and width % 2 == 0 and min(height, width) // 2 >= 2:
        height, width, steps = height // 2, width // 2, steps + 1
    return steps


def image_with_labels(x, onehot, shape: Shape, name: str):
    """Stack the class vector onto the image as constant extra channels (a conditional encoder/critic)."""
    h, w, _ = shape
    n = int(onehot.shape[-1])
    planes = keras.layers.RepeatVector(h * w, name=f"{name}_repeat")(onehot)
    planes = keras.layers.Reshape((h, w, n), name=f"{name}_planes")(planes)
    return keras.layers.Concatenate(axis=-1, name=f"{name}_concat")([x, planes])


def downsample(x, shape: Shape, filters: Sequence[int], activation: str, name: str,
               dropout: float = 0.0, batch_spread: bool = False):
    """Conv blocks, stride 2 while the image halves evenly, then flattened features (dense: just flatten).
    ``batch_spread`` adds a ``MinibatchStd`` channel before the last block (a discriminator's)."""
    strided = upsamplings(shape[0], shape[1], len(filters))
    for i, f in enumerate(filters):
        if batch_spread and i == len(filters) - 1:
            x = MinibatchStd(name=f"{name}_batch_spread")(x)
        x = keras.layers.Conv2D(int(f), 4 if i < strided else 3, strides=2 if i < strided else 1,
                                padding="same", name=f"{name}_conv{i + 1}")(x)
        x = keras.layers.Activation(activation, name=f"{name}_act{i + 1}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"{name}_drop{i + 1}")(x)
    return keras.layers.Flatten(name=f"{name}_flatten")(x)


def upsample(h, shape: Shape, filters: Sequence[int], activation: str, name: str, batch_norm: bool = False):
    """From a feature vector to an image in [0, 1] (sigmoid): dense to a small map, then transposed convs.

    ``filters`` are listed from the image side (as for ``downsample``), so a decoder mirrors its encoder.
    With no filters the image comes straight from a dense layer (a dense decoder).
    """
    height, width, channels = shape
    if not filters:
        x = keras.layers.Dense(height * width * channels, activation="sigmoid", dtype="float32",
                               name=f"{name}_pixels")(h)
        return keras.layers.Reshape(shape, name=f"{name}_image")(x)
    steps = upsamplings(height, width, len(filters))
    top = list(filters)[::-1]
    sh, sw = height // 2**steps, width // 2**steps
    x = keras.layers.Dense(sh * sw * int(top[0]), name=f"{name}_project")(h)
    x = _norm_act(x, activation, batch_norm, f"{name}_project")
    x = keras.layers.Reshape((sh, sw, int(top[0])), name=f"{name}_map")(x)
    for i, f in enumerate(top):
        up = i >= len(top) - steps  # the last `steps` blocks double the size
        layer = keras.layers.Conv2DTranspose if up else keras.layers.Conv2D
        x = layer(int(f), 4 if up else 3, strides=2 if up else 1, padding="same", name=f"{name}_deconv{i + 1}")(x)
        x = _norm_act(x, activation, batch_norm, f"{name}_deconv{i + 1}")
    return keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid", dtype="float32",
                               name=f"{name}_image")(x)


def dense_stack(x, units: Sequence[int], activation: str, name: str, batch_norm: bool = False):
    """Dense layers with an activation (and batch norm when asked)."""
    for i, u in enumerate(units):
        x = keras.layers.Dense(int(u), name=f"{name}_dense{i + 1}")(x)
        x = _norm_act(x, activation, batch_norm, f"{name}_dense{i + 1}")
    return x


def _norm_act(x, activation: str, batch_norm: bool, name: str):
    if batch_norm:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.Activation(activation, name=f"{name}_act")(x)


@keras.saving.register_keras_serializable(package="dlcore")
class MinibatchStd(keras.layers.Layer):
    """Appends one channel holding how much the batch varies (the mean standard deviation of every
    feature over the batch), so the discriminator can tell a batch of near-identical images, a collapsed
    generator, from real ones (minibatch standard deviation, as in progressive GANs)."""

    def call(self, x: Any) -> Any:
        spread = keras.ops.mean(keras.ops.std(x, axis=0))
        shape = keras.ops.shape(x)
        plane = keras.ops.ones((shape[0], shape[1], shape[2], 1), dtype=x.dtype) * keras.ops.cast(spread, x.dtype)
        return keras.ops.concatenate([x, plane], axis=-1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], input_shape[-1] + 1)
