"""The Generate page's computations (dlcore.generative.explore) on tiny untrained VAEs and GANs over digits:
KL per dimension, the latent map and its inverse, traversal sweeps, interpolation paths, reconstructions,
seeded row choices and the sample grid's layout."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from dlcore.data import load_builtin
from dlcore.generative import GAN, VAE, explore, sampling

SHAPE = (8, 8, 1)


@pytest.fixture(scope="module")
def digits():
    ds = load_builtin("digits")
    return ds.x_val[:40], ds.y_val[:40]


def _vae(latent: int, n_classes: int = 0) -> VAE:
    keras.utils.set_random_seed(0)
    return VAE(SHAPE, latent_dim=latent, n_classes=n_classes, filters=(), units=(16,), seed=0)


@pytest.fixture(scope="module")
def vae3() -> VAE:
    return _vae(3)


@pytest.fixture(scope="module")
def gan() -> GAN:
    keras.utils.set_random_seed(0)
    return GAN(SHAPE, latent_dim=4, n_classes=3, filters=(4,), units=(), seed=0)


def test_kl_per_dimension_is_the_closed_form_mean_over_rows() -> None:
    mean = np.array([[1.0, 0.0, 2.0], [-1.0, 0.0, 0.0]])
    log_var = np.array([[0.0, np.log(2.0), 0.0], [0.0, np.log(2.0), 0.0]])
    np.testing.assert_allclose(explore.kl_per_dimension(mean, log_var), [0.5, 0.5 * (1 - np.log(2.0)), 1.0])
    assert explore.kl_per_dimension(np.zeros((4, 2)), np.zeros((4, 2))).tolist() == [0.0, 0.0]  # the prior itself


def test_the_most_used_dimensions_are_those_of_highest_kl_with_their_labels(vae3: VAE, gan: GAN, digits) -> None:
    x, y = digits
    mean, log_var = sampling.encode(vae3, x)
    kl = explore.kl_per_dimension(mean, log_var)
    active = explore.active_dimensions(vae3, x, y, count=2)
    assert list(active.dims) == list(np.argsort(-kl)[:2]) and kl[active.dims[0]] >= kl[active.dims[1]]
    assert active.labels == tuple(f"z{d + 1} ({kl[d]:.2f} nats)" for d in active.dims)
    np.testing.assert_allclose(active.kl, kl, rtol=1e-6)
    assert len(explore.active_dimensions(vae3, x, y).dims) == 3  # no more than the latent has
    plain = explore.active_dimensions(gan, x, y)  # a GAN has no encoder: the first ones, unlabelled by KL
    assert list(plain.dims) == [0, 1, 2, 3] and plain.labels == ("z1", "z2", "z3", "z4") and plain.kl is None
    assert list(explore.active_dimensions(vae3, None).dims) == [0, 1, 2]  # no images: the first ones


def test_a_two_number_latent_is_its_own_map(digits) -> None:
    x, y = digits
    model = _vae(2)
    lmap = explore.latent_map(model, x, y)
    mean, _ = sampling.encode(model, x)
    np.testing.assert_allclose(lmap.points, mean, rtol=1e-6)
    assert lmap.titles == ("z1", "z2") and lmap.components is None
    np.testing.assert_allclose(lmap.code_at(0.5, -1.0), [[0.5, -1.0]])
    lo, hi, mid = lmap.axis_range(1)
    assert (lo, hi) == (pytest.approx(mean[:, 1].min()), pytest.approx(mean[:, 1].max()))
    assert mid == pytest.approx(float(np.median(mean[:, 1])))


def test_the_pca_map_and_its_inverse_stay_on_the_codes_plane(vae3: VAE, digits) -> None:
    x, y = digits
    lmap = explore.latent_map(vae3, x, y)
    mean, _ = sampling.encode(vae3, x)
    np.testing.assert_allclose(lmap.codes, mean, rtol=1e-6)
    assert lmap.points.shape == (len(x), 2) and lmap.titles[0].startswith("PC1 (") and "of variance" in lmap.titles[1]
    shares = [float(t.split("(")[1].split("%")[0]) for t in lmap.titles]
    assert shares[0] >= shares[1] and sum(shares) <= 101
    centred = mean - mean.mean(axis=0)
    np.testing.assert_allclose(lmap.points[:, 0] @ lmap.points[:, 1], 0.0, atol=1e-3 * len(x))  # uncorrelated axes
    for i in (0, 7):  # a point of the map goes back to its code's projection on the plane of the first two PCs
        back = lmap.code_at(*lmap.points[i])[0]
        projected = mean.mean(axis=0) + (centred[i] @ lmap.components.T) @ lmap.components
        np.testing.assert_allclose(back, projected, rtol=1e-4, atol=1e-5)
    code = lmap.code_at(0.3, -0.2)  # and any place of the map is a code whose coordinates are that place
    np.testing.assert_allclose((code[0] - lmap.center) @ lmap.components.T, [0.3, -0.2], atol=1e-5)


def test_picked_images_are_the_images_then_their_decodings(vae3: VAE, digits) -> None:
    x, y = digits
    lmap = explore.latent_map(vae3, x, y)
    grid = explore.picked_images(vae3, lmap, x, y, [3, 1])
    assert grid.shape == (4, *SHAPE)
    np.testing.assert_allclose(grid[:2], x[[3, 1]])
    np.testing.assert_allclose(grid[2:], sampling.decode(vae3, lmap.codes[[3, 1]]), rtol=1e-5, atol=1e-6)


def test_the_sweep_holds_each_chosen_dimension_at_the_values_and_the_others_fixed() -> None:
    code = np.array([0.1, -0.2, 0.3, 0.4], np.float32)
    values = np.array([-1.0, 0.0, 2.0])
    sweep = explore.traversal_sweep(code, [2, 0], values)
    assert sweep.shape == (6, 4)
    np.testing.assert_allclose(sweep[:3, 2], values)  # first block: dimension 2 swept
    np.testing.assert_allclose(sweep[:3, [0, 1, 3]], np.repeat(code[[0, 1, 3]][None], 3, axis=0))
    np.testing.assert_allclose(sweep[3:, 0], values)  # second block: dimension 0 swept
    np.testing.assert_allclose(sweep[3:, 1:], np.repeat(code[1:][None], 3, axis=0))
    assert len(explore.traversal_sweep(code, [1])) == len(explore.SWEEP_VALUES) == 9
    assert explore.slider_start(np.array([5.0, -0.5]), 0) == 3.0 and explore.slider_start([5.0, -0.5], 1) == -0.5


def test_starts_are_an_images_code_or_a_seeds_noise(vae3: VAE, gan: GAN, digits) -> None:
    x, y = digits
    start = explore.image_start(vae3, x, y, 5)
    mean, _ = sampling.encode(vae3, x[5:6])
    np.testing.assert_allclose(start.code, mean[0], rtol=1e-6)
    assert start.classes is None and start.label is None and np.array_equal(start.image, x[5])
    seeded = explore.seed_start(gan, 7, 2)
    np.testing.assert_allclose(seeded.code, sampling.noise(1, 4, 7)[0])
    assert seeded.label == 2 and seeded.classes.tolist() == [[0.0, 0.0, 1.0]] and seeded.image is None
    assert explore.seed_start(gan, 7).label == 0  # a conditional model draws class 0 unless told
    conditional = _vae(2, n_classes=10)
    assert explore.image_start(conditional, x, y, 4).label == int(y[4])
    assert explore.first_other_class(np.array([3, 3, 1, 3])) == 2 and explore.first_other_class(np.array([1, 1])) == 0


def test_a_vae_path_is_straight_between_two_images_codes(vae3: VAE, digits) -> None:
    x, y = digits
    a, b = explore.image_start(vae3, x, y, 0), explore.image_start(vae3, x, y, 2)
    path = explore.interpolation(vae3, a, b, 5)
    np.testing.assert_allclose(path.codes[0], a.code, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(path.codes[-1], b.code, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(path.codes[2], (a.code + b.code) / 2, rtol=1e-5, atol=1e-6)
    assert path.names == ("A", "0.00", "0.25", "0.50", "0.75", "1.00", "B") and path.images.shape == (7, *SHAPE)
    np.testing.assert_allclose(path.images[0], x[0])
    np.testing.assert_allclose(path.images[-1], x[2])
    np.testing.assert_allclose(path.images[1:-1], sampling.decode(vae3, path.codes), rtol=1e-5, atol=1e-6)


def test_a_gan_path_follows_the_great_circle_and_mixes_the_classes(gan: GAN) -> None:
    a, b = explore.seed_start(gan, 1, 0), explore.seed_start(gan, 2, 2)
    path = explore.interpolation(gan, a, b, 3)
    assert path.names == ("0.00", "0.50", "1.00") and path.images.shape == (3, *SHAPE)
    np.testing.assert_allclose(path.codes[[0, -1]], [a.code, b.code], rtol=1e-5, atol=1e-6)
    omega = np.arccos(a.code @ b.code / (np.linalg.norm(a.code) * np.linalg.norm(b.code)))
    middle = (a.code + b.code) * np.sin(omega / 2) / np.sin(omega)  # slerp at t = 0.5
    np.testing.assert_allclose(path.codes[1], middle, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(path.classes, [[1, 0, 0], [0.5, 0, 0.5], [0, 0, 1]], atol=1e-6)


def test_reconstructions_of_seeded_rows_and_their_mean_absolute_error(vae3: VAE, digits) -> None:
    x, y = digits
    rec = explore.reconstruction(vae3, x, y, 6, seed=3)
    assert len(rec.rows) == len(set(rec.rows.tolist())) == 6 and 0 <= rec.rows.min() and rec.rows.max() < len(x)
    np.testing.assert_array_equal(rec.originals, x[rec.rows])
    expected = sampling.decode(vae3, sampling.encode(vae3, x[rec.rows])[0])
    np.testing.assert_allclose(rec.decoded, expected, rtol=1e-5, atol=1e-6)
    assert rec.error == pytest.approx(float(np.mean(np.abs(expected - x[rec.rows]))), rel=1e-5)
    assert rec.images.shape == (12, *SHAPE)
    assert explore.reconstruction(vae3, x, y, 6, seed=3).rows.tolist() == rec.rows.tolist()  # the seed repeats
    assert explore.reconstruction(vae3, x, y, 6, seed=4).rows.tolist() != rec.rows.tolist()
    assert len(explore.reconstruction(vae3, x[:4], y[:4], 10).rows) == 4  # no more than there are


def test_the_samples_layout_is_a_row_per_class_or_a_near_square() -> None:
    per_class = explore.sample_layout(3, 4)
    assert per_class.labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert (per_class.n, per_class.per_row) == (12, 4)
    plain = explore.sample_layout(0, 20)
    assert plain.labels is None and (plain.n, plain.per_row) == (20, 5)
    assert explore.sample_layout(0, 64).per_row == 8
