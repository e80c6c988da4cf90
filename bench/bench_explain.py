"""Explanation benchmarks, each measured side by side in one run against the plain library call.

1. LIME on the digits CNN, 1000 samples: ours (dlcore.explain) against lime called as its documentation
   shows (``LimeImageExplainer(random_state=seed).explain_instance(image, model.predict, ...)``, default
   ``batch_size=10``) with the same seed and segmentation: identical weights, and the speed-up; then ours
   against the lower limit, one batched forward pass over the 1000 perturbed images.
2. SHAP on the wine MLP (13 features): max |ours - brute-force Shapley values| / output range, and
   seconds per explained row against ``shap.KernelExplainer`` with default settings on the same background.
3. SHAP on the digits CNN: seconds per image at the default sample count (200), for the predicted class
   and for all 10 classes, against ``shap.GradientExplainer`` called as documented.

Run: ``python bench/bench_explain.py`` from the project root. The last line is one JSON object.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Median seconds of ``repeat`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def train(data: str, arch: str, epochs: int) -> tuple[Any, Any]:
    import keras

    from dlcore.data import load_builtin
    from dlcore.models import ModelSpec, TrainConfig, build_model, compile_model

    ds = load_builtin(data)
    keras.utils.set_random_seed(0)
    config = TrainConfig(data=data, model=ModelSpec(arch=arch), epochs=epochs)
    model = build_model(config.model, ds)
    compile_model(model, config, ds.task)
    model.fit(ds.x_train, ds.y_train, epochs=epochs, batch_size=32, verbose=0)
    return model, ds


def bench_lime(model: Any, ds: Any, seed: int = 0, samples: int = 1000) -> dict[str, float]:
    from lime.lime_image import LimeImageExplainer

    from dlcore.explain import explain
    from dlcore.explain.lime_explainer import segment_fn

    image = ds.x_val[11]
    label = int(model.predict_on_batch(image[None]).argmax())

    def documented() -> Any:
        explainer = LimeImageExplainer(random_state=seed)
        # lime's tutorial passes model.predict; lime hands over RGB, the model reads one channel
        return explainer.explain_instance(image[..., 0].astype(np.float64),
                                          lambda imgs: model.predict(imgs[..., :1], verbose=0),
                                          top_labels=5, hide_color=0, num_samples=samples,
                                          segmentation_fn=segment_fn("grid"), random_seed=seed)

    def ours() -> Any:
        return explain(model, image, "lime", seed=seed, num_samples=samples)

    ours()  # compile the predict step once, as a running app has
    t_doc, doc = timed(documented)
    t_ours, attr = timed(ours)
    ids, weights = attr.superpixel_weights(0)
    reference = dict(doc.local_exp[label])
    diff = max(abs(w - reference[int(s)]) for s, w in zip(ids, weights))
    # the lower limit: the same 1000 perturbed images, one forward pass
    segments = attr.segments[0]
    on = np.random.RandomState(seed).randint(0, 2, (samples, int(segments.max()) + 1))
    batch = np.where(on[:, segments][..., None] == 1, image[None], 0.0).astype(np.float32)
    model.predict_on_batch(batch)
    t_pass, _ = timed(lambda: model.predict_on_batch(batch), repeat=5)
    print(f"LIME digits, {samples} samples: lime as documented {t_doc:.3f}s, ours {t_ours:.3f}s "
          f"({t_doc / t_ours:.1f}x faster); max |weight difference| {diff:.2e}; "
          f"one forward pass over the perturbed images {t_pass:.4f}s (ours = {t_ours / t_pass:.1f}x that)")
    return {"lime_speedup_vs_documented": t_doc / t_ours, "lime_max_weight_diff": diff,
            "lime_ours_over_one_pass": t_ours / t_pass}


def bench_exact(model: Any, ds: Any, rows: int = 4, kernel_rows: int = 2) -> dict[str, float]:
    import shap

    from bench.shapley_reference import brute_force_shapley
    from dlcore.explain import explain
    from dlcore.explain.plan import BatchedPredict, summarize_background

    f = BatchedPredict(model)
    background = summarize_background(ds.x_train, 50, seed=0)
    x = ds.x_val[:rows]
    t0 = time.perf_counter()
    explain(model, x[:1], "shap", background, target="all")  # first call: shap compiles its numba helpers
    first = time.perf_counter() - t0
    t_ours, attr = timed(lambda: explain(model, x, "shap", background, target="all"), repeat=2)
    out_range = float(np.ptp(f(np.concatenate([background, x])), axis=0).max())
    worst = max(float(np.abs(attr.values[i] - brute_force_shapley(f, x[i], background)[0]).max()) for i in range(rows))
    kernel = shap.KernelExplainer(f, background)
    t_kernel, kv = timed(lambda: kernel.shap_values(x[:kernel_rows], silent=True), repeat=1)
    kernel_err = float(np.abs(np.asarray(kv) - attr.values[:kernel_rows]).max())
    per_ours, per_kernel = t_ours / rows, t_kernel / kernel_rows
    print(f"SHAP exact, wine MLP (13 features, 50 background rows): max |ours - brute force| = "
          f"{worst / out_range:.1e} of the output range; {per_ours:.3f}s per row (first call in a process "
          f"{first:.1f}s: numba compiles), KernelExplainer defaults {per_kernel:.3f}s per row "
          f"({per_kernel / per_ours:.1f}x ours) with max |error| {kernel_err:.1e}")
    return {"shap_exact_max_diff_of_range": worst / out_range, "shap_exact_s_per_row": per_ours,
            "kernel_s_per_row": per_kernel, "kernel_over_exact": per_kernel / per_ours, "kernel_max_error": kernel_err}


def bench_gradient(model: Any, ds: Any, images: int = 4) -> dict[str, float]:
    import shap

    from dlcore.explain import explain
    from dlcore.explain.plan import summarize_background

    background = summarize_background(ds.x_train, 100, seed=0)
    x = ds.x_val[:images]
    explain(model, x[:1], "shap", background)  # trace the gradient function once
    t_one, _ = timed(lambda: explain(model, x, "shap", background), repeat=2)
    t_all, _ = timed(lambda: explain(model, x, "shap", background, target="all"), repeat=2)
    documented = shap.GradientExplainer(model, background)
    t_doc, _ = timed(lambda: documented.shap_values(x), repeat=1)
    print(f"SHAP gradient, digits CNN, 200 samples: {t_one / images:.3f}s per image (predicted class), "
          f"{t_all / images:.3f}s per image (all 10 classes); shap as documented (all classes, batch 50) "
          f"{t_doc / images:.3f}s per image ({t_doc / t_all:.1f}x ours for all classes)")
    return {"shap_digits_s_per_image": t_one / images, "shap_digits_all_classes_s_per_image": t_all / images,
            "gradient_documented_over_ours_all": t_doc / t_all}


def main() -> None:
    import warnings

    warnings.simplefilter("ignore")
    digits_model, digits = train("digits", "cnn", epochs=3)
    wine_model, wine = train("wine", "mlp", epochs=10)
    figures = {**bench_lime(digits_model, digits), **bench_exact(wine_model, wine),
               **bench_gradient(digits_model, digits)}
    print(json.dumps({k: float(f"{v:.4g}") for k, v in figures.items()}))


if __name__ == "__main__":
    main()
