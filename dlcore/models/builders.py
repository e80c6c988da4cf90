"""Model builders: each architecture is one function registered under its name in ``BUILDERS``.

This module builds ``mlp``, ``cnn`` and ``text``; the recurrent and attention models (``rnn``,
``transformer``) live in ``dlcore.models.sequence`` and register the same way. Both build from the shared
blocks of ``dlcore.models.blocks``; ``dlcore.models.build_model`` imports both and picks the builder.
Outputs follow the task: softmax over classes, or one unit rescaled to the target's units.
"""
from __future__ import annotations

from collections.abc import Callable

import keras

from dlcore.data.dataset import Dataset
from dlcore.errors import ModelError
from dlcore.models.blocks import dense_head, embed_words, regularizer, text_tokens, word_flags
from dlcore.models.catalog import trainable_architectures
from dlcore.models.spec import ModelSpec

Builder = Callable[[ModelSpec, Dataset], keras.Model]
BUILDERS: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    """Register a builder under an architecture name listed in ``dlcore.models.catalog`` (``mlp``, ...)."""
    if name not in trainable_architectures():
        raise ValueError(f"{name!r} is not a classifier or regressor architecture of dlcore.models.catalog")

    def wrap(fn: Builder) -> Builder:
        BUILDERS[name] = fn
        return fn

    return wrap


@register("mlp")
def build_mlp(spec: ModelSpec, dataset: Dataset) -> keras.Model:
    """Dense layers over the flattened input."""
    if dataset.modality == "text":
        raise ModelError(f"an mlp needs numbers, and {dataset.name!r} holds texts; choose text")
    inputs = keras.Input(shape=dataset.input_shape, name="input")
    x = keras.layers.Flatten(name="flatten")(inputs) if len(dataset.input_shape) > 1 else inputs
    return keras.Model(inputs, dense_head(x, spec, dataset), name="mlp")


@register("cnn")
def build_cnn(spec: ModelSpec, dataset: Dataset) -> keras.Model:
    """Conv blocks (conv, optional batch norm, activation, 2x2 pooling while the image is large enough)."""
    if dataset.modality != "image" or len(dataset.input_shape) != 3:
        raise ModelError(f"a cnn needs images, and {dataset.name!r} is {dataset.modality}; choose mlp")
    inputs = keras.Input(shape=dataset.input_shape, name="input")
    x, side = inputs, min(dataset.input_shape[:2])
    for i, filters in enumerate(spec.filters):
        x = keras.layers.Conv2D(int(filters), spec.kernel_size, padding="same",
                                kernel_regularizer=regularizer(spec), name=f"conv{i + 1}")(x)
        if spec.batch_norm:
            x = keras.layers.BatchNormalization(name=f"conv{i + 1}_bn")(x)
        x = keras.layers.Activation(spec.activation, name=f"conv{i + 1}_act")(x)
        if side >= 4:
            x = keras.layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
            side //= 2
    x = keras.layers.Flatten(name="flatten")(x)
    if spec.dropout > 0:
        x = keras.layers.Dropout(spec.dropout, name="dropout")(x)
    return keras.Model(inputs, dense_head(x, spec, dataset, prefix="dense"), name="cnn")


@register("text")
def build_text(spec: ModelSpec, dataset: Dataset) -> keras.Model:
    """Texts in, words out: a vocabulary learnt from the training texts, word embeddings averaged over the
    text (padding masked), then the dense layers. A bag-of-embeddings baseline, not a language model."""
    if dataset.modality != "text":
        raise ModelError(f"a text model needs texts, and {dataset.name!r} is {dataset.modality}; choose mlp")
    inputs, ids, vocabulary = text_tokens(dataset)
    x = embed_words(ids, vocabulary)
    x = keras.layers.GlobalAveragePooling1D(name="average")(x, mask=word_flags(ids))
    return keras.Model(inputs, dense_head(x, spec, dataset), name="text")
