"""Built-in data sets. All offline: scikit-learn's bundled tables and images, generated shapes, a generated
table whose causes are known (``causes``), a generated table with a known bias (``hiring``), and generated
texts and sensor series whose causes are known (``reviews``, ``sensors``: ``dlcore.data.sequences``)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from dlcore.data.dataset import Dataset
from dlcore.data.preprocess import Preprocessing, fit_numeric
from dlcore.data.split import split_indices
from dlcore.errors import DataError

SHAPE_CLASSES = ("circle", "square", "triangle", "cross")
CAUSE_FEATURES = tuple(f"f{j}" for j in range(10))  # the ``causes`` table's columns
CAUSES = ("f1", "f4", "f8")  # the features the target depends on
CAUSE_WEIGHTS = (3.5, -3.0, 2.5)  # their weights in the target's logit
DISTRACTORS = {"f3": "f4", "f6": "f1"}  # distractor -> the cause it is correlated with; unused by the target
DISTRACTOR_CORRELATION = 0.75


@dataclass(frozen=True)
class BuiltinInfo:
    """What the data set list shows before anything is loaded."""

    name: str
    task: str
    modality: str
    description: str


def _tabular(name: str, bunch, task: str, validation_split: float, seed: int, description: str) -> Dataset:
    x = np.asarray(bunch.data, dtype=np.float64)
    names = [str(n) for n in bunch.feature_names]
    classification = task == "classification"
    y = bunch.target.astype(np.int64 if classification else np.float32)
    tr, va = split_indices(len(x), validation_split, seed, y if classification else None)
    prep = fit_numeric(x[tr], names)
    return Dataset(
        name=name, task=task, modality="tabular",  # type: ignore[arg-type]
        x_train=prep.transform(x[tr]), y_train=y[tr], x_val=prep.transform(x[va]), y_val=y[va],
        feature_names=tuple(names),
        class_names=tuple(str(c) for c in bunch.target_names) if classification else (),
        preprocessing=prep, description=description,
    )


def _digits(validation_split: float, seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.float32)[..., None]  # (n, 8, 8, 1), values 0..16
    y = bunch.target.astype(np.int64)
    tr, va = split_indices(len(y), validation_split, seed, y)
    prep = Preprocessing("image", {"height": 8, "width": 8, "channels": 1, "scale": 1.0 / 16.0})
    return Dataset(
        name="digits", task="classification", modality="image",
        x_train=prep.transform(images[tr]), y_train=y[tr], x_val=prep.transform(images[va]), y_val=y[va],
        feature_names=tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8)),
        class_names=tuple(str(c) for c in range(10)), preprocessing=prep,
        description="1,797 handwritten digits as 8x8 grey images, 10 classes (UCI, via scikit-learn).",
    )


def make_shapes(n: int = 2000, size: int = 28, seed: int = 0,
                outline: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate ``n`` noisy grey images of one shape each, with the shape's mask.

    Returns images (n, size, size) in [0, 1], labels (n,) indexing ``SHAPE_CLASSES``, and boolean masks
    (n, size, size) that are True on the drawn object: the ground truth for explanation checks.
    ``outline=True`` draws only each shape's one-pixel border instead of the filled shape.
    """
    from scipy.ndimage import binary_erosion
    from skimage.draw import disk, polygon

    rng = np.random.default_rng(seed)
    images = np.zeros((n, size, size), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=bool)
    labels = np.arange(n) % len(SHAPE_CLASSES)
    rng.shuffle(labels)
    for i, label in enumerate(labels):
        r = rng.uniform(0.18, 0.32) * size  # half-size of the object
        cy, cx = rng.uniform(r + 1, size - r - 1, size=2)
        mask = masks[i]
        if label == 0:
            mask[disk((cy, cx), r, shape=mask.shape)] = True
        elif label == 1:
            h = r * 0.85
            mask[polygon([cy - h, cy - h, cy + h, cy + h], [cx - h, cx + h, cx + h, cx - h], mask.shape)] = True
        elif label == 2:
            mask[polygon([cy - r, cy + r, cy + r], [cx, cx - r, cx + r], mask.shape)] = True
        else:
            t = max(1.5, r * 0.3)
            mask[polygon([cy - t, cy - t, cy + t, cy + t], [cx - r, cx + r, cx + r, cx - r], mask.shape)] = True
            mask[polygon([cy - r, cy - r, cy + r, cy + r], [cx - t, cx + t, cx + t, cx - t], mask.shape)] = True
        if outline:
            mask &= ~binary_erosion(mask)
        intensity = rng.uniform(0.6, 1.0)
        images[i] = np.where(mask, intensity, 0.0) + rng.normal(0.0, 0.08, size=(size, size))
    return np.clip(images, 0.0, 1.0), labels.astype(np.int64), masks


def _shapes(validation_split: float, seed: int, outline: bool = False) -> Dataset:
    images, y, masks = make_shapes(seed=1 if outline else 0, outline=outline)
    tr, va = split_indices(len(y), validation_split, seed, y)
    prep = Preprocessing("image", {"height": 28, "width": 28, "channels": 1, "scale": 1.0})
    if outline:
        description = ("2,000 generated 28x28 images of the same four shapes drawn as outlines only, with noise; "
                       "new data for fine-tuning the shipped base model trained on filled shapes.")
    else:
        description = ("2,000 generated 28x28 images of circles, squares, triangles and crosses at random "
                       "places and sizes, with noise; each comes with its object mask (ground truth for explanations).")
    return Dataset(
        name="shapes_outline" if outline else "shapes", task="classification", modality="image",
        x_train=prep.transform(images[tr]), y_train=y[tr], x_val=prep.transform(images[va]), y_val=y[va],
        feature_names=tuple(f"pixel_{r}_{c}" for r in range(28) for c in range(28)),
        class_names=SHAPE_CLASSES, preprocessing=prep, description=description,
        masks_train=masks[tr], masks_val=masks[va],
    )


def make_causes(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generate a table of ``n`` rows over ``CAUSE_FEATURES`` whose binary target has known causes.

    Every feature is standard normal. The target is drawn from a logistic of ``CAUSE_WEIGHTS`` times the
    ``CAUSES`` (about 90% of labels agree with the sign of the logit); each of ``DISTRACTORS`` is correlated
    with its cause (``DISTRACTOR_CORRELATION``) but unused by the target; the other five are pure noise.
    Returns features (n, 10) and labels (n,) in {0, 1}.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(CAUSE_FEATURES)))
    col = {name: j for j, name in enumerate(CAUSE_FEATURES)}
    r = DISTRACTOR_CORRELATION
    for distractor, cause in DISTRACTORS.items():
        x[:, col[distractor]] = r * x[:, col[cause]] + np.sqrt(1.0 - r * r) * x[:, col[distractor]]
    logit = x[:, [col[c] for c in CAUSES]] @ np.asarray(CAUSE_WEIGHTS)
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return x, y


def _causes(validation_split: float, seed: int) -> Dataset:
    from sklearn.utils import Bunch

    x, y = make_causes()
    distractors = " and ".join(DISTRACTORS)
    description = (f"2,000 generated rows, 10 numeric features, binary target: the target depends on "
                   f"{', '.join(CAUSES)}; {distractors} are correlated with a cause but unused; the rest is noise. "
                   "Ground truth for explanations: a faithful one puts its weight on the causes.")
    bunch = Bunch(data=x, feature_names=list(CAUSE_FEATURES), target=y, target_names=["0", "1"])
    ds = _tabular("causes", bunch, "classification", validation_split, seed, description)
    return replace(ds, causes=CAUSES)


def _sk(loader: str, name: str, task: str, description: str) -> Callable[[float, int], Dataset]:
    def load(validation_split: float, seed: int) -> Dataset:
        import sklearn.datasets as skd

        return _tabular(name, getattr(skd, loader)(), task, validation_split, seed, description)

    return load


_LOADERS: dict[str, tuple[BuiltinInfo, Callable[[float, int], Dataset]]] = {}


def _register(info: BuiltinInfo, loader: Callable[[float, int], Dataset]) -> None:
    _LOADERS[info.name] = (info, loader)


_register(BuiltinInfo("digits", "classification", "image", "8x8 handwritten digits, 10 classes, 1,797 images"),
          _digits)
_register(BuiltinInfo("shapes", "classification", "image",
                      "28x28 generated shapes with ground-truth masks, 4 classes"), _shapes)
_register(BuiltinInfo("shapes_outline", "classification", "image",
                      "the same 4 shapes drawn as outlines: new data for fine-tuning"),
          lambda validation_split, seed: _shapes(validation_split, seed, outline=True))
for _name, _loader, _task, _desc in [
    ("breast_cancer", "load_breast_cancer", "classification",
     "Wisconsin breast cancer: 569 tumours, 30 measurements, malignant or benign"),
    ("iris", "load_iris", "classification", "Fisher's iris: 150 flowers, 4 measurements, 3 species"),
    ("wine", "load_wine", "classification", "178 wines, 13 chemical measurements, 3 cultivars"),
    ("diabetes", "load_diabetes", "regression",
     "442 patients, 10 baseline measurements; target: disease progression after a year"),
]:
    _register(BuiltinInfo(_name, _task, "tabular", _desc), _sk(_loader, _name, _task, _desc))
_register(BuiltinInfo("causes", "classification", "tabular",
                      f"generated table with known causes: the target depends on {', '.join(CAUSES)} only; "
                      f"{' and '.join(DISTRACTORS)} are correlated with a cause but unused; the rest is noise"),
          _causes)


def _hiring(validation_split: float, seed: int) -> Dataset:
    from dlcore.data.hiring import load_hiring

    return load_hiring(validation_split, seed)


_register(BuiltinInfo("hiring", "classification", "tabular",
                      "generated job candidates whose historical labels are biased against women; 'sex' is kept "
                      "out of the inputs for the fairness audit and 'club' carries it"), _hiring)


def _reviews(validation_split: float, seed: int) -> Dataset:
    from dlcore.data.sequences import load_reviews

    return load_reviews(validation_split, seed)


def _sensors(validation_split: float, seed: int) -> Dataset:
    from dlcore.data.sequences import load_sensors

    return load_sensors(validation_split, seed)


_register(BuiltinInfo("reviews", "classification", "text",
                      "generated film reviews: the verdict depends on 1-3 planted cue words (awful, superb, ...); "
                      "the rest is neutral filler"), _reviews)
_register(BuiltinInfo("sensors", "classification", "sequence",
                      "generated sensor series, 48 steps of 3 sensors: the class is where a bump in vibration sits "
                      "(early, middle, late), its steps kept as the window; a decoy bump in pressure"), _sensors)


def builtin_names() -> list[str]:
    """Names of the built-in data sets, in display order."""
    return list(_LOADERS)


def list_builtin() -> list[BuiltinInfo]:
    """Describe the built-in data sets without loading them."""
    return [info for info, _ in _LOADERS.values()]


def load_builtin(name: str, validation_split: float = 0.2, seed: int = 0) -> Dataset:
    """Load a built-in data set by name, split with ``seed`` (stratified for classification)."""
    if name not in _LOADERS:
        raise DataError(f"no built-in data set {name!r}; choose one of {', '.join(_LOADERS)}")
    return _LOADERS[name][1](validation_split, seed)
