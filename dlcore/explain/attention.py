"""Attention maps and attention rollout for models with Keras ``MultiHeadAttention`` layers.

``attention_maps`` runs the model once more with every attention layer asked for its weights
(``return_attention_scores=True``), ``(n, heads, tokens, tokens)`` per layer, and says what each token is:
an image patch (with its pixel box), an image row, a step of a sequence, or a word. ``explain_attention``
turns them into one relevance per token with attention rollout (Abnar and Zuidema 2020, "Quantifying
attention flow in transformers", ACL): heads averaged, the identity added for the residual connection, rows
renormalised, the layers multiplied through. The project's transformer mean-pools its tokens
(``GlobalAveragePooling1D``, padding left out), so the pooled rollout is the mean of the rollout rows over
the tokens pooled; a model that reads one class token instead is explained with ``token=`` its index.
Each token's relevance is given to every input value it is made of (each pixel of a patch or row, each
feature of a step), so values are non-negative and each row's token relevances add up to 1.

No library computes rollout for Keras 3 models (captum and the rollout scripts people share are written for
PyTorch or Hugging Face models; shap and lime never read attention), so it is computed here from the weights
Keras' own layer returns. Importing this module imports no TensorFlow.
"""
from __future__ import annotations

import math
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcore.errors import ExplainError
from dlcore.explain.attribution import Attribution
from dlcore.explain.batch import as_batch, class_names_for, feature_names_for, targets_for
from dlcore.explain.plan import BatchedPredict, Plan, Progress, is_text_model

CHUNK_VALUES = 1 << 24  # attention weights per forward pass (they grow with tokens**2): at most ~64 MB a chunk
TRUST_NOTE = ("attention weights are not an explanation by themselves (Jain and Wallace 2019): check the trust "
              "figures")
ALL_NOTE = "attention is not class-specific: the same rollout map is repeated for every class"
_SCORES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (scores model, (copy, original) pairs)
_SCORES_LOCK = threading.Lock()


@dataclass(frozen=True, eq=False)
class Tokens:
    """What the tokens of a model are, so that maps can be drawn back onto its input.

    Attributes:
        kind: ``patch`` (square image patches), ``row`` (image rows), ``step`` (steps of a sequence) or ``word``.
        labels: one name per token (``patch 0 (rows 0-1, cols 0-1)``, ``row 3``, ``step 5``, ``word 2``).
        index: for numeric inputs, an int array shaped like one input: the token each input value belongs to;
            ``None`` for words.
        boxes: images: ``(top, left, bottom, right)`` pixel box of each token (bottom and right exclusive).
        words: texts: per input, the word at each position (``""`` for padding).
    """

    kind: str
    labels: tuple[str, ...]
    index: np.ndarray | None = None
    boxes: tuple[tuple[int, int, int, int], ...] = ()
    words: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, eq=False)
class AttentionMaps:
    """The attention weights of every ``MultiHeadAttention`` layer of a model on ``n`` inputs.

    Attributes:
        weights: one array per attention layer (model order), ``(n, heads, tokens, tokens)``; row ``i`` of a
            head is how token ``i`` (query) spreads its attention over the tokens (keys), and sums to 1.
        layer_names: the attention layers' names.
        tokens: what each token stands for.
        pooled: ``(n, tokens)``, 1 for the tokens the model averages over (0 for a text's padding).
        model_rows: rows run through the model to get the weights.
    """

    weights: tuple[np.ndarray, ...]
    layer_names: tuple[str, ...]
    tokens: Tokens
    pooled: np.ndarray
    model_rows: int

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    @property
    def n_tokens(self) -> int:
        return int(self.weights[0].shape[-1])

    def heads(self, layer: int = 0) -> int:
        """Attention heads of layer ``layer``."""
        return int(self.weights[layer].shape[1])


def attention_layers(model: Any) -> list[Any]:
    """The model's ``MultiHeadAttention`` layers in order; refuses a model without any, in one line."""
    import keras

    found = [layer for layer in getattr(model, "layers", []) if isinstance(layer, keras.layers.MultiHeadAttention)]
    if not found:
        raise ExplainError(f"attention maps need a model with attention layers; {getattr(model, 'name', 'this')!r} "
                           "has none: use gradcam, ig or shap")
    return found


def scores_model(model: Any) -> Any:
    """A model with the same inputs returning every attention layer's weights (and a text model's token ids).

    The model is rebuilt through its graph with copies of its attention layers called with
    ``return_attention_scores=True``; every other layer is shared, and the stored model is left as it was.
    Built once per model (kept while the model lives); the copies take the attention layers' current
    weights on every call, so a model whose weights were changed since is still read as it is now.
    """
    with _SCORES_LOCK:
        if model not in _SCORES:
            _SCORES[model] = _build_scores_model(model)
        sub, pairs = _SCORES[model]
        for copy, original in pairs:
            copy.set_weights(original.get_weights())
    return sub


def _build_scores_model(model: Any) -> tuple[Any, list[tuple[Any, Any]]]:
    import keras

    originals = {id(layer): layer for layer in attention_layers(model)}
    pairs: list[tuple[Any, Any]] = []
    scores: list[Any] = []
    ids: list[Any] = []

    def clone(layer: Any) -> Any:
        if id(layer) not in originals:
            return layer
        # a copy: a shared layer returning two outputs here and one in the stored model fails Keras' graph check
        pairs.append((type(layer).from_config(layer.get_config()), layer))
        return pairs[-1][0]

    def call(layer: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(layer, keras.layers.MultiHeadAttention):
            out, weights = layer(*args, return_attention_scores=True, **kwargs)
            scores.append(weights)
            return out
        out = layer(*args, **kwargs)
        if isinstance(layer, keras.layers.TextVectorization):
            ids.append(out)
        return out

    rebuilt = keras.models.clone_model(model, clone_function=clone, call_function=call)
    return keras.Model(rebuilt.inputs, [*scores, *ids[:1]], name=f"{model.name}_attention"), pairs


def attention_maps(model: Any, x: Any) -> AttentionMaps:
    """The attention weights of every ``MultiHeadAttention`` layer of ``model`` on inputs ``x`` and what its
    tokens are (see ``AttentionMaps``); ``x`` as for ``explain`` (model inputs, or texts for a text model)."""
    layers = attention_layers(model)
    text = is_text_model(model)
    x = _texts(x) if text else as_batch(model, x)
    sub = scores_model(model)
    per_row = sum(int(np.prod(o.shape[1:])) for o in sub.outputs)
    chunk = int(max(1, min(512, CHUNK_VALUES // max(1, per_row))))
    parts: list[list[np.ndarray]] = []
    for start in range(0, len(x), chunk):
        out = sub.predict_on_batch(x[start:start + chunk])
        parts.append([np.asarray(o) for o in (out if isinstance(out, list | tuple) else [out])])
    outputs = [np.concatenate([p[j] for p in parts]) for j in range(len(parts[0]))]
    weights = tuple(w.astype(np.float64) for w in outputs[:len(layers)])
    t = _check_square(weights, layers)
    if text:
        tokens, pooled = _word_tokens(model, outputs[len(layers)])
    else:
        tokens, pooled = _numeric_tokens(model, x.shape[1:], t), np.ones((len(x), t))
    return AttentionMaps(weights, tuple(layer.name for layer in layers), tokens, pooled, int(len(x)))


def _texts(x: Any) -> np.ndarray:
    texts = np.asarray(x, dtype=object).reshape(-1)
    if len(texts) == 0 or not all(isinstance(t, str) for t in texts):
        raise ExplainError("a text model explains texts: pass one string or a list of strings")
    return texts


def _check_square(weights: tuple[np.ndarray, ...], layers: list[Any]) -> int:
    """The token count shared by every layer's self-attention; refuses cross-attention or changing lengths."""
    t = int(weights[0].shape[-1])
    for w, layer in zip(weights, layers, strict=True):
        if w.ndim != 4 or w.shape[-2:] != (t, t):
            raise ExplainError(f"attention layer {layer.name!r} gives weights shaped {w.shape[1:]}; rollout needs "
                               f"self-attention over the same {t} tokens in every layer")
    return t


def _numeric_tokens(model: Any, shape: tuple[int, ...], t: int) -> Tokens:
    """Image patches, image rows or sequence steps, from the input shape, the token count and layer names."""
    names = {layer.name for layer in model.layers}
    if len(shape) == 2 and shape[0] == t:
        index = np.repeat(np.arange(t)[:, None], shape[1], axis=1)
        return Tokens("step", tuple(f"step {i}" for i in range(t)), index)
    if len(shape) != 3:
        raise ExplainError(f"cannot tell what each of the {t} tokens of this model stands for in inputs shaped "
                           f"{shape}; attention maps read images (patches or rows) and sequences (steps)")
    height, width, channels = shape
    if height == t and "patches" not in names:
        index = np.broadcast_to(np.arange(t)[:, None, None], shape).copy()
        return Tokens("row", tuple(f"row {i}" for i in range(t)), index,
                      tuple((i, 0, i + 1, width) for i in range(t)))
    side = math.isqrt(height * width // t)
    if side * side * t != height * width or height % side or width % side:
        raise ExplainError(f"{t} tokens are neither the rows nor square patches of {height}x{width} images; "
                           "attention maps cannot be drawn back onto them")
    grid = np.arange(t).reshape(height // side, width // side)
    index = np.repeat(np.repeat(grid, side, axis=0), side, axis=1)[..., None].repeat(channels, axis=2)
    boxes = tuple((r * side, c * side, (r + 1) * side, (c + 1) * side)
                  for r in range(height // side) for c in range(width // side))
    labels = tuple(f"patch {i} (rows {b[0]}-{b[2] - 1}, cols {b[1]}-{b[3] - 1})" for i, b in enumerate(boxes))
    return Tokens("patch", labels, index, boxes)


def _word_tokens(model: Any, ids: np.ndarray) -> tuple[Tokens, np.ndarray]:
    """A text model's word positions: the word at each, and which positions it averages over (its words; the
    first position of a text without any, as ``dlcore.models.blocks.word_flags`` does)."""
    import keras

    vectorize = next(la for la in model.layers if isinstance(la, keras.layers.TextVectorization))
    vocabulary = np.asarray(vectorize.get_vocabulary(), dtype=object)
    ids = np.asarray(ids).astype(int)
    pooled = (ids > 0).astype(np.float64)
    pooled[pooled.sum(axis=1) == 0, 0] = 1.0
    words = tuple(tuple(str(vocabulary[i]) if i > 0 else "" for i in row) for row in ids)
    return Tokens("word", tuple(f"word {i}" for i in range(ids.shape[1])), words=words), pooled


def rollout(maps: AttentionMaps) -> np.ndarray:
    """Attention rollout, ``(n, tokens, tokens)``: per layer the heads averaged, plus the identity (the residual
    connection), rows renormalised to 1, multiplied from the first layer to the last."""
    n, t = len(maps.pooled), maps.n_tokens
    eye = np.eye(t)
    flow = np.broadcast_to(eye, (n, t, t)).copy()
    for weights in maps.weights:
        mixed = weights.mean(axis=1) + eye
        mixed /= mixed.sum(axis=-1, keepdims=True)
        flow = mixed @ flow
    return flow


def token_relevance(maps: AttentionMaps, token: int | None = None) -> np.ndarray:
    """One relevance per token, ``(n, tokens)``, adding up to 1: the rollout row of ``token`` (a class token),
    or by default the mean of the rollout rows over the tokens the model averages (mean pooling)."""
    flow = rollout(maps)
    if token is not None:
        if not 0 <= int(token) < maps.n_tokens:
            raise ExplainError(f"token {token} does not exist; the model has {maps.n_tokens} tokens")
        return flow[:, int(token)]
    weights = maps.pooled / maps.pooled.sum(axis=1, keepdims=True)
    return np.einsum("ni,nij->nj", weights, flow)


class AttentionPlan(Plan):
    """``Plan`` of an attention explanation: one prediction pass and one pass returning the weights."""

    def describe(self) -> str:
        """One sentence for people, shown before running."""
        return (f"ATTENTION ({self.algorithm}) on {self.n_rows} input(s): one forward pass returning the attention "
                f"weights and one for the predictions, {self.model_rows:,} model evaluations")


def attention_plan(model: Any, x: Any, **options: Any) -> AttentionPlan:
    """What ``explain_attention`` with the same arguments will run: ``2 n`` model rows (the predictions and the
    pass that returns the attention weights), nothing sampled."""
    attention_layers(model)
    text = is_text_model(model)
    x = _texts(x) if text else as_batch(model, x)
    n_outputs = int(np.prod(model.output_shape[1:]))
    n_targets = n_outputs if options.get("target", "predicted") == "all" else 1
    features = 0 if text else int(np.prod(x.shape[1:]))
    return AttentionPlan("attention", "attention-rollout", int(len(x)), features, 0, 1, n_targets, 2 * int(len(x)))


def explain_attention(model: Any, x: Any, seed: int = 0, **options: Any) -> Attribution:
    """Attention rollout of ``model`` on inputs ``x`` as an ``Attribution`` (method ``attention``).

    Args:
        model: a Keras model with ``MultiHeadAttention`` layers (the project's transformer).
        x: model inputs ``(n, *input_shape)`` or one input; for a text model, a string or a list of strings.
        seed: recorded only: nothing is random.
        **options: ``target`` ("predicted", "all" or a class index: the map is the same for every class),
            ``token`` (the class token to read the rollout from; default: the mean over the pooled tokens),
            ``feature_names``, ``class_names``, ``progress`` (a callable ``(fraction, text)``);
            ``background_size`` is ignored.

    Returns:
        An ``Attribution`` whose values are each token's relevance given to every input value it is made of
        (non-negative), with ``base_values`` zero.
    """
    t0 = time.perf_counter()
    plan = attention_plan(model, x, **options)
    progress: Progress | None = options.get("progress")
    text = is_text_model(model)
    x = _texts(x) if text else as_batch(model, x)
    maps = attention_maps(model, x)
    if progress is not None:
        progress(0.5, "attention weights read")
    f = BatchedPredict(model, progress, plan.model_rows, label="attention (predictions)")
    f.rows = maps.model_rows
    predictions = f(x)
    k, target = predictions.shape[1], options.get("target", "predicted")
    relevance = token_relevance(maps, options.get("token"))
    if text:
        names, inputs, values = _word_values(maps.tokens, relevance)
    else:
        names, inputs = feature_names_for(options.get("feature_names"), x), x
        values = relevance[:, maps.tokens.index]
    notes = [TRUST_NOTE, _pool_note(options.get("token"), maps.tokens.kind)]
    base = np.zeros(len(x))
    if target == "all":
        values, base = np.repeat(values[..., None], k, axis=-1), np.zeros((len(x), k))
        notes.append(ALL_NOTE)
    if progress is not None:
        progress(1.0, "attention done")
    return Attribution(values=values, base_values=base, inputs=inputs, predictions=predictions,
                       targets=targets_for(target, predictions), method="attention", algorithm="attention-rollout",
                       seed=int(seed), seconds=time.perf_counter() - t0, feature_names=names,
                       class_names=class_names_for(options.get("class_names"), k), samples=1, model_rows=f.rows,
                       output_range=float(np.ptp(predictions, axis=0).max()) or 1.0, notes=tuple(notes),
                       texts=tuple(str(s) for s in x) if text else ())


def _pool_note(token: int | None, kind: str) -> str:
    where = f"the rollout row of token {token}" if token is not None else "the mean rollout over the pooled tokens"
    return f"relevance of each {kind}: {where} (heads averaged, residual added, layers multiplied through)"


def _word_values(tokens: Tokens, relevance: np.ndarray) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Texts: each distinct word's summed relevance over its positions, and how often it occurs per text."""
    names = tuple(dict.fromkeys(w for row in tokens.words for w in row if w))
    column = {w: j for j, w in enumerate(names)}
    counts, values = np.zeros((len(relevance), len(names))), np.zeros((len(relevance), len(names)))
    for i, row in enumerate(tokens.words):
        for p, w in enumerate(row):
            if w:
                counts[i, column[w]] += 1
                values[i, column[w]] += relevance[i, p]
    return names, counts, values
