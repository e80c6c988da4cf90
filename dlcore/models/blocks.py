"""Building blocks shared by the model builders (``dlcore.models.builders``, ``dlcore.models.sequence``) and
fine-tuning (``dlcore.finetune``): weight penalties, dense layers, the task's output layer, and texts as
word embeddings. Only built-in Keras layers, so the models load with ``safe_mode=True``.
"""
from __future__ import annotations

import keras
import numpy as np

from dlcore.data.dataset import Dataset
from dlcore.models.spec import ModelSpec

TEXT_TOKENS, TEXT_LENGTH, TEXT_EMBEDDING = 20_000, 200, 64


def regularizer(spec: ModelSpec) -> keras.regularizers.Regularizer | None:
    """The L1/L2 weight penalty ``spec`` asks for (None when both are 0)."""
    if spec.l1 == 0 and spec.l2 == 0:
        return None
    return keras.regularizers.L1L2(l1=spec.l1, l2=spec.l2)


def dense_block(x, units: int, spec: ModelSpec, name: str):
    """A dense layer (penalised as ``spec`` says), optional batch norm, the activation and optional dropout."""
    x = keras.layers.Dense(units, kernel_regularizer=regularizer(spec), name=f"{name}_dense")(x)
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
    return keras.layers.Rescaling(scale=float(y.std() or 1.0), offset=float(y.mean()), dtype="float32",
                                  name="output")(x)


def dense_head(x, spec: ModelSpec, dataset: Dataset, prefix: str = "block"):
    """The dense layers of ``spec.units``, then the task's output layer."""
    for i, units in enumerate(spec.units):
        x = dense_block(x, int(units), spec, f"{prefix}{i + 1}")
    return output_head(x, dataset)


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
