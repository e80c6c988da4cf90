"""Generated texts and sensor series whose causes are known, for the sequence models and explanation checks.

- ``reviews`` (text): short film reviews of neutral filler words with one to three planted cue words; the
  verdict is the cue words' side (``POSITIVE_CUES`` or ``NEGATIVE_CUES``) and nothing else. The cue words never
  occur in the filler, so each review's cue positions follow from its words (``cue_flags``); the data set
  names them in ``Dataset.causes``.
- ``sensors`` (sequence): series of ``SENSORS`` readings; the class is where a bump in ``vibration`` sits (early,
  middle or late third). Each series' bump steps are its window, kept as a ``(steps,)`` boolean mask per row in
  ``Dataset.masks_*``. ``pressure`` carries a decoy bump of the same shape at random steps, ``temperature`` a
  cycle of random phase; neither says anything about the class.

Everything is drawn from a seed, so the same seed gives the same data.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlcore.data.dataset import Dataset
from dlcore.data.preprocess import Preprocessing
from dlcore.data.split import split_indices

REVIEW_CLASSES = ("negative", "positive")
POSITIVE_CUES = ("excellent", "superb", "wonderful", "delightful", "brilliant", "moving")
NEGATIVE_CUES = ("awful", "dreadful", "tedious", "clumsy", "terrible", "boring")
REVIEW_CUES = NEGATIVE_CUES + POSITIVE_CUES  # every word the verdict depends on
FILLER = tuple("""the a an this that film movie story plot scene scenes actor actors cast director camera music
score script ending start middle it was is were has had and but with of in on at to for from as by about after
before then later its their some very quite rather long short new old second first""".split())
REVIEW_WORDS = (12, 24)  # a review's length in words: from the first up to the second, both included
REVIEW_CUE_COUNT = (1, 3)  # planted cue words per review, both included

SENSORS = ("temperature", "vibration", "pressure")
SENSOR_CLASSES = ("early", "middle", "late")  # the third of the series the vibration bump sits in
SENSOR_STEPS = 48
BUMP_STEPS = 6  # the window: the bump's width in steps
BUMP_HEIGHT = 1.5
SENSOR_NOISE = 0.4


def make_reviews(n: int = 1200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``n`` reviews whose verdict depends on planted cue words only.

    Each review has ``REVIEW_WORDS`` words, lowercase, separated by single spaces: ``REVIEW_CUE_COUNT`` cue words
    from one side (``NEGATIVE_CUES`` for 0, ``POSITIVE_CUES`` for 1) at random positions, the rest ``FILLER``
    drawn at random. Classes alternate before shuffling, so they are balanced.

    Returns:
        Texts, a 1-D object array of ``n`` strings, and labels ``(n,)`` indexing ``REVIEW_CLASSES``.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(REVIEW_CLASSES)
    rng.shuffle(labels)
    texts = np.empty(n, dtype=object)
    filler = np.asarray(FILLER)
    for i, label in enumerate(labels):
        length = int(rng.integers(REVIEW_WORDS[0], REVIEW_WORDS[1] + 1))
        count = int(rng.integers(REVIEW_CUE_COUNT[0], REVIEW_CUE_COUNT[1] + 1))
        words = filler[rng.integers(0, len(filler), size=length)].astype(object)
        cues = POSITIVE_CUES if label == 1 else NEGATIVE_CUES
        places = rng.choice(length, size=count, replace=False)
        words[places] = rng.choice(cues, size=count)
        texts[i] = " ".join(words)
    return texts, labels.astype(np.int64)


def cue_flags(text: str, cues: Sequence[str] = REVIEW_CUES) -> np.ndarray:
    """For each word of ``text`` (split on white space), whether it is one of ``cues``: a review's cue positions.

    Returns:
        A boolean array with one entry per word, in the text's order.
    """
    wanted = {str(c).lower() for c in cues}
    return np.asarray([w.lower() in wanted for w in str(text).split()], dtype=bool)


def make_sensors(n: int = 1200, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate ``n`` series of ``SENSOR_STEPS`` steps of ``SENSORS``, the class set by a bump's place.

    ``vibration`` is noise plus a bump (a raised cosine, ``BUMP_STEPS`` wide, ``BUMP_HEIGHT`` high) that lies
    wholly in the early, middle or late third of the series: the class (``SENSOR_CLASSES``). ``pressure`` gets
    the same bump at random steps (a decoy), ``temperature`` a cycle of random phase and height; every sensor
    has Gaussian noise of ``SENSOR_NOISE``.

    Returns:
        Series ``(n, steps, 3)`` float32, labels ``(n,)`` indexing ``SENSOR_CLASSES``, and windows
        ``(n, steps)`` bool, True on each series' vibration bump: the ground truth for explanations.
    """
    rng = np.random.default_rng(seed)
    steps, third = SENSOR_STEPS, SENSOR_STEPS // len(SENSOR_CLASSES)
    labels = np.arange(n) % len(SENSOR_CLASSES)
    rng.shuffle(labels)
    x = rng.normal(0.0, SENSOR_NOISE, size=(n, steps, len(SENSORS)))
    bump = BUMP_HEIGHT * 0.5 * (1.0 - np.cos(2.0 * np.pi * (np.arange(BUMP_STEPS) + 1) / (BUMP_STEPS + 1)))
    t = np.arange(steps)
    windows = np.zeros((n, steps), dtype=bool)
    for i, label in enumerate(labels):
        phase, height = rng.uniform(0.0, 2.0 * np.pi), rng.uniform(0.5, 1.5)
        x[i, :, 0] += height * np.sin(2.0 * np.pi * t / steps + phase)
        start = label * third + int(rng.integers(0, third - BUMP_STEPS + 1))
        x[i, start:start + BUMP_STEPS, 1] += bump
        windows[i, start:start + BUMP_STEPS] = True
        decoy = int(rng.integers(0, steps - BUMP_STEPS + 1))
        x[i, decoy:decoy + BUMP_STEPS, 2] += bump
    return x.astype(np.float32), labels.astype(np.int64), windows


def load_reviews(validation_split: float, seed: int, n: int = 1200) -> Dataset:
    """The ``reviews`` data set: ``make_reviews(n, seed=0)`` split with ``seed``; ``causes`` holds the cue words."""
    texts, y = make_reviews(n, seed=0)
    tr, va = split_indices(len(y), validation_split, seed, y)
    description = (f"{n:,} generated film reviews of {REVIEW_WORDS[0]}-{REVIEW_WORDS[1]} words; the verdict depends "
                   f"on the {REVIEW_CUE_COUNT[0]}-{REVIEW_CUE_COUNT[1]} planted cue words only (negative: "
                   f"{', '.join(NEGATIVE_CUES)}; positive: {', '.join(POSITIVE_CUES)}); the rest is neutral filler. "
                   "Ground truth for explanations: a faithful one puts its weight on the cue words.")
    return Dataset(
        name="reviews", task="classification", modality="text",
        x_train=texts[tr], y_train=y[tr], x_val=texts[va], y_val=y[va], feature_names=("review",),
        class_names=REVIEW_CLASSES, preprocessing=Preprocessing("text", {"column": "review"}),
        description=description, causes=REVIEW_CUES,
    )


def load_sensors(validation_split: float, seed: int, n: int = 1200) -> Dataset:
    """The ``sensors`` data set: ``make_sensors(n, seed=0)`` split with ``seed``; ``masks_*`` hold the windows."""
    x, y, windows = make_sensors(n, seed=0)
    tr, va = split_indices(len(y), validation_split, seed, y)
    description = (f"{n:,} generated series of {SENSOR_STEPS} steps of {', '.join(SENSORS)}; the class (early, "
                   f"middle, late) is the third of the series where a {BUMP_STEPS}-step bump in vibration sits, and "
                   "those steps are kept as each series' window (ground truth for explanations); pressure has the "
                   "same bump at random steps as a decoy, temperature a cycle; the rest is noise.")
    return Dataset(
        name="sensors", task="classification", modality="sequence",
        x_train=x[tr], y_train=y[tr], x_val=x[va], y_val=y[va],
        feature_names=tuple(f"t{s}_{sensor}" for s in range(SENSOR_STEPS) for sensor in SENSORS),
        class_names=SENSOR_CLASSES, description=description, masks_train=windows[tr], masks_val=windows[va],
    )


__all__ = ["REVIEW_CUES", "SENSORS", "cue_flags", "load_reviews", "load_sensors", "make_reviews", "make_sensors"]
