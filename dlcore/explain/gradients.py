"""Gradient explanations of Keras models: Integrated Gradients, SmoothGrad and Grad-CAM.

- ``ig``: Integrated Gradients (Sundararajan, Taly and Yan 2017, "Axiomatic Attribution for Deep Networks"):
  ``(x - baseline) * integral of grad f(baseline + a (x - baseline)) da``, the integral by the trapezoid rule
  over ``steps`` points; the base value is the output at the baseline, so the attributions add up to
  ``f(x) - f(baseline)`` up to the quadrature error (``Attribution.additivity_gap``).
- ``smoothgrad``: SmoothGrad (Smilkov et al. 2017, "SmoothGrad: removing noise by adding noise"): the plain
  gradient averaged over ``n_samples`` copies of the input with Gaussian noise (sd ``noise`` x the input's
  range). Plain gradients, as in the paper, not gradient x input: with ``noise=0`` it is the gradient itself.
  ``over="ig"`` runs the same noise tunnel over Integrated Gradients (SmoothGrad-IG).
- ``gradcam``: Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks via
  Gradient-based Localization"): ReLU of the conv layer's channels weighted by their spatially averaged
  gradients of the class score, upsampled (bilinear) to the input's height and width; the map is put in every
  channel (a sequence's: in every feature), so values are shaped like the input and non-negative.

These are written here because no library computes them for Keras 3 models: tf-keras-vis, tf-explain and
alibi need tf.keras 2 models, captum needs PyTorch, and shap's GradientExplainer is expected gradients,
not IG with a chosen baseline. Gradients are taken with ``tf.GradientTape`` on large batches in a compiled
``tf.function``; TensorFlow is imported inside the functions only.
"""
from __future__ import annotations

import time
import weakref
from typing import Any

import numpy as np

from dlcore.errors import ExplainError
from dlcore.explain.attribution import Attribution
from dlcore.explain.batch import as_batch, class_names_for, feature_names_for, targets_for
from dlcore.explain.plan import DEFAULTS, BatchedPredict, Plan, Progress, method_plan

CONV_LAYERS = ("Conv1D", "Conv2D", "Conv3D", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D",
               "DepthwiseConv2D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {kind: compiled step}


def make_baselines(baseline: Any, x: np.ndarray, background: np.ndarray | None, seed: int,
                   blur_sigma: float | None = None) -> np.ndarray:
    """The baseline of each input, ``(n, *input_shape)`` float32: ``black`` zeros, ``blur`` a Gaussian blur of
    the image (sigma default: 1/8 of its shorter side), ``mean`` the background mean, ``noise`` seeded uniform
    noise in the input's range, or a given array."""
    if not isinstance(baseline, str):
        return np.broadcast_to(np.asarray(baseline, dtype=np.float32), x.shape).copy()
    if baseline == "black":
        return np.zeros_like(x)
    if baseline == "mean":
        return np.broadcast_to(np.asarray(background, dtype=np.float32).mean(axis=0), x.shape).copy()
    if baseline == "noise":
        rng = np.random.default_rng(seed)
        low = x.reshape(len(x), -1).min(axis=1).reshape(-1, *[1] * (x.ndim - 1))
        high = x.reshape(len(x), -1).max(axis=1).reshape(-1, *[1] * (x.ndim - 1))
        return (low + (high - low) * rng.random(x.shape)).astype(np.float32)
    from scipy.ndimage import gaussian_filter

    sigma = float(blur_sigma or min(x.shape[1:3]) / 8)
    return np.stack([gaussian_filter(image, sigma=(sigma, sigma, 0)) for image in x]).astype(np.float32)


def _compiled(model: Any, kind: str, make: Any) -> Any:
    """One compiled step per model and kind, kept while the model lives."""
    try:
        steps = _STEPS.setdefault(model, {})
    except TypeError:  # a model that cannot be weakly referenced: compile for this call only
        return make()
    if kind not in steps:
        steps[kind] = make()
    return steps[kind]


def _gradient_step(model: Any) -> Any:
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def step(x: Any, cls: Any) -> Any:
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.reshape(model(x, training=False), (tf.shape(x)[0], -1))
            score = tf.gather(out, cls, axis=1, batch_dims=1)
        return tape.gradient(score, x)

    return step


class GradientRunner:
    """Forward passes (``predict``) and forward+backward passes (``gradients``) on large batches, counting
    rows together and reporting progress against ``expected_rows``."""

    def __init__(self, model: Any, progress: Progress | None, expected_rows: int, label: str) -> None:
        self.model = model
        self.predict = BatchedPredict(model, progress, expected_rows, label=label)

    @property
    def rows(self) -> int:
        return self.predict.rows

    def chunk(self, row_size: int) -> int:
        """Rows per gradient batch: up to ~2M input values, 16 to 4096 rows."""
        return int(max(16, min(4096, (1 << 21) // max(1, row_size))))

    def run(self, step: Any, x: np.ndarray, cls: np.ndarray) -> Any:
        """``step(x, cls)`` on chunks of ``x``, float64 results concatenated (each of them, for a step that returns
        a tuple)."""
        f, outs = self.predict, []
        size = self.chunk(int(np.prod(x.shape[1:])))
        for start in range(0, len(x), size):
            part = x[start:start + size]
            got = step(part, cls[start:start + size].astype(np.int32))
            outs.append([np.asarray(g, dtype=np.float64) for g in (got if isinstance(got, tuple) else (got,))])
            f.rows += len(part)
            f.calls += 1
            if f.progress is not None:
                f.progress(min(1.0, f.rows / f.expected_rows), f"{f.label}: {f.rows:,} model evaluations")
        joined = tuple(np.concatenate(column) for column in zip(*outs))
        return joined[0] if len(joined) == 1 else joined

    def gradients(self, x: np.ndarray, cls: np.ndarray) -> np.ndarray:
        """d output[cls[i]] / d x[i] for every row, float64."""
        return self.run(_compiled(self.model, "gradient", lambda: _gradient_step(self.model)),
                        np.asarray(x, dtype=np.float32), cls)


def integrated_gradients(runner: GradientRunner, x: np.ndarray, baselines: np.ndarray, steps: int,
                         cls: np.ndarray) -> np.ndarray:
    """IG of each row for its class ``cls[i]``: trapezoid rule over ``steps`` points from baseline to input."""
    alphas = np.linspace(0.0, 1.0, steps, dtype=np.float32).reshape(1, steps, *[1] * (x.ndim - 1))
    weights = np.full(steps, 1.0 / (steps - 1))
    weights[[0, -1]] /= 2
    per = max(1, runner.chunk(int(np.prod(x.shape[1:]))) // steps)  # rows whose points fit in one batch
    total = np.zeros(x.shape, dtype=np.float64)
    for start in range(0, len(x), per):
        xs, bs = x[start:start + per], baselines[start:start + per]
        points = (bs[:, None] + alphas * (xs - bs)[:, None]).reshape(-1, *x.shape[1:])
        g = runner.gradients(points, np.repeat(cls[start:start + per], steps))
        total[start:start + per] = np.einsum("s,rs...->r...", weights, g.reshape(len(xs), steps, *x.shape[1:]))
    return total * (x.astype(np.float64) - baselines.astype(np.float64))


def noisy_copies(x: np.ndarray, n_samples: int, noise: float, seed: int, first: int = 0) -> np.ndarray:
    """``n_samples`` copies of each row with Gaussian noise of sd ``noise`` x the row's range, ``(n * s, ...)``.
    Row ``first + i`` draws from its own generator seeded by ``(seed, first + i)``: its noise does not depend on
    the other rows."""
    spread = np.ptp(x.reshape(len(x), -1), axis=1)
    sd = (noise * np.where(spread > 0, spread, 1.0)).astype(np.float32)
    copies = np.empty((len(x), n_samples, *x.shape[1:]), dtype=np.float32)
    for i in range(len(x)):
        rng = np.random.default_rng((seed, first + i))
        copies[i] = x[i] + sd[i] * rng.standard_normal((n_samples, *x.shape[1:]), dtype=np.float32)
    return copies.reshape(-1, *x.shape[1:])


def smooth_gradients(runner: GradientRunner, x: np.ndarray, cls: np.ndarray, n_samples: int, noise: float,
                     seed: int, baselines: np.ndarray | None = None, steps: int = 64) -> np.ndarray:
    """SmoothGrad: gradients (or, given ``baselines``, IG) averaged over noisy copies, a group of rows at a time."""
    out = np.zeros(x.shape, dtype=np.float64)
    per = max(1, (1 << 22) // (n_samples * int(np.prod(x.shape[1:]))))
    for start in range(0, len(x), per):
        rows = slice(start, start + per)
        copies, c = noisy_copies(x[rows], n_samples, noise, seed, start), np.repeat(cls[rows], n_samples)
        g = (runner.gradients(copies, c) if baselines is None else
             integrated_gradients(runner, copies, np.repeat(baselines[rows], n_samples, axis=0), steps, c))
        out[rows] = g.reshape(-1, n_samples, *x.shape[1:]).mean(axis=1)
    return out


def conv_layer(model: Any, layer: str | None = None) -> Any:
    """The layer Grad-CAM reads: ``layer`` by name, else the last convolutional layer's rectified output (the
    conv layer followed through the batch norm and activation layers right after it, as the paper's feature
    maps are the conv layer's after its ReLU)."""
    import keras

    if not isinstance(model, keras.Sequential) and type(model).__name__ != "Functional":
        raise ExplainError(f"gradcam reads a layer inside the model, which a subclassed model "
                           f"({type(model).__name__}) does not expose; use ig or occlusion")
    layers = list(getattr(model, "layers", []))
    kinds = tuple(getattr(keras.layers, name) for name in CONV_LAYERS if hasattr(keras.layers, name))
    convs = [lay for lay in layers if isinstance(lay, kinds)]
    if layer is not None:
        found = [lay for lay in layers if lay.name == layer]
        if not found:
            names = ", ".join(lay.name for lay in convs) or "none"
            raise ExplainError(f"the model has no layer named {layer!r}; its convolutional layers: {names}")
        return found[0]
    if not convs:
        raise ExplainError(f"gradcam needs a convolutional layer; {getattr(model, 'name', 'this model')!r} has "
                           "none; use ig or occlusion")
    return _rectified(layers, convs[-1])


def _rectified(layers: list[Any], conv: Any) -> Any:
    """``conv``, or the last of the element-wise layers (batch norm, activation) that directly follow it."""
    import keras

    followers = (keras.layers.BatchNormalization, keras.layers.Activation, keras.layers.ReLU,
                 keras.layers.LeakyReLU, keras.layers.ELU, keras.layers.PReLU)
    current = conv
    for nxt in layers[layers.index(conv) + 1:]:
        try:
            fed = nxt.input is current.output
        except (AttributeError, ValueError):  # a layer called more than once has no single input
            return current
        if not (isinstance(nxt, followers) and fed):
            return current
        current = nxt
    return current


def _score_tensor(model: Any) -> tuple[Any, Any]:
    """The tensor Grad-CAM takes the class score from, and the function turning it into the scores: the logits
    before a softmax or sigmoid output layer (the paper's choice: a probability's gradient mixes in the other
    classes' scores and vanishes when the model is sure), else the model's output as it is."""
    import keras

    last = model.layers[-1]
    squash = (keras.activations.softmax, keras.activations.sigmoid)
    if isinstance(last, keras.layers.Softmax) or (
            isinstance(last, keras.layers.Activation) and last.activation in squash):
        return last.input, None
    if isinstance(last, keras.layers.Dense) and last.activation in squash:
        def logits(h: Any) -> Any:
            z = keras.ops.matmul(h, last.kernel)
            return z if last.bias is None else z + last.bias

        return last.input, logits
    return model.outputs[0], None


def uses_logits(model: Any) -> bool:
    """Whether Grad-CAM scores ``model``'s classes by their logits (a softmax or sigmoid output layer)."""
    return _score_tensor(model)[0] is not model.outputs[0]


def _cam_model(model: Any, conv: Any) -> tuple[Any, Any]:
    """A model with the layer's output next to the tensor the class scores come from, and that tensor's head."""
    import keras

    try:
        score, head = _score_tensor(model)
        return keras.Model(model.inputs, [conv.output, score]), head
    except (ValueError, AttributeError, TypeError) as err:
        raise ExplainError(f"gradcam cannot reach layer {conv.name!r} from the model's input; use ig or "
                           "occlusion") from err


def _cam_step(model: Any, conv: Any, out_size: tuple[int, int]) -> Any:
    """One compiled pass: the model's outputs and the Grad-CAM map of class ``cls[i]`` (-1: the predicted class)."""
    import tensorflow as tf

    cam, head = _cam_model(model, conv)
    last = model.layers[-1]
    at_output = cam.outputs[1] is model.outputs[0]

    @tf.function(reduce_retracing=True)
    def step(x: Any, cls: Any) -> Any:
        with tf.GradientTape() as tape:
            feats, out = cam(x, training=False)
            scores = tf.reshape(out if head is None else head(out), (tf.shape(x)[0], -1))
            outputs = tf.reshape(out if at_output else last(out), (tf.shape(x)[0], -1))
            cls = tf.where(cls < 0, tf.argmax(outputs, axis=1, output_type=tf.int32), cls)
            score = tf.gather(scores, cls, axis=1, batch_dims=1)
        grads = tape.gradient(score, feats)
        weights = tf.reduce_mean(grads, axis=list(range(1, len(feats.shape) - 1)), keepdims=True)
        maps = tf.nn.relu(tf.reduce_sum(weights * feats, axis=-1))
        maps = maps[..., None] if len(maps.shape) == 3 else maps[:, :, None, None]
        return outputs, tf.image.resize(maps, out_size, method="bilinear")[..., 0]

    return step


def gradcam_maps(runner: GradientRunner, x: np.ndarray, conv: Any, cls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model's outputs ``(n, k)`` and the Grad-CAM of each row for class ``cls[i]`` (-1: the predicted one),
    shaped like ``x`` (the map in every channel or feature), from one forward+backward pass."""
    rank = len(conv.output.shape)
    if x.ndim not in (3, 4) or rank not in (3, 4) or rank != x.ndim:
        raise ExplainError(f"gradcam maps a 2-D conv layer onto images or a 1-D one onto sequences, and layer "
                           f"{conv.name!r} outputs {tuple(conv.output.shape)[1:]} for inputs {x.shape[1:]}; "
                           "use ig or occlusion")
    out_size = (x.shape[1], x.shape[2]) if x.ndim == 4 else (x.shape[1], 1)
    step = _compiled(runner.model, f"gradcam-{conv.name}", lambda: _cam_step(runner.model, conv, out_size))
    outputs, maps = runner.run(step, x, cls)
    maps = maps.reshape(len(x), *x.shape[1:-1], 1)
    return outputs, np.maximum(np.broadcast_to(maps, x.shape), 0.0).copy()


def gradcam_explained(runner: GradientRunner, x: np.ndarray, conv: Any, target: Any,
                      k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The predictions, the explained classes and the Grad-CAM values: the predictions come from the pass of the
    first map, so explaining the predicted class takes one pass over ``x``, every class ``k``."""
    n = len(x)
    chosen = target not in (None, "predicted", "all")
    first = targets_for(target, np.zeros((n, k))) if chosen else np.full(n, 0 if target == "all" else -1)
    predictions, values = gradcam_maps(runner, x, conv, first)
    targets = targets_for(target, predictions)
    if target != "all":
        return predictions, targets, values
    rest = [gradcam_maps(runner, x, conv, np.full(n, c))[1] for c in range(1, k)]
    return predictions, targets, np.stack([values, *rest], axis=-1)


def _per_class(values_of: Any, targets: np.ndarray, k: int, all_outputs: bool) -> np.ndarray:
    """``values_of(cls)`` for each row's target, or for every class stacked on a trailing axis."""
    if not all_outputs:
        return values_of(targets)
    return np.stack([values_of(np.full(len(targets), c)) for c in range(k)], axis=-1)


def _notes(method: str, plan: Plan, options: dict[str, Any], layer: str = "", logits: bool = False) -> tuple[str, ...]:
    baseline = options.get("baseline", "black")
    name = baseline if isinstance(baseline, str) else "an array"
    steps = int(options.get("steps") or DEFAULTS["ig_steps"])
    if method == "ig":
        return (f"baseline: {name}; {steps} interpolation points, trapezoid rule; base value = output at the "
                "baseline",)
    if method == "gradcam":
        score = "the class's logit (before the output's softmax)" if logits else "the class's output"
        return (f"layer: {layer}; ReLU of the channels weighted by their mean gradient of {score}, bilinear "
                "upsampling, the map in every channel",)
    noise = float(options.get("noise", DEFAULTS["smoothgrad_noise"]))
    over = f" over IG (baseline: {name}, {steps} points)" if options.get("over") == "ig" else ""
    return (f"plain gradients averaged over {plan.samples // (steps if over else 1)} noisy copies{over}; noise sd "
            f"{noise:g} x the input's range",)


def _option(options: dict[str, Any], name: str, default: str) -> Any:
    return options[name] if options.get(name) is not None else DEFAULTS[default]


def _values(runner: GradientRunner, method: str, x: np.ndarray, bg: np.ndarray | None, seed: int,
            targets: np.ndarray, k: int, all_outputs: bool,
            options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The attributions and base values of ``method`` (one class per row, or every class), and the model's
    outputs at the baselines (none without a baseline)."""
    n = len(x)
    steps = int(_option(options, "steps", "ig_steps"))
    base, at_baseline = np.zeros((n, k) if all_outputs else n), np.zeros((0, k))
    uses_ig, baselines = method == "ig" or options.get("over") == "ig", None
    if uses_ig:
        baselines = make_baselines(options.get("baseline", "black"), x, bg, seed, options.get("blur_sigma"))
        at_baseline = runner.predict(baselines)
        base = at_baseline if all_outputs else at_baseline[np.arange(n), targets]
    if method == "ig":
        return _per_class(lambda c: integrated_gradients(runner, x, baselines, steps, c), targets, k,
                          all_outputs), base, at_baseline
    samples = int(_option(options, "n_samples", "smoothgrad_samples"))
    noise = float(_option(options, "noise", "smoothgrad_noise"))
    return _per_class(lambda c: smooth_gradients(runner, x, c, samples, noise, seed, baselines, steps),
                      targets, k, all_outputs), base, at_baseline


def explain_gradients(model: Any, x: Any, method: str, background: Any, seed: int,
                      options: dict[str, Any]) -> Attribution:
    """``ig``, ``smoothgrad`` or ``gradcam`` on model inputs ``x`` (see ``dlcore.explain.explain``)."""
    t0 = time.perf_counter()
    conv = conv_layer(model, options.get("layer")) if method == "gradcam" else None
    x = as_batch(model, x)
    bg = None if background is None else as_batch(model, background)
    target = options.get("target", "predicted")
    k = int(np.prod(model.output_shape[1:]))
    given = {key: v for key, v in options.items() if key not in ("progress", "layer")}
    plan = method_plan(x, method, k, bg, **given, layer=None if conv is None else conv.name)
    runner = GradientRunner(model, options.get("progress"), plan.model_rows, f"{method.upper()} ({plan.algorithm})")
    if method == "gradcam":
        predictions, targets, values = gradcam_explained(runner, x, conv, target, k)
        base, at_baseline = np.zeros((len(x), k) if target == "all" else len(x)), np.zeros((0, k))
    else:
        predictions = runner.predict(x)
        targets = targets_for(target, predictions)
        values, base, at_baseline = _values(runner, method, x, bg, seed, targets, k, target == "all", options)
    progress = options.get("progress")
    if progress is not None:
        progress(1.0, f"{method.upper()} done")
    spread = float(np.ptp(np.concatenate([predictions, at_baseline]), axis=0).max()) or 1.0
    return Attribution(values=values, base_values=base, inputs=x, predictions=predictions, targets=targets,
                       method=method, algorithm=plan.algorithm, seed=int(seed), seconds=time.perf_counter() - t0,
                       feature_names=feature_names_for(options.get("feature_names"), x),
                       class_names=class_names_for(options.get("class_names"), k), samples=plan.samples,
                       model_rows=runner.rows, output_range=spread,
                       notes=_notes(method, plan, options, "" if conv is None else conv.name,
                                    conv is not None and uses_logits(model)))
