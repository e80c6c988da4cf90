"""Built-in data sets: offline, seeded, split without leakage, shaped as the models expect."""
from __future__ import annotations

import numpy as np
import pytest

from dlcore.data import builtin_names, list_builtin, load_builtin, load_dataset
from dlcore.data.builtin import SHAPE_CLASSES, make_shapes
from dlcore.errors import DataError


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_loads_with_consistent_shapes(name: str) -> None:
    ds = load_builtin(name)
    assert ds.name == name
    assert len(ds.x_train) == len(ds.y_train) and len(ds.x_val) == len(ds.y_val)
    if ds.modality == "text":  # raw strings for the model's own vectorizer
        assert ds.x_train.dtype == object and all(isinstance(t, str) and t for t in ds.x_train)
    else:
        assert ds.x_train.dtype == np.float32 and np.isfinite(ds.x_train).all()
    assert ds.x_train.shape[1:] == ds.x_val.shape[1:] == ds.input_shape
    assert 0.15 < ds.n_val / (ds.n_train + ds.n_val) < 0.25
    labels = ds.labels()  # every row's label, training rows first
    assert len(labels) == ds.n_train + ds.n_val and np.array_equal(labels[ds.n_train:], ds.y_val)
    if ds.task == "classification":
        assert set(np.unique(ds.y_train)) == set(range(len(ds.class_names)))
    else:
        assert ds.class_names == () and ds.n_outputs == 1


def test_expected_catalogue() -> None:
    assert {"digits", "breast_cancer", "iris", "wine", "diabetes", "shapes"} <= set(builtin_names())
    kinds = {i.name: (i.task, i.modality) for i in list_builtin()}
    assert kinds["diabetes"] == ("regression", "tabular")
    assert kinds["digits"] == ("classification", "image")


def test_tabular_scaler_is_fitted_on_training_rows_only() -> None:
    ds = load_builtin("wine")
    assert np.allclose(ds.x_train.mean(axis=0), 0, atol=1e-5)
    assert np.allclose(ds.x_train.std(axis=0), 1, atol=1e-3)
    assert not np.allclose(ds.x_val.mean(axis=0), 0, atol=1e-3)  # validation rows were not used to fit


def test_preprocessing_reproduces_the_inputs_from_raw_rows() -> None:
    from sklearn.datasets import load_iris

    ds = load_builtin("iris")
    raw = load_iris().data
    again = ds.preprocessing.transform(raw)
    assert again.shape == (150, 4)
    # every training row is one of the re-transformed raw rows
    assert np.abs(again[None, :, :] - ds.x_train[:, None, :]).sum(-1).min(1).max() < 1e-5


def test_split_is_seeded_and_stratified() -> None:
    a, b, c = load_builtin("digits", seed=1), load_builtin("digits", seed=1), load_builtin("digits", seed=2)
    assert np.array_equal(a.y_val, b.y_val) and not np.array_equal(a.y_val, c.y_val)
    share = np.bincount(a.y_val) / a.n_val
    assert share.min() > 0.08 and share.max() < 0.12


def test_shapes_come_with_masks_on_the_objects() -> None:
    images, labels, masks = make_shapes(n=40, seed=3)
    assert images.shape == masks.shape == (40, 28, 28) and set(labels) == set(range(len(SHAPE_CLASSES)))
    inside = images[masks].mean()
    outside = images[~masks].mean()
    assert inside > 0.5 > 0.1 > outside
    assert (masks.reshape(40, -1).sum(1) > 20).all()
    again, _, _ = make_shapes(n=40, seed=3)
    assert np.array_equal(images, again)


def test_unknown_name_says_what_exists() -> None:
    with pytest.raises(DataError, match="digits"):
        load_dataset("nope")
    with pytest.raises(DataError, match="validation split"):
        load_builtin("iris", validation_split=1.5)
