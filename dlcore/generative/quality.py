"""How good are generated images? Scores computed offline with a classifier the project trained itself.

No Inception network can be downloaded here, so the feature extractor is the project's own classifier
for the same data set (``dlcore.generative.reference``): its last hidden layer gives the features for a
Frechet distance and a kernel (KID-style) distance, and its class probabilities give class coverage and
confidence. The memorisation check works on pixels: how far each sample is from its nearest training
image, against how far training images are from each other.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

MAX_KEPT = 1000  # distances kept in the report for its histogram


def _psd_sqrt(m: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(m)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (rows are samples), as in FID.

    Written out with NumPy (scikit-learn has none): the trace of sqrt(Ca Cb) is taken as the sum of the
    square roots of the eigenvalues of the symmetric sqrt(Ca) Cb sqrt(Ca), which stays exact when a
    covariance is singular (features that never fire), where a general matrix square root does not.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root_a = _psd_sqrt(cov_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)).sum()
    value = float(((a.mean(axis=0) - b.mean(axis=0)) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross)
    return max(value, 0.0)


def kernel_distance(a: np.ndarray, b: np.ndarray, subsets: int = 20, subset_size: int = 200,
                    seed: int = 0) -> tuple[float, float]:
    """Kernel distance as in KID: the unbiased squared MMD with the kernel (x.y / d + 1)^3, averaged over
    random subsets. Returns its mean and standard deviation; about 0 (possibly just below) for one
    distribution, larger the more two sets differ.
    """
    from sklearn.metrics.pairwise import polynomial_kernel

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    rng = np.random.default_rng(seed)
    m = int(min(subset_size, len(a), len(b)))
    gamma = 1.0 / a.shape[1]
    values = []
    for _ in range(subsets):
        x, y = a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)]
        kxx = polynomial_kernel(x, degree=3, gamma=gamma, coef0=1)
        kyy = polynomial_kernel(y, degree=3, gamma=gamma, coef0=1)
        kxy = polynomial_kernel(x, y, degree=3, gamma=gamma, coef0=1)
        off = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(off - 2.0 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def class_coverage(proba: np.ndarray) -> dict[str, Any]:
    """Which classes the classifier sees in the samples: counts, entropy (nats), classes present, and
    its mean confidence (the top probability)."""
    from scipy.stats import entropy

    proba = np.asarray(proba, np.float64)
    k = proba.shape[1]
    counts = np.bincount(proba.argmax(axis=1), minlength=k)
    return {"class_counts": counts.tolist(), "class_entropy": float(entropy(counts / max(1, counts.sum()))),
            "max_entropy": float(np.log(k)), "classes_present": int((counts > 0).sum()), "n_classes": int(k),
            "mean_confidence": float(proba.max(axis=1).mean())}


@dataclass(frozen=True)
class Memorisation:
    """Nearest-training-image distances of samples against those between training images.

    ``copy_threshold`` is the 1st percentile of the training-to-training distances: a sample closer than
    that to a training image is counted as a copy (about 1% of the samples of a model that draws new
    images from the data distribution fall there, by construction). The check passes when at most
    ``max_copy_fraction`` of the samples are copies (not memorised) and the median sample is at most
    ``max_near_ratio`` times as far from its nearest training image as the median training image is from
    its nearest other one (near the data, not noise).
    """

    sample_median: float
    train_median: float
    copy_threshold: float
    copy_fraction: float
    near_ratio: float
    passed: bool
    max_copy_fraction: float = 0.05
    max_near_ratio: float = 1.5
    sample_distances: list[float] = field(default_factory=list)
    train_distances: list[float] = field(default_factory=list)


def memorisation(samples: np.ndarray, train: np.ndarray, max_copy_fraction: float = 0.05,
                 max_near_ratio: float = 1.5) -> Memorisation:
    """The memorisation check on pixels (Euclidean distance between flattened images)."""
    from sklearn.neighbors import NearestNeighbors

    train = np.asarray(train, np.float32).reshape(len(train), -1)
    samples = np.asarray(samples, np.float32).reshape(len(samples), -1)
    index = NearestNeighbors(n_neighbors=2).fit(train)
    train_nn = index.kneighbors(train, n_neighbors=2, return_distance=True)[0][:, 1]  # [:, 0] is itself
    sample_nn = index.kneighbors(samples, n_neighbors=1, return_distance=True)[0][:, 0]
    threshold = float(np.percentile(train_nn, 1))
    copies = float((sample_nn < threshold).mean())
    ratio = float(np.median(sample_nn) / max(float(np.median(train_nn)), 1e-12))
    return Memorisation(
        sample_median=float(np.median(sample_nn)), train_median=float(np.median(train_nn)),
        copy_threshold=threshold, copy_fraction=copies, near_ratio=ratio,
        passed=bool(copies <= max_copy_fraction and ratio <= max_near_ratio),
        max_copy_fraction=max_copy_fraction, max_near_ratio=max_near_ratio,
        sample_distances=np.round(sample_nn[:MAX_KEPT], 4).tolist(),
        train_distances=np.round(train_nn[:MAX_KEPT], 4).tolist())


def features(classifier: Any, *image_sets: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The classifier's last hidden layer (features) and class probabilities for each set of images
    (one pass over all of them)."""
    import keras

    head = classifier.get_layer("output")
    both = keras.Model(classifier.input, [head.input, head.output])
    x = np.concatenate([np.asarray(s, np.float32) for s in image_sets])
    parts = [both(x[i:i + 512], training=False) for i in range(0, len(x), 512)]  # eager: no retracing
    feats = np.concatenate([keras.ops.convert_to_numpy(f) for f, _ in parts]).astype(np.float64).reshape(len(x), -1)
    proba = np.concatenate([keras.ops.convert_to_numpy(p) for _, p in parts]).astype(np.float64)
    ends = np.cumsum([len(s) for s in image_sets])[:-1]
    return list(zip(np.split(feats, ends), np.split(proba, ends)))


def quality_report(samples: np.ndarray, train: np.ndarray, held_out: np.ndarray, classifier: Any,
                   seed: int = 0, labels: np.ndarray | None = None) -> dict[str, Any]:
    """Every score for ``samples`` against the ``train`` images; ``held_out`` real images scored the same
    way give the floor a perfect generator would reach. ``labels``: the classes a conditional model was
    asked for, giving ``label_agreement`` (the share the classifier labels as asked)."""
    (f_train, _), (f_held, p_held), (f_gen, p_gen) = features(classifier, train, held_out, samples)
    kid, kid_std = kernel_distance(f_gen, f_train, seed=seed)
    kid_floor, _ = kernel_distance(f_held, f_train, seed=seed)
    coverage = class_coverage(p_gen)
    return {
        "kind": "generative", "n_samples": int(len(samples)), "seed": int(seed),
        "frechet_distance": frechet_distance(f_gen, f_train), "frechet_floor": frechet_distance(f_held, f_train),
        "kernel_distance": kid, "kernel_distance_std": kid_std, "kernel_floor": kid_floor,
        **coverage, "real_confidence": class_coverage(p_held)["mean_confidence"],
        "memorisation": asdict(memorisation(samples, train)), "conditional": labels is not None,
        "label_agreement": None if labels is None else float((p_gen.argmax(axis=1) == np.asarray(labels)).mean()),
    }
