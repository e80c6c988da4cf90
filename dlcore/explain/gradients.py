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


def _path_step(model: Any) -> Any:
    """One compiled pass of Integrated Gradients over ``r`` rows' paths: ``points`` ``(r * steps, ...)``, each row's
    points in order from its baseline (first) to its input (last), and ``cls`` ``(r,)`` (-1: the class predicted at
    the input, read from the same forward pass). Returns the outputs at the inputs and at the baselines, both
    ``(r, k)``, and the weighted sum of the gradients along each path, float64 ``(r, values per row)``."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def step(points: Any, cls: Any, weights: Any) -> Any:
        r, steps = tf.shape(cls)[0], tf.shape(weights)[0]
        with tf.GradientTape() as tape:
            tape.watch(points)
            out = tf.reshape(model(points, training=False), (r, steps, -1))
            cls = tf.where(cls < 0, tf.argmax(out[:, -1], axis=1, output_type=tf.int32), cls)
            score = tf.gather(out, cls, axis=2, batch_dims=1)
        grads = tf.cast(tf.reshape(tape.gradient(score, points), (r, steps, -1)), tf.float64)
        return out[:, -1], out[:, 0], tf.einsum("s,rsd->rd", weights, grads)

    return step


def _smooth_step(model: Any) -> Any:
    """One compiled pass of SmoothGrad over ``r`` rows: the inputs ``x`` and their noisy ``copies``
    ``(r * samples, ...)`` in one batch; the outputs at the inputs (class -1 is the predicted one) and the
    gradients at the copies averaged per row."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def step(x: Any, copies: Any, cls: Any) -> Any:
        r = tf.shape(x)[0]
        samples = tf.shape(copies)[0] // r
        with tf.GradientTape() as tape:
            tape.watch(copies)
            out = tf.reshape(model(tf.concat([x, copies], axis=0), training=False), (r * (samples + 1), -1))
            outputs = out[:r]
            cls = tf.where(cls < 0, tf.argmax(outputs, axis=1, output_type=tf.int32), cls)
            score = tf.gather(tf.reshape(out[r:], (r, samples, -1)), cls, axis=2, batch_dims=1)
        grads = tf.cast(tf.reshape(tape.gradient(score, copies), (r, samples, -1)), tf.float64)
        return outputs, tf.reduce_mean(grads, axis=1)

    return step


class GradientRunner:
    """Forward passes (``predict``) and compiled forward+backward steps on large batches, counting rows together
    and reporting progress against ``expected_rows``."""

    def __init__(self, model: Any, progress: Progress | None, expected_rows: int, label: str) -> None:
        self.model = model
        self.predict = BatchedPredict(model, progress, expected_rows, label=label)

    @property
    def rows(self) -> int:
        return self.predict.rows

    def chunk(self, row_size: int) -> int:
        """Rows per gradient batch: up to ~2M input values, 16 to 4096 rows."""
        return int(max(16, min(4096, (1 << 21) // max(1, row_size))))

    def count(self, rows: int) -> None:
        """Count ``rows`` model evaluations just run by a step and report the progress."""
        self.predict.count(rows)

    def run(self, step: Any, x: np.ndarray, cls: np.ndarray) -> Any:
        """``step(x, cls)`` on chunks of ``x``, float64 results concatenated (each of them, for a step that returns
        a tuple)."""
        outs = []
        size = self.chunk(int(np.prod(x.shape[1:])))
        for start in range(0, len(x), size):
            part = x[start:start + size]
            got = step(part, cls[start:start + size].astype(np.int32))
            outs.append([np.asarray(g, dtype=np.float64) for g in (got if isinstance(got, tuple) else (got,))])
            self.count(len(part))
        joined = tuple(np.concatenate(column) for column in zip(*outs))
        return joined[0] if len(joined) == 1 else joined

    def rows_per_call(self, copies: int, row_size: int) -> int:
        """How many inputs fit in one batch when each of them runs as ``copies`` rows."""
        return max(1, self.chunk(row_size) // max(1, copies))


def trapezoid_weights(steps: int) -> np.ndarray:
    weights = np.full(steps, 1.0 / (steps - 1))
    weights[[0, -1]] /= 2
    return weights


def integrated_gradients(runner: GradientRunner, x: np.ndarray, baselines: np.ndarray, steps: int,
                         cls: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IG of each row for its class ``cls[i]`` (-1: the class predicted at the row): the trapezoid rule over
    ``steps`` points from baseline to input, the ends exactly the baseline and the input. Returns the values and
    the outputs at the inputs and at the baselines, all from the path's own forward pass."""
    alphas = np.linspace(0.0, 1.0, steps, dtype=np.float32).reshape(1, steps, *[1] * (x.ndim - 1))
    step = _compiled(runner.model, "path", lambda: _path_step(runner.model))
    weights = trapezoid_weights(steps)
    per = runner.rows_per_call(steps, int(np.prod(x.shape[1:])))
    total, outs = np.zeros((len(x), int(np.prod(x.shape[1:])))), []
    for start in range(0, len(x), per):
        xs, bs = x[start:start + per], baselines[start:start + per]
        points = bs[:, None] + alphas * (xs - bs)[:, None]
        points[:, 0], points[:, -1] = bs, xs
        at_x, at_b, summed = step(points.reshape(-1, *x.shape[1:]), cls[start:start + per].astype(np.int32),
                                  weights)
        total[start:start + per] = np.asarray(summed)
        outs.append((np.asarray(at_x, dtype=np.float64), np.asarray(at_b, dtype=np.float64)))
        runner.count(len(xs) * steps)
    values = total.reshape(x.shape) * (x.astype(np.float64) - baselines.astype(np.float64))
    return values, np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])


def noisy_copies(x: np.ndarray, n_samples: int, noise: float, seed: int, first: int = 0) -> np.ndarray:
    """``n_samples`` copies of each row with Gaussian noise of sd ``noise`` x the row's range, ``(n * s, ...)``.
    Row ``first + i`` draws from its own generator seeded by ``(seed, first + i)``: its noise does not depend on
    the other rows."""
    spread = np.ptp(x.reshape(len(x), -1), axis=1)
    sd = (noise * np.where(spread > 0, spread, 1.0)).astype(np.float32)
    copies = np.empty((len(x), n_samples, *x.shape[1:]), dtype=np.float32)
    for i in range(len(x)):
        np.random.default_rng((seed, first + i)).standard_normal(out=copies[i], dtype=np.float32)
    copies *= sd.reshape(-1, *[1] * (copies.ndim - 1))
    copies += x[:, None]
    return copies.reshape(-1, *x.shape[1:])


def smooth_gradients(runner: GradientRunner, x: np.ndarray, cls: np.ndarray, n_samples: int, noise: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """SmoothGrad of each row for class ``cls[i]`` (-1: the predicted one), a group of rows at a time, and the
    outputs at the inputs, from the same compiled pass."""
    step = _compiled(runner.model, "smooth", lambda: _smooth_step(runner.model))
    out, outputs = np.zeros((len(x), int(np.prod(x.shape[1:])))), []
    per = runner.rows_per_call(n_samples, int(np.prod(x.shape[1:])))
    for start in range(0, len(x), per):
        rows = slice(start, start + per)
        copies = noisy_copies(x[rows], n_samples, noise, seed, start)
        at_x, mean = step(x[rows], copies, cls[rows].astype(np.int32))
        out[rows] = np.asarray(mean)
        outputs.append(np.asarray(at_x, dtype=np.float64))
        runner.count(len(copies) + len(x[rows]))
    return out.reshape(x.shape), np.concatenate(outputs)


def smooth_ig(runner: GradientRunner, x: np.ndarray, cls: np.ndarray, n_samples: int, noise: float, seed: int,
              baselines: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """SmoothGrad over Integrated Gradients (class ``cls[i]`` of each row, given): IG averaged over noisy copies
    of each row, each copy's path from the row's baseline; and the outputs at the baselines."""
    out, at_baseline = np.zeros(x.shape, dtype=np.float64), []
    per = max(1, (1 << 22) // (n_samples * int(np.prod(x.shape[1:]))))
    for start in range(0, len(x), per):
        rows = slice(start, start + per)
        copies, c = noisy_copies(x[rows], n_samples, noise, seed, start), np.repeat(cls[rows], n_samples)
        g, _, at_b = integrated_gradients(runner, copies, np.repeat(baselines[rows], n_samples, axis=0), steps, c)
        out[rows] = g.reshape(-1, n_samples, *x.shape[1:]).mean(axis=1)
        at_baseline.append(at_b[::n_samples])
    return out, np.concatenate(at_baseline)


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


def _first_classes(target: Any, n: int, k: int) -> np.ndarray:
    """The class of each row in the first pass: -1 (the predicted one, read in that pass), class 0 when every
    class is explained, or the chosen class (checked)."""
    if target in (None, "predicted"):
        return np.full(n, -1)
    return np.zeros(n, dtype=int) if target == "all" else targets_for(target, np.zeros((n, k)))


def _values(runner: GradientRunner, method: str, x: np.ndarray, bg: np.ndarray | None, seed: int, target: Any,
            k: int, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The attributions of ``method`` (one class per row, or every class stacked on a trailing axis), the model's
    outputs, the explained classes, the base values and the outputs at the baselines (none without one). The
    outputs come from the first pass of the method itself: IG reads them at the ends of its paths, SmoothGrad
    next to its noisy copies."""
    n, every = len(x), target == "all"
    steps = int(_option(options, "steps", "ig_steps"))
    samples = int(_option(options, "n_samples", "smoothgrad_samples"))
    noise = float(_option(options, "noise", "smoothgrad_noise"))
    first, rest = _first_classes(target, n, k), range(1, k) if every else range(0)
    baselines, at_baseline = None, np.zeros((0, k))
    if method == "ig" or options.get("over") == "ig":
        baselines = make_baselines(options.get("baseline", "black"), x, bg, seed, options.get("blur_sigma"))
    if method == "ig":
        values, predictions, at_baseline = integrated_gradients(runner, x, baselines, steps, first)
        others = [integrated_gradients(runner, x, baselines, steps, np.full(n, c))[0] for c in rest]
    elif baselines is not None:  # SmoothGrad over IG: the classes are known before the noisy paths run
        predictions = runner.predict(x)
        cls = first if every else targets_for(target, predictions)
        values, at_baseline = smooth_ig(runner, x, cls, samples, noise, seed, baselines, steps)
        others = [smooth_ig(runner, x, np.full(n, c), samples, noise, seed, baselines, steps)[0] for c in rest]
    else:
        values, predictions = smooth_gradients(runner, x, first, samples, noise, seed)
        others = [smooth_gradients(runner, x, np.full(n, c), samples, noise, seed)[0] for c in rest]
    targets = targets_for(target, predictions)
    if every:
        values = np.stack([values, *others], axis=-1)
    base = (np.zeros((n, k) if every else n) if baselines is None else
            at_baseline if every else at_baseline[np.arange(n), targets])
    return values, predictions, targets, base, at_baseline


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
        values, predictions, targets, base, at_baseline = _values(runner, method, x, bg, seed, target, k, options)
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
