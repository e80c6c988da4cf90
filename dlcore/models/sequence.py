"""Sequence models: ``rnn`` (stacked LSTM or GRU layers) and ``transformer`` (a small attention encoder).

Both read a sequence of tokens: the words of a text (the vocabulary of ``dlcore.models.blocks``, padding
masked by ``word_flags``), the steps of a ``sequence`` data set shaped ``(steps, features)``, or an image read row by
row, each row a step (the transformer may take square patches instead). Then the dense layers of ``units``
and the task's output. Only Keras' own layers are used, so the models load with ``safe_mode=True`` and pass
``dlcore.safe_import`` without any class of this project.
"""
from __future__ import annotations

import keras

from dlcore.data.dataset import Dataset
from dlcore.errors import ModelError
from dlcore.models.blocks import TEXT_LENGTH, dense_head, embed_words, regularizer, text_tokens, word_flags
from dlcore.models.builders import register
from dlcore.models.spec import ModelSpec

# input rank (without the batch axis) each modality must have
RANKS = {"sequence": 2, "image": 3}
SHAPES = {"sequence": "(steps, features)", "image": "(height, width, channels)"}
# Position vectors start random, as usual for learned positions: started at zero, every position looks the
# same at first and order-dependent tasks learn far slower.
POSITIONS_INIT = "glorot_uniform"


def check_input(arch: str, spec: ModelSpec, dataset: Dataset) -> None:
    """Refuse data a sequence model cannot read, naming the fix."""
    if not spec.seq_units:
        raise ModelError(f"{arch} models need at least one sequence layer size (seq_units), e.g. 64")
    if dataset.modality == "text":
        return
    rank = RANKS.get(dataset.modality)
    if rank is None:
        raise ModelError(f"{arch} models read texts, sequences or images, and {dataset.name!r} is a table; "
                         "choose mlp")
    if len(dataset.input_shape) != rank:
        raise ModelError(f"{arch} models need {dataset.modality} inputs shaped {SHAPES[dataset.modality]}, and "
                         f"{dataset.name!r} has inputs shaped {dataset.input_shape}; choose mlp")


def steps(inputs, dataset: Dataset):
    """Numeric inputs as ``(batch, steps, features)``: sequences as they are, images row by row."""
    if dataset.modality != "image":
        return inputs
    height, width, channels = dataset.input_shape
    return keras.layers.Reshape((height, width * channels), name="rows")(inputs)


def patches(inputs, dataset: Dataset, side: int):
    """Images cut into ``side`` x ``side`` patches, each patch's pixels one token, left to right, top down."""
    height, width, channels = dataset.input_shape
    if height % side or width % side:
        raise ModelError(f"patches of {side}x{side} do not tile {height}x{width} images; choose a patch size "
                         "that divides both sides, or 0 to read rows")
    x = keras.layers.Reshape((height // side, side, width // side, side * channels), name="patch_rows")(inputs)
    x = keras.layers.Permute((1, 3, 2, 4), name="patch_grid")(x)
    return keras.layers.Reshape(((height // side) * (width // side), side * side * channels), name="patches")(x)


@register("rnn")
def build_rnn(spec: ModelSpec, dataset: Dataset) -> keras.Model:
    """Stacked LSTM or GRU layers (``seq_units``, optionally bidirectional); the last one's final state
    goes to the dense layers. Dropout applies to each recurrent layer's inputs, L1/L2 to its kernels, batch
    norm after it. The cell keeps its own tanh/sigmoid activations (cuDNN's fast kernel needs them)."""
    check_input("rnn", spec, dataset)
    mask = None
    if dataset.modality == "text":
        inputs, ids, vocabulary = text_tokens(dataset)
        x, mask = embed_words(ids, vocabulary), word_flags(ids)
    else:
        inputs = keras.Input(shape=dataset.input_shape, name="input")
        x = steps(inputs, dataset)
    cell = keras.layers.LSTM if spec.cell == "lstm" else keras.layers.GRU
    for i, units in enumerate(spec.seq_units):
        name, sequences = f"{spec.cell}{i + 1}", i < len(spec.seq_units) - 1
        layer = cell(int(units), return_sequences=sequences, dropout=spec.dropout,
                     kernel_regularizer=regularizer(spec), recurrent_regularizer=regularizer(spec), name=name)
        x = (keras.layers.Bidirectional(layer, name=f"bi{name}") if spec.bidirectional else layer)(x, mask=mask)
        if spec.batch_norm:
            x = keras.layers.BatchNormalization(name=f"{name}_bn")(x, mask=mask if sequences else None)
    return keras.Model(inputs, dense_head(x, spec, dataset, prefix="dense"), name="rnn")


def _text_positions(spec: ModelSpec, dataset: Dataset):
    """Word embeddings plus a learned embedding of each position, and the padding mask."""
    inputs, ids, vocabulary = text_tokens(dataset)
    width = int(spec.seq_units[0])
    words = embed_words(ids, vocabulary, width)
    # Positions from Keras' own layers: a frozen all-zero embedding of the ids is a (batch, steps, 1) zero
    # tensor that carries no padding mask, and EinsumDense turns it into its bias, one vector per step.
    zeros = keras.layers.Embedding(vocabulary, 1, embeddings_initializer="zeros", trainable=False, name="zeros")(ids)
    positions = keras.layers.EinsumDense("abc,cd->abd", output_shape=(TEXT_LENGTH, width), bias_axes="bd",
                                         bias_initializer=POSITIONS_INIT, name="positions")(zeros)
    return inputs, keras.layers.Add(name="words_and_positions")([words, positions]), word_flags(ids)


def _numeric_positions(spec: ModelSpec, dataset: Dataset):
    """Steps, rows or patches projected to the model width (one Dense shared by every token) plus a learned
    embedding of each position: one EinsumDense whose bias has a vector per position."""
    inputs = keras.Input(shape=dataset.input_shape, name="input")
    image_patches = dataset.modality == "image" and spec.patch > 0
    tokens = patches(inputs, dataset, spec.patch) if image_patches else steps(inputs, dataset)
    x = keras.layers.EinsumDense("abc,cd->abd", output_shape=(int(tokens.shape[1]), int(spec.seq_units[0])),
                                 bias_axes="bd", bias_initializer=POSITIONS_INIT,
                                 kernel_regularizer=regularizer(spec), name="embed")(tokens)
    return inputs, x, None


def encoder_block(x, width: int, spec: ModelSpec, name: str, mask=None):
    """Self-attention (never attending to tokens where ``mask`` is 0) and a feed-forward part (twice ``width``
    wide), each added back to its input and layer-normalised. A Dense projection comes first where the width
    changes from the previous block."""
    if int(x.shape[-1]) != width:
        x = keras.layers.Dense(width, kernel_regularizer=regularizer(spec), name=f"{name}_project")(x)
    attention = keras.layers.MultiHeadAttention(spec.heads, max(1, width // spec.heads), dropout=spec.dropout,
                                                kernel_regularizer=regularizer(spec), name=f"{name}_attention")
    attended = attention(x, x, value_mask=mask)
    x = keras.layers.Add(name=f"{name}_residual1")([x, attended])
    x = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm1")(x)
    f = keras.layers.Dense(2 * width, activation=spec.activation, kernel_regularizer=regularizer(spec),
                           name=f"{name}_ff1")(x)
    f = keras.layers.Dense(width, kernel_regularizer=regularizer(spec), name=f"{name}_ff2")(f)
    if spec.dropout > 0:
        f = keras.layers.Dropout(spec.dropout, name=f"{name}_dropout")(f)
    x = keras.layers.Add(name=f"{name}_residual2")([x, f])
    return keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm2")(x)


@register("transformer")
def build_transformer(spec: ModelSpec, dataset: Dataset) -> keras.Model:
    """Token embedding plus learned positions, one encoder block per entry of ``seq_units`` (its width),
    ``heads`` attention heads, the tokens averaged (padding left out), then the dense layers. Dropout applies
    to the attention weights and the feed-forward output, L1/L2 to every kernel; the blocks normalise their
    layers themselves, so batch norm applies to the dense layers only."""
    check_input("transformer", spec, dataset)
    make = _text_positions if dataset.modality == "text" else _numeric_positions
    inputs, x, mask = make(spec, dataset)
    for i, width in enumerate(spec.seq_units):
        x = encoder_block(x, int(width), spec, f"block{i + 1}", mask)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x, mask=mask)
    return keras.Model(inputs, dense_head(x, spec, dataset, prefix="dense"), name="transformer")
