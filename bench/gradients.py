"""Gradient and occlusion explanations on the digits CNN: seconds per image against the lower limit, and the
agreement of Integrated Gradients with SHAP.

For each method (ig at 64 steps, smoothgrad at 50 samples, gradcam, occlusion with the default patch) on 8
validation images: the median seconds per image of ``dlcore.explain.explain`` (after one warm-up call, as in a
running app), against the lower limit: the same number of rows (``Plan.model_rows``) run alone in one batch,
forward+backward (an input-gradient step) for the gradient methods and forward only for occlusion; the two are
called in turn 41 times, so both see the same load on a busy machine. Goal: <= 1.5x.
Then the Spearman rank correlation of IG's values with SHAP's (``explain(..., "shap")``, GradientExplainer) per
image, mean and minimum.

Run: ``python bench/gradients.py`` from the project root. The last line is one JSON object.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.bench_explain import train  # noqa: E402

METHODS = {"ig": {}, "smoothgrad": {}, "gradcam": {}, "occlusion": {}}
PAIRS = 41  # timed pairs per method


def lower_limit(model: Any, x: np.ndarray, rows: int, backward: bool) -> Any:
    """A call running ``rows`` rows in one batch: forward+backward (input gradients) or forward only."""
    import tensorflow as tf

    batch = tf.constant(np.resize(x, (rows, *x.shape[1:])))

    @tf.function
    def step(b: Any) -> Any:
        with tf.GradientTape() as tape:
            tape.watch(b)
            score = tf.reduce_max(model(b, training=False), axis=1)
        return tape.gradient(score, b)

    run = step if backward else (lambda b: model.predict_on_batch(b))
    run(batch)  # compile once
    return lambda: np.asarray(run(batch))


def side_by_side(first: Any, second: Any, pairs: int = PAIRS) -> tuple[float, float]:
    """Median seconds of ``first`` and of ``second``, called in turn ``pairs`` times: a busy machine slows both."""
    times = np.zeros((pairs, 2))
    for i in range(pairs):
        for j, fn in enumerate((first, second)):
            t0 = time.perf_counter()
            fn()
            times[i, j] = time.perf_counter() - t0
    return float(np.median(times[:, 0])), float(np.median(times[:, 1]))


def bench_speed(model: Any, x: np.ndarray) -> list[dict[str, Any]]:
    from dlcore.explain import estimate, explain

    table = []
    for method, options in METHODS.items():
        plan = estimate(model, x, method, **options)
        attr = explain(model, x, method, **options)  # warm-up: compile the steps once
        limit = lower_limit(model, x, plan.model_rows, backward=method != "occlusion")
        seconds, limit_s = side_by_side(lambda m=method, o=options: explain(model, x, m, **o), limit)
        table.append({"method": method, "algorithm": attr.algorithm, "rows": attr.model_rows,
                      "s_per_image": seconds / len(x), "limit_s_per_image": limit_s / len(x),
                      "ratio": seconds / limit_s})
    return table


def agreement(model: Any, x: np.ndarray, background: np.ndarray) -> dict[str, float]:
    from scipy.stats import spearmanr

    from dlcore.explain import explain

    ig = explain(model, x, "ig")
    shap_values = explain(model, x, "shap", background, seed=0)
    rho = [float(spearmanr(ig.values[i].ravel(), shap_values.values[i].ravel()).statistic) for i in range(len(x))]
    return {"spearman_ig_shap_mean": float(np.mean(rho)), "spearman_ig_shap_min": float(np.min(rho))}


def main() -> None:
    t0 = time.perf_counter()
    model, ds = train("digits", "cnn", epochs=2)
    x = ds.x_val[:8]
    table = bench_speed(model, x)
    print(f"{'method':<11} {'algorithm':<18} {'rows':>7} {'s/image':>9} {'limit s/image':>14} {'ratio':>6}")
    for r in table:
        print(f"{r['method']:<11} {r['algorithm']:<18} {r['rows']:>7} {r['s_per_image']:>9.4f} "
              f"{r['limit_s_per_image']:>14.4f} {r['ratio']:>6.2f}")
    agree = agreement(model, x, ds.x_train)
    print(f"IG vs SHAP Spearman per image: mean {agree['spearman_ig_shap_mean']:.3f}, "
          f"min {agree['spearman_ig_shap_min']:.3f}")
    print(json.dumps({"speed": table, **agree, "goal_ratio": 1.5,
                      "all_within_goal": all(r["ratio"] <= 1.5 for r in table),
                      "seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
