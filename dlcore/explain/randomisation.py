"""Model-parameter randomisation test (Adebayo et al. 2018, "Sanity checks for saliency maps", NeurIPS).

An explanation that describes the model must change when the model is destroyed. The layers with weights
are re-initialised from the output side down (cascading: the top ``k`` layers for ``k = 1..L``; or
independently, one layer at a time), each time in a copy of the model, and the same input is explained
again. Spearman's rank correlation against the original explanation says how much of the map survived; a
map that ignores the model (the input itself, an edge detector) keeps 1.0. Both are reported, as in the paper:
the correlation of the absolute values and of the signed values.

Which one decides (``on``): the signed values by default. Maps weighted by the input (gradient x input,
SHAP's expected gradients) are ``(x - baseline) * gradient``: their magnitudes carry ``|x - baseline|``, and a
pixel where neither the input nor the background has ink gets exactly 0 under any model, so their absolute
values keep a rank correlation of about 0.6-0.7 with a fully random CNN while their signs fall to about 0.1
(measured on the ``shapes`` and ``digits`` CNNs). The heat maps show signed values, and a map whose signs no
longer follow the model says something else. A map that shows only the input keeps 1.0 on both, so it fails
either way; ``on="abs"`` gives the paper's absolute-value rule.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dlcore.errors import ExplainError
from dlcore.explain.agreement import spearman
from dlcore.workspace import finite

THRESHOLD = 0.5
SMALL_VALUES = 50  # explanations with at most this many values are randomised SMALL_REPEATS times per layer
SMALL_REPEATS = 3
MIN_VALUES = 3  # fewer values admit no rank correlation worth the name
ONES = ("gamma", "moving_variance", "variance", "scale")
ZEROS = ("bias", "beta", "moving_mean", "mean")

ExplainFn = Callable[[Any, np.ndarray], Any]


@dataclass(frozen=True)
class Randomisation:
    """What re-initialising the model did to its explanation of one input.

    Attributes:
        layers: names of the weighted layers, output side first; ``correlations[i]`` belongs to ``layers[i]``.
        correlations: Spearman correlation of |values| against the original explanation's |values|: with
            ``layers[: i + 1]`` re-initialised (cascading) or ``layers[i]`` alone (independent). NaN where
            the randomised model's explanation is constant.
        final: the correlation with every listed layer re-initialised (cascading) or the last entry.
        correlations_signed, final_signed: the same on the signed values.
        on: which correlation decides, ``signed`` (default) or ``abs``; ``decisive`` and ``decisive_final``
            are that one.
        threshold: ``passes`` needs ``decisive_final`` below it. 0.5 by default: above it, most of the map's ranking
            survives destroying the model, which is what Adebayo et al. found for maps that mostly show
            the input (guided back-propagation, edge detectors); plain gradients fall far lower. The
            project's goal for SHAP with all layers re-initialised is 0.3 or less; input-weighted maps
            (SHAP's expected gradients on images) miss it on |values| while ``final_signed`` meets it.
        cascade: cascading (True) or independent (False) randomisation.
        passes: the explanation depends on the model: ``decisive_final < threshold``, or the randomised model's
            explanation became constant (it changed completely); False when the original is constant.
        reason: a sentence on the outcome (why a correlation is undefined, or why the check fails).
        repeats: randomised copies per layer whose correlations were averaged (``repeats_for``).
    """

    layers: tuple[str, ...]
    correlations: tuple[float, ...]
    final: float
    correlations_signed: tuple[float, ...]
    final_signed: float
    threshold: float
    cascade: bool
    passes: bool
    reason: str = ""
    on: str = "signed"
    repeats: int = 1

    @property
    def decisive(self) -> tuple[float, ...]:
        """The correlations that decide ``passes``, output side first."""
        return self.correlations_signed if self.on == "signed" else self.correlations

    @property
    def decisive_final(self) -> float:
        """The deciding correlation with every listed layer re-initialised."""
        return self.final_signed if self.on == "signed" else self.final

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain JSON-ready values (NaN as ``None``)."""
        return finite({**asdict(self), "decisive": list(self.decisive), "decisive_final": self.decisive_final})


def weighted_layers(model: Any) -> list[int]:
    """Indices into ``model.layers`` of the layers that hold weights, output side first."""
    return [i for i in range(len(model.layers) - 1, -1, -1) if model.layers[i].weights]


def _pick(model: Any, layers: int | Sequence[str] | None) -> list[int]:
    """The layer indices to randomise, output side first: all, the top ``layers``, or those named."""
    found = weighted_layers(model)
    if not found:
        raise ExplainError(f"{getattr(model, 'name', 'this model')!r} has no layers with weights to randomise")
    if layers is None:
        return found
    if isinstance(layers, int):
        if not 1 <= layers <= len(found):
            raise ExplainError(f"layers={layers}: the model has {len(found)} layer(s) with weights")
        return found[:layers]
    names = {model.layers[i].name: i for i in found}
    missing = [name for name in layers if name not in names]
    if missing:
        raise ExplainError(f"no layer with weights named {', '.join(missing)}; choose from {', '.join(names)}")
    return [i for i in found if model.layers[i].name in set(layers)]


def _fresh(layer: Any, variable: Any, seed: int) -> np.ndarray:
    """A new value for ``variable`` of ``layer``: its own initializer with ``seed``, else a seeded
    Glorot-uniform kernel, ones for scales and variances, zeros for biases and means."""
    shape = tuple(int(d) for d in variable.shape)
    name = str(variable.name).split("/")[-1].split(":")[0]
    init = getattr(layer, f"{name}_initializer", None)
    if init is not None and hasattr(init, "get_config"):
        config = init.get_config()
        if "seed" in config:
            init = type(init).from_config({**config, "seed": int(seed)})
        return np.asarray(init(shape, dtype=variable.dtype))
    if len(shape) < 2 or name in ONES or name in ZEROS:
        return np.full(shape, 1.0 if name in ONES else 0.0, dtype=np.float32)
    receptive = int(np.prod(shape[:-2]))
    limit = np.sqrt(6.0 / (shape[-2] * receptive + shape[-1] * receptive))
    return np.random.default_rng(seed).uniform(-limit, limit, shape).astype(np.float32)


def _reinitialise(layer: Any, seed: int) -> None:
    """Give every variable of ``layer`` (trainable or not) a fresh seeded value."""
    for j, variable in enumerate(layer.weights):
        variable.assign(_fresh(layer, variable, seed * 1009 + j))


def _clone(model: Any, x: np.ndarray) -> Any:
    """A separate copy of ``model`` with the same weights that predicts what it predicts on ``x``.

    ``keras.models.clone_model`` rebuilds the layers from their configs, which loses state that is not a
    weight (a ``TextVectorization`` layer's vocabulary); such a model is copied through the ``.keras``
    format instead (saved to a temporary folder and loaded with ``safe_mode`` on), which keeps its assets.
    """
    import keras

    name = getattr(model, "name", "this model")
    try:
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        if np.allclose(_predict(copy, x), _predict(model, x), rtol=1e-4, atol=1e-5):
            return copy
    except Exception:  # any failure of the fast copy falls back to the full one
        pass
    import tempfile
    from pathlib import Path

    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "copy.keras"
            model.save(path)
            copy = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        raise ExplainError(f"cannot copy {name!r} to randomise it: {exc}") from exc
    if not np.allclose(_predict(copy, x), _predict(model, x), rtol=1e-4, atol=1e-5):
        raise ExplainError(f"a copy of {name!r} does not predict what it predicts, so it cannot be randomised")
    return copy


def _predict(model: Any, x: np.ndarray) -> np.ndarray:
    """The model's outputs on ``x`` (a text as a batch of one)."""
    batch = np.array([str(t) for t in np.ravel(x)], dtype=object) if x.dtype.kind in "OUS" else x
    return np.asarray(model.predict_on_batch(batch), dtype=np.float64)


def _unbatched(shape: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` without a leading batch axis of one."""
    return shape[1:] if shape[:1] == (1,) else shape


def _values(explain_fn: ExplainFn, model: Any, x: np.ndarray, like: tuple[int, ...] | None = None) -> np.ndarray:
    """``explain_fn(model, x)`` as a float array shaped like ``x`` (an ``Attribution``'s values accepted); for
    a text (strings), shaped like the first explanation ``like``."""
    out = explain_fn(model, x)
    values = np.asarray(getattr(out, "values", out), dtype=np.float64)
    texts = x.dtype.kind in "OUS"
    want = like if texts else _unbatched(x.shape)
    if (want is not None and _unbatched(values.shape) != want) or (texts and values.size == 0):
        raise ExplainError(f"explain_fn returned values shaped {values.shape} for inputs shaped {x.shape}; it "
                           "must return one value per input value, for one class")
    if not np.isfinite(values).all():
        raise ExplainError("explain_fn returned NaN or infinity")
    return values


def _outcome(original_constant: bool, final: float, threshold: float, on: str) -> tuple[bool, str]:
    """Whether the check passes, and a sentence saying why."""
    if original_constant:
        return False, "the original explanation is constant: there is no ranking to compare"
    if np.isnan(final):
        return True, "with the layers re-initialised the explanation is constant: it changed completely"
    what = "rank correlation" if on == "signed" else "rank correlation of |values|"
    if final < threshold:
        return True, f"{what} fell to {final:.2f} (< {threshold}): the explanation depends on the model"
    return False, (f"{what} stayed at {final:.2f} (>= {threshold}) with the model destroyed: the "
                   "explanation shows the input more than the model")


def randomisation(model: Any, x: Any, explain_fn: ExplainFn, *, seed: int = 0,
                  layers: int | Sequence[str] | None = None, threshold: float = THRESHOLD,
                  cascade: bool = True, on: str = "signed", repeats: int | None = None) -> Randomisation:
    """Re-explain ``x`` with copies of ``model`` whose layers are re-initialised, output side first.

    The stored model is never changed: one clone is made and re-initialised step by step (cascading) or
    reset to the original weights before each layer (independent).

    Args:
        model: a Keras model (Sequential or functional: it must be clonable).
        x: the input(s) explained, as ``explain_fn`` takes them.
        explain_fn: ``explain_fn(model, x)`` -> values shaped like ``x`` (or an ``Attribution``), for one
            class; it should fix the class (e.g. the original prediction), since a random model predicts
            another one.
        seed: seeds the re-initialised weights (each layer and variable its own stream).
        layers: all weighted layers (None), the top ``layers`` of them, or those named.
        threshold: ``passes`` needs the final correlation below it.
        cascade: cascading (top ``k`` layers) or independent (layer ``k`` alone) randomisation.
        on: the correlation that decides, of the ``signed`` values (default) or of the ``abs`` values.
        repeats: randomised copies per layer, their correlations averaged (seeds differ); None:
            ``repeats_for`` the number of values (3 for small tables, 1 for images).

    Returns:
        A ``Randomisation``.

    Raises:
        ExplainError: no weighted layers, an unknown layer name, a model that cannot be cloned, or
            ``explain_fn`` returning values not shaped like ``x`` or not finite.
    """
    if on not in ("signed", "abs"):
        raise ExplainError(f"unknown on={on!r}; the check decides on the 'signed' or the 'abs' values")
    picked = _pick(model, layers)
    x = np.asarray(x)
    first = _values(explain_fn, model, x)
    original, like = first.ravel(), _unbatched(first.shape)
    if original.size < MIN_VALUES:
        raise ExplainError(f"the explanation has {original.size} value(s): a rank correlation needs at least "
                           f"{MIN_VALUES}, so the randomisation check does not apply")
    copy = _clone(model, x)
    weights = model.get_weights()
    count = repeats_for(original.size) if repeats is None else int(repeats)
    if count < 1:
        raise ExplainError(f"repeats must be at least 1; got {repeats}")
    runs = []  # (repeats, layers, 2): |values| and signed correlations
    for repeat in range(count):
        copy.set_weights(weights)
        found = []
        for rank, index in enumerate(picked):
            if not cascade:
                copy.set_weights(weights)
            _reinitialise(copy.layers[index], int(seed) * 7919 + rank + 104_729 * repeat)
            values = _values(explain_fn, copy, x, like).ravel()
            found.append((spearman(np.abs(original), np.abs(values)), spearman(original, values)))
        runs.append(found)
    del copy
    absolute, signed = _mean_over_repeats(np.array(runs))
    constant = bool(np.ptp(original if on == "signed" else np.abs(original)) == 0)
    passes, reason = _outcome(constant, (signed if on == "signed" else absolute)[-1], float(threshold), on)
    return Randomisation(layers=tuple(model.layers[i].name for i in picked), correlations=tuple(absolute),
                         final=absolute[-1], correlations_signed=tuple(signed), final_signed=signed[-1],
                         threshold=float(threshold), cascade=bool(cascade), passes=passes, reason=reason, on=on,
                         repeats=count)


def repeats_for(n_values: int) -> int:
    """Randomised copies made per layer for an explanation of ``n_values`` values: ``SMALL_REPEATS`` up to
    ``SMALL_VALUES`` values, else 1. The rank correlation of two unrelated rankings of ``n`` values spreads
    with a standard deviation of about ``1 / sqrt(n - 1)`` (0.33 for 10 features): one random copy of a
    small table's model stays above the threshold by chance about one time in fifteen; the mean of three
    about one time in three hundred. Image maps have hundreds of values and need one."""
    return SMALL_REPEATS if int(n_values) <= SMALL_VALUES else 1


def _mean_over_repeats(runs: np.ndarray) -> tuple[list[float], list[float]]:
    """Per layer, the mean |values| and signed correlations over the repeats (NaN, a constant explanation,
    only where every repeat was constant)."""
    means = []
    for column in runs.transpose(1, 2, 0).reshape(-1, runs.shape[0]):
        finite_ = column[np.isfinite(column)]
        means.append(float(finite_.mean()) if finite_.size else float("nan"))
    pairs = np.array(means).reshape(runs.shape[1], 2)
    return pairs[:, 0].tolist(), pairs[:, 1].tolist()
