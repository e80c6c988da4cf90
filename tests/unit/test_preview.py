"""What the Data page previews of an upload (dlcore.preview): pictures scaled to [0, 1] with a channel axis,
each example's class although rows were left out, and the seeded rows of the histograms."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from dlcore.data.readers import read_bytes
from dlcore.data.upload import Choices, understand
from dlcore.preview import example_images, histogram_rows, unit_images


def test_bytes_and_values_above_one_are_divided_by_255_and_grey_pictures_get_a_channel() -> None:
    grey = np.array([[[0, 255], [51, 102]]], np.uint8)
    out = unit_images(grey)
    assert out.dtype == np.float32 and out.shape == (1, 2, 2, 1)
    np.testing.assert_allclose(out[0, :, :, 0], [[0.0, 1.0], [0.2, 0.4]])
    np.testing.assert_allclose(unit_images(np.full((1, 2, 2, 3), 127.5)), np.full((1, 2, 2, 3), 0.5))
    small = np.array([[[0.0, 0.25], [0.5, 1.0]]])  # already in [0, 1]: kept
    np.testing.assert_allclose(unit_images(small)[..., 0], small)
    dark = np.ones((1, 2, 2), np.uint8)  # bytes are divided even when all of them are at most 1
    np.testing.assert_allclose(unit_images(dark), np.full((1, 2, 2, 1), 1 / 255))


def test_examples_are_labelled_with_their_own_class_when_a_row_was_left_out() -> None:
    names = ["cat"] * 10 + ["solo"] + ["dog"] * 10  # 'solo' has one row: left out, so used rows shift by one
    x = np.stack([np.full((4, 4), 10 * i, np.uint8) for i in range(len(names))])  # row i is all 10 * i
    buf = io.BytesIO()
    np.savez(buf, x=x, y=np.array(names))
    preview = understand(read_bytes(buf.getvalue(), "pets.npz"), Choices())
    assert not preview.keep[10] and preview.keep.sum() == 20
    images, labels = example_images(preview, per_class=3, seed=1)
    assert images.shape == (6, 4, 4, 1) and images.dtype == np.float32 and images.max() <= 1.0
    rows = np.rint(images[:, 0, 0, 0] * 255 / 10).astype(int)  # which raw row each example is
    assert [preview.class_names[k] for k in labels] == [names[r] for r in rows]
    again, _ = example_images(preview, per_class=3, seed=1)
    np.testing.assert_array_equal(again, images)


def test_histogram_rows_are_a_seeded_sample_of_at_most_the_limit() -> None:
    frame = pd.DataFrame({"a": np.arange(100.0), "b": np.arange(100.0) * 2})
    picked = histogram_rows(frame, 10, seed=3)
    assert len(picked) == 10 and picked.index.is_unique and (picked["b"] == picked["a"] * 2).all()
    assert picked.index.tolist() == histogram_rows(frame, 10, seed=3).index.tolist()
    assert picked.index.tolist() != histogram_rows(frame, 10, seed=4).index.tolist()
    assert sorted(histogram_rows(frame, 500).index) == list(range(100))  # fewer rows than the limit: all of them
