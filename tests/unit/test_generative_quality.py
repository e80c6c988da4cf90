"""Quality scores: about 0 for real against real, large for real against noise; coverage and memorisation
numbers as defined; features come from a classifier trained here."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from dlcore.data import load_builtin
from dlcore.generative.quality import (
    class_coverage,
    features,
    frechet_distance,
    kernel_distance,
    memorisation,
    quality_report,
)
from dlcore.models import ModelSpec, TrainConfig, build_model, compile_model


@pytest.fixture(scope="module")
def digits():
    return load_builtin("digits")


@pytest.fixture(scope="module")
def classifier(digits):
    keras.utils.set_random_seed(0)
    model = build_model(ModelSpec(arch="cnn", filters=(8, 16), units=(32,)), digits)
    compile_model(model, TrainConfig(data="digits", learning_rate=3e-3), "classification")
    model.fit(digits.x_train, digits.y_train, epochs=4, batch_size=64, verbose=0)
    return model


def test_frechet_distance_matches_the_textbook_formula() -> None:
    from scipy import linalg

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 5)), rng.normal(0.5, 2.0, size=(200, 5)) @ rng.normal(size=(5, 5))
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * np.real(linalg.sqrtm(ca @ cb)))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    # a constant feature (a unit that never fires) leaves the covariance singular; still finite and exact
    a0, b0 = np.c_[a, np.zeros(300)], np.c_[b, np.zeros(200)]
    assert frechet_distance(a0, b0) == pytest.approx(expected, rel=1e-6)


def test_kernel_distance_is_unbiased_around_zero_and_grows_with_the_gap() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(600, 8)), rng.normal(size=(600, 8))
    same, same_std = kernel_distance(a, b, seed=0)
    assert abs(same) < 3 * same_std + 1e-3
    shifted = [kernel_distance(a, rng.normal(shift, 1.0, size=(600, 8)), seed=0)[0] for shift in (0.5, 1.0, 2.0)]
    assert 0.01 < shifted[0] < shifted[1] < shifted[2]


def test_class_coverage_counts_entropy_and_confidence() -> None:
    proba = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    c = class_coverage(proba)
    assert c["class_counts"] == [2, 1, 1] and c["classes_present"] == 3 and c["n_classes"] == 3
    assert c["mean_confidence"] == pytest.approx((0.9 + 0.8 + 0.6 + 0.8) / 4)
    assert c["class_entropy"] == pytest.approx(-(0.5 * np.log(0.5) + 2 * 0.25 * np.log(0.25)))
    assert c["max_entropy"] == pytest.approx(np.log(3))
    assert class_coverage(np.eye(3)[[1, 1, 1]])["class_entropy"] == 0.0


def test_memorisation_flags_copies_and_noise_but_passes_new_real_images(digits) -> None:
    rng = np.random.default_rng(0)
    held_out = memorisation(digits.x_val, digits.x_train)
    assert held_out.passed and held_out.copy_fraction < 0.02 and 0.8 < held_out.near_ratio < 1.3
    copies = memorisation(digits.x_train[rng.choice(digits.n_train, 300)], digits.x_train)
    assert not copies.passed and copies.copy_fraction == 1.0 and copies.sample_median == 0.0
    jittered = np.clip(digits.x_train[:300] + rng.normal(0, 0.03, (300, 8, 8, 1)), 0, 1)
    assert not memorisation(jittered, digits.x_train).passed  # nearly copies are copies too
    noise = memorisation(rng.random((300, 8, 8, 1)), digits.x_train)
    assert not noise.passed and noise.copy_fraction == 0.0 and noise.near_ratio > 2.0
    assert len(held_out.sample_distances) == digits.n_val and len(held_out.train_distances) == 1000


def test_real_images_score_near_zero_and_noise_far_with_the_projects_classifier(digits, classifier) -> None:
    (f_train, _), (f_val, p_val) = features(classifier, digits.x_train, digits.x_val)
    assert f_train.shape == (digits.n_train, 32) and p_val.shape == (digits.n_val, 10)
    noise = np.random.default_rng(0).random((digits.n_val, 8, 8, 1)).astype(np.float32)
    real = quality_report(digits.x_val, digits.x_train, digits.x_val, classifier)
    fake = quality_report(noise, digits.x_train, digits.x_val, classifier)
    assert real["frechet_distance"] == pytest.approx(real["frechet_floor"])  # the floor is exactly this case
    assert fake["frechet_distance"] > 20 * real["frechet_distance"]
    assert abs(real["kernel_distance"]) < 3 * real["kernel_distance_std"] + 1e-3
    assert fake["kernel_distance"] > 20 * max(real["kernel_distance_std"], 1e-3)
    assert real["classes_present"] == 10 and real["mean_confidence"] > fake["mean_confidence"]
    assert real["memorisation"]["passed"] and not fake["memorisation"]["passed"]
    asked = quality_report(digits.x_val, digits.x_train, digits.x_val, classifier, labels=digits.y_val)
    agreement = float((p_val.argmax(1) == digits.y_val).mean())
    assert asked["conditional"] and asked["label_agreement"] == pytest.approx(agreement)
