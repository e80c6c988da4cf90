"""What an explanation will cost before it runs, and the fast model calls it runs on.

``make_plan`` decides the algorithm, the background size and the sample counts once, so the cost shown
to people before running is the cost of what then runs. ``BatchedPredict`` is the ``predict_fn`` shap
and lime call: the model's compiled predict step on large batches (never ``model.predict`` per small
batch, whose per-call overhead dominates on small models), counting rows for the progress bar.
"""
from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcore.errors import ExplainError

Progress = Callable[[float, str], None]

EXACT_MAX_FEATURES = 15  # 2**15 coalitions per row is still quick; above it exact enumeration explodes
DEFAULTS = {
    "background_size": 100,  # rows the SHAP background is summarised to
    "nsamples": 200,  # GradientExplainer interpolation samples per image (shap's default)
    "max_evals": 500,  # Permutation / Partition evaluations per row (shap's default)
    "lime_background_size": 1000,  # rows LIME on tables takes its sampling statistics from
    "lime_tabular_samples": 5000,  # lime's default num_samples for tables
    "lime_image_samples": 1000,  # lime's default num_samples for images
    "lime_text_samples": 5000,  # lime's default num_samples for texts
    "ig_steps": 64,  # Integrated Gradients interpolation points (trapezoid rule)
    "smoothgrad_samples": 50,  # SmoothGrad noisy copies per input (Smilkov et al. use 50)
    "smoothgrad_noise": 0.15,  # SmoothGrad noise sd as a fraction of the input's range
    "occlusion_background_size": 100,  # rows a table's leave-one-feature-out averages over
}
GRADIENT_METHODS = ("ig", "smoothgrad", "gradcam")  # methods that need gradients (no text models)
BASELINES = ("black", "blur", "mean", "noise")
SHAP_ALGORITHMS = ("auto", "exact", "permutation", "partition", "gradient", "deep")
TEXT_SPLIT = r"\W+"  # lime's default: a word is a run of letters, digits and underscores
# A text with no words left is read as one unknown word. Text models average their word vectors over the
# words present, so a text without any (LIME's sample with every word removed) would average nothing: NaN.
NO_WORDS = "zzznowordszzz"
_RNG_LOCK = threading.Lock()


@dataclass(frozen=True)
class Plan:
    """The algorithm and sizes an explanation will use, and the model evaluations (rows) it needs."""

    method: str
    algorithm: str
    n_rows: int
    n_features: int
    background_size: int
    samples: int
    n_targets: int
    model_rows: int

    def describe(self) -> str:
        """One sentence for people, shown before running."""
        per = {"exact": f"{self.samples:,} coalitions x {self.background_size} background rows",
               "permutation": f"{self.samples:,} evaluations x {self.background_size} background rows",
               "partition": f"{self.samples:,} evaluations x {self.background_size} background rows",
               "gradient": f"{self.samples} samples x {self.n_targets} class(es)",
               "deep": f"{self.background_size} background rows x {self.n_targets} class(es)",
               "lime-text": f"{self.samples:,} copies with words removed",
               "partition-text": f"up to {self.samples:,} copies with words removed (shap's word tree)"}
        how = per.get(self.algorithm, f"{self.samples:,} perturbed samples")
        if self.method in GRADIENT_METHODS:
            how = {"ig": f"{self.samples} interpolation points", "gradcam": "one gradient pass",
                   "smoothgrad": f"{self.samples:,} noisy gradient evaluations"}[self.method]
            return (f"{self.method.upper()} ({self.algorithm}) on {self.n_rows} input(s): {how} x {self.n_targets} "
                    f"class(es) per input, about {self.model_rows:,} model evaluations (a forward+backward pass "
                    "counts as one)")
        if self.method == "occlusion":
            how = f"{self.samples:,} occluded copies"
        return (f"{self.method.upper()} ({self.algorithm}) on {self.n_rows} input(s): {how} per input, "
                f"about {self.model_rows:,} model evaluations")


def _is_tabular(x: np.ndarray) -> bool:
    return x.ndim == 2


def make_plan(x: np.ndarray, method: str, n_outputs: int, background: np.ndarray | None = None,
              algorithm: str = "auto", target: Any = "predicted", background_size: int | None = None,
              nsamples: int | None = None, max_evals: int | None = None, num_samples: int | None = None,
              **_: Any) -> Plan:
    """Decide how ``x`` (model inputs, batch first) will be explained and what it will cost."""
    n, m = int(len(x)), int(np.prod(x.shape[1:]))
    k = n_outputs if target == "all" else 1
    if method == "lime":
        samples = int(num_samples or DEFAULTS["lime_tabular_samples" if _is_tabular(x) else "lime_image_samples"])
        bg = 0 if not _is_tabular(x) else int(len(background)) if background is not None else 0
        kind = "lime-tabular" if _is_tabular(x) else "lime-sequence" if x.ndim == 3 else "lime-image"
        return Plan("lime", kind, n, m, bg, samples, k, n * samples)
    if method != "shap":
        raise ExplainError(f"unknown method {method!r}; choose shap or lime")
    if algorithm not in SHAP_ALGORITHMS:
        raise ExplainError(f"unknown SHAP algorithm {algorithm!r}; choose one of {', '.join(SHAP_ALGORITHMS)}")
    if algorithm == "auto":
        algorithm = ("exact" if m <= EXACT_MAX_FEATURES else "permutation") if _is_tabular(x) else "gradient"
    if algorithm in ("exact", "permutation", "partition") and not _is_tabular(x):
        raise ExplainError(f"the {algorithm} explainer is for tables; use algorithm='gradient' for images")
    if algorithm == "exact" and m > 20:
        raise ExplainError(f"exact Shapley values over {m} features need 2**{m} coalitions; use 'permutation'")
    size = int(background_size or DEFAULTS["background_size"])
    bg = min(size, len(background)) if background is not None else size
    if algorithm == "exact":
        samples = 2 ** m
    elif algorithm in ("permutation", "partition"):
        samples = int(max_evals or DEFAULTS["max_evals"])
        if algorithm == "permutation" and samples < 2 * m + 1:
            raise ExplainError(f"max_evals must be at least 2 * features + 1 = {2 * m + 1}")
        samples = samples // (2 * m + 1) * (2 * m + 1) if algorithm == "permutation" else samples
    else:
        samples = int(nsamples or DEFAULTS["nsamples"])
    rows = n * samples * (bg if algorithm in ("exact", "permutation", "partition") else k)
    if algorithm == "deep":
        rows = n * bg * 2 * k
    return Plan("shap", algorithm, n, m, bg, samples, k, rows + n + bg)


def patch_starts(side: int, patch: int, stride: int) -> list[int]:
    """Where the occlusion patches along one side start: every ``stride`` pixels, the last one flush with the edge."""
    starts = list(range(0, side - patch + 1, stride))
    return starts if starts[-1] == side - patch else [*starts, side - patch]


def occlusion_patch(x: np.ndarray, patch: int | None = None, stride: int | None = None) -> tuple[int, int]:
    """The patch side (default 1/7 of the image's shorter side, rounded) and stride (default: the patch)."""
    side = min(x.shape[1:3])
    patch = int(patch if patch is not None else max(1, round(side / 7)))
    stride = int(stride if stride is not None else patch)
    if not 1 <= patch <= side:
        raise ExplainError(f"patch {patch} does not fit {x.shape[1]}x{x.shape[2]} images; choose 1 to {side}")
    if stride < 1:
        raise ExplainError(f"stride must be at least 1, not {stride}")
    return patch, stride


def check_baseline(baseline: Any, x: np.ndarray, background: np.ndarray | None) -> None:
    """Refuse a baseline the inputs cannot have, naming the choices."""
    if not isinstance(baseline, str):
        shape = np.shape(baseline)
        if shape not in (x.shape[1:], x.shape):
            raise ExplainError(f"a baseline array must be shaped {x.shape[1:]} or {x.shape}, not {shape}")
        return
    if baseline not in BASELINES:
        raise ExplainError(f"unknown baseline {baseline!r}; choose one of {', '.join(BASELINES)} or pass an array")
    if baseline == "blur" and x.ndim != 4:
        raise ExplainError("baseline 'blur' is for images; choose black, mean or noise")
    if baseline == "mean" and background is None:
        raise ExplainError("baseline 'mean' needs background rows; pass background= (e.g. training rows)")


def baseline_name(baseline: Any) -> str:
    return baseline if isinstance(baseline, str) else "array"


def method_plan(x: np.ndarray, method: str, n_outputs: int, background: np.ndarray | None = None,
                target: Any = "predicted", baseline: Any = "black", steps: int | None = None,
                n_samples: int | None = None, over: str | None = None, patch: int | None = None,
                stride: int | None = None, background_size: int | None = None, layer: str | None = None,
                **_: Any) -> Plan:
    """What ig, smoothgrad, gradcam or occlusion on ``x`` will run. Rows: every forward pass, a forward+backward
    pass counted once. The predictions come from the method's own passes where it can: IG's paths end at the
    inputs, Grad-CAM's pass is the model's, occlusion runs the inputs with their occluded copies; SmoothGrad runs
    the inputs beside their noisy copies (per class explained), SmoothGrad over IG once before its paths."""
    n, m = int(len(x)), int(np.prod(x.shape[1:]))
    k = n_outputs if target == "all" else 1
    steps = int(steps if steps is not None else DEFAULTS["ig_steps"])
    if method in ("ig", "smoothgrad") and (over == "ig" or method == "ig"):
        if steps < 2:
            raise ExplainError(f"steps must be at least 2 (the trapezoid rule needs both ends), not {steps}")
        check_baseline(baseline, x, background)
    if method == "ig":
        return Plan("ig", f"ig-{steps}-{baseline_name(baseline)}", n, m, 0, steps, k, n * steps * k)
    if method == "smoothgrad":
        if over not in (None, "gradient", "ig"):
            raise ExplainError(f"unknown over={over!r}; choose 'gradient' (plain SmoothGrad) or 'ig'")
        samples = int(n_samples if n_samples is not None else DEFAULTS["smoothgrad_samples"])
        if samples < 1:
            raise ExplainError(f"n_samples must be at least 1, not {samples}")
        if over == "ig":
            return Plan("smoothgrad", f"smoothgrad-ig-{samples}x{steps}-{baseline_name(baseline)}", n, m, 0,
                        samples * steps, k, n + n * samples * steps * k)
        return Plan("smoothgrad", f"smoothgrad-{samples}", n, m, 0, samples, k, n * k + n * samples * k)
    if method == "gradcam":
        return Plan("gradcam", f"gradcam-{layer or 'conv'}", n, m, 0, 1, k, n * k)  # predictions from its pass
    if method != "occlusion":
        raise ExplainError(f"unknown method {method!r}")
    return _occlusion_plan(x, k, background, baseline, patch, stride, background_size)


def _occlusion_plan(x: np.ndarray, k: int, background: np.ndarray | None, baseline: Any, patch: int | None,
                    stride: int | None, background_size: int | None) -> Plan:
    n, m = int(len(x)), int(np.prod(x.shape[1:]))
    if _is_tabular(x):
        if background is None:
            raise ExplainError("occlusion on a table needs background rows to replace each feature with; "
                               "pass background= (e.g. training rows)")
        bg = min(int(background_size or DEFAULTS["occlusion_background_size"]), len(background))
        return Plan("occlusion", "occlusion-features", n, m, bg, m * bg, k, n + n * m * bg)
    check_baseline(baseline, x, background)
    if x.ndim == 4:
        patch, stride = occlusion_patch(x, patch, stride)
        copies = len(patch_starts(x.shape[1], patch, stride)) * len(patch_starts(x.shape[2], patch, stride))
        return Plan("occlusion", f"occlusion-patch{patch}", n, m, 0, copies, k, n + n * copies)
    cells = int(np.prod(x.shape[1:]))
    return Plan("occlusion", "occlusion-cells", n, m, 0, cells, k, n + n * cells)


def text_occlusion_plan(texts: np.ndarray, n_outputs: int, target: Any = "predicted") -> Plan:
    """Occlusion on ``texts``: one copy per distinct word with every occurrence of that word removed."""
    from lime.lime_text import IndexedString

    words = [IndexedString(str(t), bow=True, split_expression=TEXT_SPLIT).num_words() for t in texts]
    n = int(len(texts))
    return Plan("occlusion", "occlusion-words", n, max(words, default=0), 0, max(words, default=0),
                n_outputs if target == "all" else 1, n + int(sum(words)))


def is_text_model(model: Any) -> bool:
    """Whether ``model`` takes strings (a text model with its own vectorizer) rather than numbers."""
    inputs = getattr(model, "inputs", None) or []
    return len(inputs) == 1 and str(getattr(inputs[0], "dtype", "")) == "string"


def text_plan(texts: np.ndarray, n_outputs: int, target: Any = "predicted", num_samples: int | None = None) -> Plan:
    """What LIME on ``texts`` will run: ``num_samples`` texts with words removed, per text."""
    n, samples = int(len(texts)), int(num_samples or DEFAULTS["lime_text_samples"])
    words = max((len(set(re.split(TEXT_SPLIT, str(t))) - {""}) for t in texts), default=0)
    return Plan("lime", "lime-text", n, words, 0, samples, n_outputs if target == "all" else 1, n * samples)


def summarize_background(background: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A seeded sample of ``size`` background rows (all rows when there are fewer).

    A sample rather than k-means: shap's tabular maskers weight every background row equally, and
    k-means centres stand for clusters of different sizes, so they would shift the base value.
    """
    import shap

    background = np.asarray(background, dtype=np.float32)
    if len(background) <= size:
        return background
    return np.asarray(shap.utils.sample(background, size, random_state=seed), dtype=np.float32)


@contextlib.contextmanager
def global_numpy_seed(seed: int) -> Iterator[None]:
    """Run code that draws from NumPy's global generator (parts of shap do) with ``seed``, one caller at a
    time, and give the caller's global state back afterwards."""
    with _RNG_LOCK:
        state = np.random.get_state()
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(state)


class BatchedPredict:
    """``predict_fn`` for shap and lime: the model's compiled predict step on large batches.

    Calls ``model.predict_on_batch`` on chunks of at least 512 rows (up to ~4M input values a chunk),
    returns float64 outputs shaped ``(rows, n_outputs)``, counts rows and reports progress against
    ``expected_rows``. ``channels`` converts images lime hands over as RGB back to the model's channels.
    """

    def __init__(self, model: Any, progress: Progress | None = None, expected_rows: int = 0,
                 channels: int | None = None, label: str = "explaining") -> None:
        self.model, self.progress, self.expected_rows = model, progress, max(1, int(expected_rows))
        self.channels, self.label = channels, label
        self.rows = 0
        self.calls = 0

    def count(self, rows: int) -> None:
        """Count one model call of ``rows`` rows (this object's or another's, such as a gradient step) and report
        the progress."""
        self.rows += rows
        self.calls += 1
        if self.progress is not None:
            self.progress(min(1.0, self.rows / self.expected_rows), f"{self.label}: {self.rows:,} model evaluations")

    def batch_size(self, row_size: int) -> int:
        return int(max(512, min(65536, (1 << 22) // max(1, row_size))))

    def __call__(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind in "OUS":  # texts stay strings
            x = np.array([t if re.search(r"[^\W_]", str(t)) else NO_WORDS for t in x.ravel()], dtype=object)
        else:
            x = x.astype(np.float32, copy=False)
        if self.channels is not None and x.shape[-1] != self.channels:
            x = x[..., : self.channels] if self.channels < x.shape[-1] else np.repeat(x, self.channels, axis=-1)
        step = self.batch_size(int(np.prod(x.shape[1:])))
        outs = []
        for start in range(0, len(x), step):
            out = np.asarray(self.model.predict_on_batch(x[start:start + step]), dtype=np.float64)
            outs.append(out.reshape(len(out), -1))
            self.count(len(out))
        if not outs:
            return np.zeros((0, 1))
        return np.concatenate(outs)


def text_shap_plan(texts: np.ndarray, n_outputs: int, target: Any = "predicted", max_evals: int | None = None,
                   tokens: Callable[[str], int] | None = None) -> Plan:
    """What SHAP's Partition explainer on ``texts`` will run: for a text of ``M`` words up to
    ``min(max_evals, M * (M - 1) + 2)`` masked copies (shap's own bound of a full expansion of the word tree;
    ``tokens`` counts a text's words as the model splits them), and one prediction per text."""
    evals = int(max_evals or DEFAULTS["max_evals"])
    if evals < 4:
        raise ExplainError(f"max_evals must be at least 4 (the empty text, the whole text and one split); got {evals}")
    count = tokens or (lambda t: len(str(t).split()))
    words = [int(count(str(t))) for t in texts]
    n = int(len(texts))
    rows = n + sum(min(evals, m * (m - 1) + 2) for m in words)
    return Plan("shap", "partition-text", n, max(words, default=0), 0, evals, n_outputs if target == "all" else 1,
                rows)
