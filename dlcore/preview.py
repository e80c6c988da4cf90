"""What the Data page shows of an upload before it is kept: example pictures scaled to [0, 1] with their
classes, and the seeded rows its histograms draw. NumPy and pandas in and out; ``dlcore.plots`` draws them."""
from __future__ import annotations

import numpy as np
import pandas as pd

from dlcore.data.upload import Preview

HISTOGRAM_ROWS = 5000  # rows drawn in the histograms (a seeded sample of bigger tables)


def unit_images(x: np.ndarray) -> np.ndarray:
    """Pictures as float32 in [0, 1] with a channel axis: bytes (uint8) or any values above 1 are divided by
    255, values already in [0, 1] are kept; (n, h, w) grey pictures get a channel axis of 1."""
    x = np.asarray(x)
    out = x.astype(np.float32)
    if x.dtype == np.uint8 or (out.size and out.max() > 1):
        out = out / 255.0
    return out[..., None] if out.ndim == 3 else out


def example_images(preview: Preview, per_class: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded example pictures of an image upload (``Preview.examples``), scaled by ``unit_images``, and the
    class of each (the examples index the rows read; their classes are those of the rows used)."""
    picks = preview.examples(per_class, seed)
    images = unit_images(np.asarray(preview.raw.x)[picks])
    labels = preview.y[np.searchsorted(np.flatnonzero(preview.keep), picks)]
    return images, labels


def histogram_rows(numbers: pd.DataFrame, max_rows: int = HISTOGRAM_ROWS, seed: int = 0) -> pd.DataFrame:
    """At most ``max_rows`` rows of ``numbers`` drawn at random without replacement (the same for the same
    seed); all of them, in a seeded order, when there are fewer."""
    return numbers.sample(min(len(numbers), int(max_rows)), random_state=seed)
