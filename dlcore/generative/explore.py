"""What the Generate page shows of a VAE or GAN, computed: the latent map, the most used latent dimensions,
traversal sweeps, interpolation paths, reconstructions and the layout of a sample grid.

NumPy in, NumPy (or a small frozen record) out, through ``dlcore.generative.sampling``; no widgets and no
figures (``dlcore.plots`` draws them). Every choice of rows takes a ``seed``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcore.generative import sampling

TRAVERSE_DIMS = 6  # latent dimensions offered for traversal
SWEEP_VALUES = np.linspace(-3.0, 3.0, 9)  # where each dimension is held in a traversal sweep
SWEEP_LIMIT = 3.0  # a traversal slider's range: -SWEEP_LIMIT .. SWEEP_LIMIT


def encodes(model: Any) -> bool:
    """Whether the model maps images to latent codes (a VAE; a GAN has no encoder)."""
    return hasattr(model, "encoder")


# --- samples -------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SampleLayout:
    """How a grid of samples is drawn: the classes asked for (None: unconditional), how many, and a row's length."""

    labels: np.ndarray | None
    n: int
    per_row: int


def sample_layout(n_classes: int, count: int) -> SampleLayout:
    """``count`` samples of each of ``n_classes`` classes, a row per class; or, without classes, ``count``
    samples in a near-square grid."""
    if n_classes:
        return SampleLayout(np.repeat(np.arange(int(n_classes)), int(count)), int(count) * int(n_classes), int(count))
    return SampleLayout(None, int(count), int(np.ceil(np.sqrt(int(count)))))


# --- the latent map ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LatentMap:
    """Images placed in 2-D: their latent means (``codes``), the 2-D ``points`` (the codes themselves when the
    latent has two numbers, else their first two principal components), the axes' ``titles``, and the
    linear map back (``center + point @ components``; None when the points are the codes)."""

    codes: np.ndarray
    points: np.ndarray
    titles: tuple[str, str]
    center: np.ndarray | None = None
    components: np.ndarray | None = None

    def code_at(self, u: float, v: float) -> np.ndarray:
        """The latent code (1, latent_dim) at the place ``(u, v)`` of the map."""
        point = np.array([[u, v]], np.float64)
        if self.components is None:
            return point.astype(np.float32)
        return (self.center + point @ self.components).astype(np.float32)

    def axis_range(self, axis: int) -> tuple[float, float, float]:
        """The lowest, highest and median value of the points along ``axis`` (0 or 1)."""
        values = self.points[:, axis]
        return float(values.min()), float(values.max()), float(np.median(values))


def latent_map(model: Any, x: np.ndarray, labels: Any = None) -> LatentMap:
    """Encode images ``x`` (classes ``labels`` for a conditional VAE) and place them in 2-D."""
    from sklearn.decomposition import PCA

    mean, _ = sampling.encode(model, x, labels)
    if mean.shape[1] == 2:
        return LatentMap(mean, mean.astype(np.float64), ("z1", "z2"))
    pca = PCA(2, random_state=0).fit(mean)
    titles = tuple(f"PC{i + 1} ({v:.0%} of variance)" for i, v in enumerate(pca.explained_variance_ratio_))
    return LatentMap(mean, pca.transform(mean), (titles[0], titles[1]), pca.mean_.astype(np.float64),
                     pca.components_.astype(np.float64))


def picked_images(model: Any, lmap: LatentMap, x: np.ndarray, labels: Any, rows: list[int]) -> np.ndarray:
    """The images at ``rows`` of the map, then their decodings (from their latent means)."""
    rows = list(rows)
    decoded = sampling.decode(model, lmap.codes[rows], None if labels is None else np.asarray(labels)[rows])
    return np.concatenate([np.asarray(x)[rows], decoded])


# --- latent dimensions and traversal -------------------------------------------------------------------


def kl_per_dimension(mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """Mean KL divergence (nats) of each latent dimension's posterior from the standard normal prior, over rows:
    ``0.5 * (mean**2 + exp(log_var) - 1 - log_var)``."""
    mean, log_var = np.asarray(mean, np.float64), np.asarray(log_var, np.float64)
    return (0.5 * (mean**2 + np.exp(log_var) - 1.0 - log_var)).mean(axis=0)


@dataclass(frozen=True, eq=False)
class LatentDimensions:
    """Latent dimensions to offer, in order (``dims``), a label for each, and their mean KL (None: not measured)."""

    dims: np.ndarray
    labels: tuple[str, ...]
    kl: np.ndarray | None = None


def active_dimensions(model: Any, x: np.ndarray | None = None, labels: Any = None,
                      count: int = TRAVERSE_DIMS) -> LatentDimensions:
    """A VAE's ``count`` most used latent dimensions (highest mean KL over images ``x``: with beta > 0 some go
    unused), labelled with their KL; for a GAN, or without images, the first ``count``."""
    count = min(int(count), int(model.latent_dim))
    if not encodes(model) or x is None:
        return LatentDimensions(np.arange(count), tuple(f"z{d + 1}" for d in range(count)))
    mean, log_var = sampling.encode(model, x, labels)
    kl = kl_per_dimension(mean, log_var)
    order = np.argsort(-kl, kind="stable")[:count]
    return LatentDimensions(order, tuple(f"z{d + 1} ({kl[d]:.2f} nats)" for d in order), kl)


@dataclass(frozen=True, eq=False)
class Start:
    """Where a traversal or an interpolation starts: a latent code (latent_dim,), its class vector (1, n_classes)
    or None, the class index or None, and the image it encodes (None for a seed's code)."""

    code: np.ndarray
    classes: np.ndarray | None
    label: int | None = None
    image: np.ndarray | None = None


def image_start(model: Any, x: np.ndarray, labels: Any, row: int) -> Start:
    """The latent mean of image ``row`` of ``x`` (a VAE), with its class when the model is conditional."""
    y = None if labels is None else np.asarray(labels)[row:row + 1]
    mean, _ = sampling.encode(model, np.asarray(x)[row:row + 1], y)
    label = int(y[0]) if model.n_classes and y is not None else None
    return Start(mean[0], sampling.class_vectors(model, y, 1), label, np.asarray(x)[row])


def seed_start(model: Any, seed: int, label: int | None = None) -> Start:
    """The seeded noise code a GAN (or a VAE) draws from, with class ``label`` when it is conditional."""
    label = int(label) if model.n_classes and label is not None else (0 if model.n_classes else None)
    return Start(sampling.noise(1, model.latent_dim, seed)[0], sampling.class_vectors(model, label, 1), label)


def first_other_class(labels: np.ndarray) -> int:
    """The first row whose class differs from row 0's (0 when every row has the same class)."""
    labels = np.asarray(labels)
    return int(np.argmax(labels != labels[0])) if len(labels) else 0


def traversal_sweep(code: np.ndarray, dims: Any, values: Any = SWEEP_VALUES) -> np.ndarray:
    """Codes (len(dims) * len(values), latent_dim): for each dimension in ``dims`` in turn, ``code`` with that
    dimension held at each of ``values`` and the others as in ``code``."""
    code, values, dims = np.asarray(code, np.float32).ravel(), np.asarray(values, np.float32), list(dims)
    sweep = np.repeat(code[None], len(dims) * len(values), axis=0)
    for i, d in enumerate(dims):
        sweep[i * len(values):(i + 1) * len(values), int(d)] = values
    return sweep


def slider_start(code: np.ndarray, dim: int) -> float:
    """Where a traversal slider for ``dim`` starts: the code's value, within the sliders' range."""
    return float(np.clip(np.asarray(code).ravel()[int(dim)], -SWEEP_LIMIT, SWEEP_LIMIT))


# --- interpolation and reconstruction ------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class InterpolationPath:
    """An interpolation decoded: the images (the endpoints' own images first and last when they have them)
    and a name for each column (``A``, the fractions along the path, ``B``)."""

    images: np.ndarray
    names: tuple[str, ...]
    codes: np.ndarray
    classes: np.ndarray | None


def interpolation(model: Any, a: Start, b: Start, steps: int) -> InterpolationPath:
    """``steps`` codes from ``a`` to ``b`` decoded: straight between two images' codes (a VAE), along the great
    circle between two seeds' noise (a GAN); a conditional model's class vector moves from one class to the
    other too."""
    steps = max(2, int(steps))
    codes = sampling.interpolate(a.code, b.code, steps, spherical=not encodes(model))
    classes = None if a.classes is None or b.classes is None else sampling.interpolate(a.classes, b.classes, steps)
    images = sampling.decode(model, codes, classes)
    names = tuple(f"{t:.2f}" for t in np.linspace(0, 1, steps))
    if a.image is not None and b.image is not None:
        images, names = np.concatenate([a.image[None], images, b.image[None]]), ("A", *names, "B")
    return InterpolationPath(images, names, codes, classes)


@dataclass(frozen=True, eq=False)
class Reconstruction:
    """Seeded validation rows, their images and reconstructions, and the mean absolute pixel error."""

    rows: np.ndarray
    originals: np.ndarray
    decoded: np.ndarray
    error: float

    @property
    def images(self) -> np.ndarray:
        """The originals, then their reconstructions (two rows of a grid)."""
        return np.concatenate([self.originals, self.decoded])


def reconstruction(model: Any, x: np.ndarray, labels: Any, n: int, seed: int = 0) -> Reconstruction:
    """``n`` rows of ``x`` drawn without replacement (the same for the same seed), decoded from their latent
    means, with the mean absolute difference between images and reconstructions."""
    x = np.asarray(x)
    rows = np.random.default_rng(seed).choice(len(x), size=min(int(n), len(x)), replace=False)
    originals = x[rows]
    decoded = sampling.reconstruct(model, originals, None if labels is None else np.asarray(labels)[rows])
    return Reconstruction(rows, originals, decoded, float(np.abs(decoded - originals).mean()))
