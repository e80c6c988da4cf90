"""The built-in ``reviews`` (text) and ``sensors`` (sequence) sets: seeded, their labels decided by the planted
causes and by nothing else (checked with scikit-learn models on the parts), listed with their modality, and
learnt by the rnn and the transformer to at least 0.8 validation accuracy in 10 epochs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dlcore.data import Dataset, load_builtin
from dlcore.data.sequences import (
    BUMP_STEPS,
    FILLER,
    NEGATIVE_CUES,
    POSITIVE_CUES,
    REVIEW_CLASSES,
    REVIEW_CUES,
    SENSOR_CLASSES,
    SENSOR_STEPS,
    SENSORS,
    cue_flags,
    make_reviews,
    make_sensors,
)


@pytest.fixture(scope="module")
def reviews() -> Dataset:
    return load_builtin("reviews")


@pytest.fixture(scope="module")
def sensors() -> Dataset:
    return load_builtin("sensors")


def _cv_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    return float(cross_val_score(LogisticRegression(max_iter=2000), x, y, cv=3).mean())


def test_reviews_verdict_is_the_side_of_its_cue_words(reviews: Dataset) -> None:
    assert reviews.modality == "text" and reviews.class_names == REVIEW_CLASSES == ("negative", "positive")
    assert reviews.causes == REVIEW_CUES and not set(REVIEW_CUES) & set(FILLER)
    assert reviews.n_train + reviews.n_val == 1200 and reviews.x_train.dtype == object and reviews.x_train.ndim == 1
    assert reviews.preprocessing.kind == "text" and reviews.feature_names == ("review",)
    assert all(cue in reviews.description for cue in REVIEW_CUES) and "filler" in reviews.description
    assert abs(float(reviews.labels().mean()) - 0.5) < 0.01
    for text, label in zip(np.concatenate([reviews.x_train, reviews.x_val]), reviews.labels()):
        words, flags = text.split(), cue_flags(text)
        assert 12 <= len(words) <= 24 and 1 <= flags.sum() <= 3 and text == " ".join(words)
        side = POSITIVE_CUES if label == 1 else NEGATIVE_CUES
        assert all(w in side for w, f in zip(words, flags) if f) and all(w in FILLER for w, f in zip(words, flags)
                                                                          if not f)


def test_only_the_cue_words_carry_the_verdict(reviews: Dataset) -> None:
    from sklearn.feature_extraction.text import CountVectorizer

    texts, y = np.concatenate([reviews.x_train, reviews.x_val]), reviews.labels()
    on_cues = _cv_accuracy(CountVectorizer(vocabulary=REVIEW_CUES).fit_transform(texts), y)
    on_filler = _cv_accuracy(CountVectorizer(vocabulary=sorted(set(FILLER))).fit_transform(texts), y)
    print(f"bag-of-words logistic regression, 3-fold accuracy: cue words {on_cues:.3f}, filler {on_filler:.3f}")
    assert on_cues == 1.0 and 0.4 < on_filler < 0.6  # chance: 0.5


def test_cue_flags_mark_the_planted_words() -> None:
    assert cue_flags("the Superb film was boring").tolist() == [False, True, False, False, True]
    assert cue_flags("a b c", cues=("b",)).tolist() == [False, True, False]


def test_sensors_class_is_where_the_vibration_bump_sits(sensors: Dataset) -> None:
    assert sensors.modality == "sequence" and sensors.class_names == SENSOR_CLASSES
    assert sensors.input_shape == (SENSOR_STEPS, len(SENSORS)) and sensors.x_train.dtype == np.float32
    assert len(sensors.feature_names) == SENSOR_STEPS * len(SENSORS) and sensors.feature_names[4] == "t1_vibration"
    assert sensors.preprocessing.kind == "identity" and "vibration" in sensors.description
    windows = np.concatenate([sensors.masks_train, sensors.masks_val])
    assert windows.shape == (1200, SENSOR_STEPS) and windows.dtype == bool
    third = SENSOR_STEPS // 3
    for window, label in zip(windows, sensors.labels()):
        steps = np.flatnonzero(window)
        assert len(steps) == BUMP_STEPS and steps[-1] - steps[0] == BUMP_STEPS - 1  # one run of steps
        assert label * third <= steps[0] and steps[-1] < (label + 1) * third
    x = np.concatenate([sensors.x_train, sensors.x_val])
    vibration = x[..., 1]
    assert vibration[windows].mean() > 0.8 and abs(vibration[~windows].mean()) < 0.05


def test_only_the_vibration_sensor_tells_the_classes_apart(sensors: Dataset) -> None:
    x, y = np.concatenate([sensors.x_train, sensors.x_val]), sensors.labels()
    scores = {name: _cv_accuracy(x[..., j], y) for j, name in enumerate(SENSORS)}
    print("logistic regression on one sensor's steps, 3-fold accuracy:", {k: round(v, 3) for k, v in scores.items()})
    assert scores["vibration"] > 0.9
    assert all(0.2 < scores[s] < 0.45 for s in ("temperature", "pressure"))  # chance: 1/3; pressure holds the decoy


def test_generators_are_seeded() -> None:
    texts, y = make_reviews(n=30, seed=3)
    again, y_again = make_reviews(n=30, seed=3)
    other, _ = make_reviews(n=30, seed=4)
    assert texts.tolist() == again.tolist() and np.array_equal(y, y_again) and texts.tolist() != other.tolist()
    x, labels, windows = make_sensors(n=30, seed=3)
    x2, labels2, windows2 = make_sensors(n=30, seed=3)
    assert np.array_equal(x, x2) and np.array_equal(labels, labels2) and np.array_equal(windows, windows2)
    assert not np.allclose(x, make_sensors(n=30, seed=4)[0])


def test_the_split_is_seeded_and_stratified() -> None:
    a, b = load_builtin("sensors", seed=1), load_builtin("sensors", seed=1)
    c = load_builtin("sensors", seed=2)
    assert np.array_equal(a.x_val, b.x_val) and not np.array_equal(a.x_val, c.x_val)
    assert np.bincount(a.y_val).tolist() == [80, 80, 80]
    assert np.array_equal(a.masks_val, b.masks_val) and a.masks_val.shape == (240, SENSOR_STEPS)


def test_datasets_command_lists_every_modality(capsys: pytest.CaptureFixture, home: Path) -> None:
    from dlcore.__main__ import main

    assert main(["datasets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["datasets"]
    modality = {r["name"]: r["modality"] for r in rows}
    assert modality["reviews"] == "text" and modality["sensors"] == "sequence" and modality["digits"] == "image"
    assert set(modality.values()) <= {"tabular", "image", "text", "sequence"}


# (data, arch): the knobs, batch size and learning rate. The reviews are padded to the text models' 200 tokens,
# so they train small models in large batches to stay cheap.
TRAINING = {
    ("reviews", "rnn"): (dict(cell="gru", seq_units=(16,), units=(16,)), 100, 1e-2),
    ("reviews", "transformer"): (dict(seq_units=(16,), units=(16,), heads=2), 100, 1e-2),
    ("sensors", "rnn"): ({}, 32, 3e-3),
    ("sensors", "transformer"): ({}, 32, 3e-3),
}


@pytest.mark.slow
@pytest.mark.parametrize("data,arch", list(TRAINING), ids=[f"{d}-{a}" for d, a in TRAINING])
def test_sequence_models_learn_the_builtin_sets_in_ten_epochs(home: Path, data: str, arch: str) -> None:
    from dlcore import jobs
    from dlcore.models import ModelSpec, TrainConfig
    from dlcore.training import run_job

    knobs, batch_size, lr = TRAINING[data, arch]
    config = TrainConfig(data=data, model=ModelSpec(arch=arch, **knobs), epochs=10, batch_size=batch_size,
                         learning_rate=lr, seed=0)
    status = run_job(jobs.create(config, home))
    assert status["state"] == "done", status.get("message")
    accuracy = status["metrics"]["val_accuracy"]
    print(f"{arch} on {data}: validation accuracy {accuracy:.3f} after 10 epochs")
    assert accuracy >= 0.8, (data, arch, accuracy)
