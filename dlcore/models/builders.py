"""Model builders: ``build_model(spec, dataset)`` returns an uncompiled ``keras.Model``.

Each architecture is one function registered in ``BUILDERS``; the recurrent and attention models
(``rnn``, ``transformer``) live in ``dlcore.models.sequence`` and register themselves the same way.
Outputs follow the task: softmax over classes, or one unit rescaled to the target's units.
"""
from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from dlcore.data.dataset import Dataset
from dlcore.errors import ModelError
from dlcore.models.spec import ModelSpec

Builder = Callable[[ModelSpec, Dataset], keras.Model]
BUILDERS: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    """Register a builder under an architecture name (``mlp``, ``cnn``, ...)."""

    def wrap(fn: Builder) -> Builder:
        BUILDERS[name] = fn
        return fn

    return wrap


def _regularizer(spec: ModelSpec) -> keras.regularizers.Regularizer | None:
    if spec.l1 == 0 and spec.l2 == 0:
        return None
    return keras.regularizers.L1L2(l1=spec.l1, l2=spec.l2)


def _dense_block(x, units: int, spec: ModelSpec, name: str):
    x = keras.layers.Dense(units, kernel_regularizer=_regularizer(spec), name=f"{name}_dense")(x)
    if spec.batch_norm:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    x = keras.layers.Activation(spec.activation, name=f"{name}_act")(x)
    if spec.dropout > 0:
        x = keras.layers.Dropout(spec.dropout, name=f"{name}_dropout")(x)
    return x


def output_head(x, dataset: Dataset):
    """The task's output layer: class probabilities, or a value in the target's own units."""
    if dataset.task == "classification":
        return keras.layers.Dense(dataset.n_outputs, activation="softmax", dtype="float32", name="output")(x)
    y = np.asarray(dataset.y_train, dtype=np.float64)
    x = keras.layers.Dense(1, dtype="float32", name="output_standardised")(x)
    # Train on a standardised target, report in the target's units: the rescaling is part of the model.
    return keras.layers.Rescaling(scale=float(y.std() or 1.0), offset=float(y.mean()), dtype="float32", name="output")(x)


def dense_head(x, spec: ModelSpec, dataset: Dataset, prefix: str = "block"):
    """The dense layers of ``spec.units``, then the task's output layer."""
    for i, units in enumerate(spec.units):
        x = _dense_block(x, int(units), spec, f"{prefix}{i + 1}")
    return output_head(x, dataset)


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
                                kernel_regularizer=_regularizer(spec), name=f"conv{i + 1}")(x)
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


TEXT_TOKENS, TEXT_LENGTH, TEXT_EMBEDDING = 20_000, 200, 64


def text_tokens(dataset: Dataset):
    """A string input and its token ids ``(batch, TEXT_LENGTH)``, 0 for padding, with a vocabulary learnt from
    the training texts; returns ``(inputs, ids, vocabulary size)``."""
    vectorize = keras.layers.TextVectorization(max_tokens=TEXT_TOKENS, output_sequence_length=TEXT_LENGTH,
                                               name="vectorize")
    vectorize.adapt(np.asarray(dataset.x_train, dtype=str))
    inputs = keras.Input(shape=(), dtype="string", name="input")
    return inputs, vectorize(inputs), vectorize.vocabulary_size()


def embed_words(ids, vocabulary: int, width: int = TEXT_EMBEDDING):
    """Word embeddings of token ids (padding included: the layers that follow take ``word_flags`` as mask)."""
    return keras.layers.Embedding(vocabulary, width, name="embedding")(ids)


def word_flags(ids):
    """1 for each word of a text, 0 for its padding: the mask that sequence layers and pooling are given.
    Passed explicitly because Keras' implicit masks (``mask_zero``) write their ops (``NotEqual``) into the
    saved model as graph nodes, which ``dlcore.safe_import`` refuses; these are plain Keras layers.

    A text with no words (empty, or punctuation only) keeps its first step, read as the padding's embedding: a
    mask of zeros would make the masked average 0/0, which is NaN wherever TensorFlow runs without oneDNN
    (GPUs, some CPUs), and would leave attention nothing to attend to."""
    steps = int(ids.shape[1])
    flags = keras.layers.Discretization(bin_boundaries=[1], name="words")(ids)
    if steps == 1:
        return flags
    first = keras.layers.Discretization(bin_boundaries=[-1], name="every_step")(ids)  # ids are >= 0: all ones
    first = keras.layers.Reshape((steps, 1), name="steps_column")(first)
    first = keras.layers.Cropping1D((0, steps - 1), name="first_step")(first)
    first = keras.layers.ZeroPadding1D((0, steps - 1), name="first_step_only")(first)
    first = keras.layers.Reshape((steps,), name="first_step_flag")(first)
    return keras.layers.Maximum(name="words_or_first")([flags, first])


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


def build_model(spec: ModelSpec, dataset: Dataset) -> keras.Model:
    """Build the architecture ``spec.arch`` for ``dataset``'s inputs and task."""
    if spec.arch not in BUILDERS:
        raise ModelError(f"unknown architecture {spec.arch!r}; choose one of {', '.join(BUILDERS)}")
    return BUILDERS[spec.arch](spec, dataset)


from dlcore.models import sequence  # noqa: E402,F401  registers rnn and transformer (it imports this module)
