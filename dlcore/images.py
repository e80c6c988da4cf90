"""Batches of images as files: a PNG grid (Pillow) or an ``.npz`` array, and the sample grid a generative
job writes each epoch. No TensorFlow: the pages that show job folders import this.
"""
from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from dlcore.errors import DataError
from dlcore.workspace import atomic_write_bytes

SAMPLES_FILE = "samples.npz"  # in a generative job's folder: the latest epoch's grid from fixed noise
MAX_NPZ_BYTES = 64 * 1024 * 1024
MIN_TILE_PIXELS = 48  # small images (8x8 digits) are enlarged to at least this many pixels a side in PNGs


def check_images(x: Any) -> np.ndarray:
    """``x`` as float32 (n, height, width, channels) in [0, 1], or a DataError."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or not len(x):
        raise DataError(f"expected images shaped (n, height, width, 1 or 3), got {x.shape}")
    if not np.isfinite(x).all() or x.min() < 0.0 or x.max() > 1.0:
        raise DataError("image values must be finite and in [0, 1]")
    return x


def grid(x: np.ndarray, per_row: int | None = None, gap: int = 1, background: float = 1.0) -> np.ndarray:
    """Tile images into one (H, W, channels) array, ``per_row`` a row (default: a near square)."""
    from dlcore.plots.data import image_mosaic

    x = check_images(x)
    per_row = int(per_row or math.ceil(math.sqrt(len(x))))
    rows = math.ceil(len(x) / per_row)
    mosaic = image_mosaic(x, [""] * rows, per_row, gap=gap)
    return np.nan_to_num(mosaic, nan=background)


def png_bytes(x: np.ndarray, per_row: int | None = None) -> bytes:
    """A PNG of the images as a grid, small images enlarged (nearest neighbour, so pixels stay sharp)."""
    from PIL import Image

    x = check_images(x)
    scale = max(1, math.ceil(MIN_TILE_PIXELS / min(x.shape[1:3])))
    canvas = grid(x, per_row)
    canvas = np.repeat(np.repeat(canvas, scale, axis=0), scale, axis=1)
    pixels = np.round(canvas * 255).astype(np.uint8)
    image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def npz_bytes(x: np.ndarray, labels: np.ndarray | None = None, **extra: Any) -> bytes:
    """An ``.npz`` holding ``x`` (float32 (n, height, width, channels) in [0, 1]), ``y`` when there are
    labels, and any ``extra`` plain arrays."""
    arrays = {"x": check_images(x), **{k: np.asarray(v) for k, v in extra.items()}}
    if labels is not None:
        arrays["y"] = np.asarray(labels, dtype=np.int64)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def save_images(path: str | os.PathLike[str], x: np.ndarray, labels: np.ndarray | None = None,
                per_row: int | None = None) -> Path:
    """Write images to ``path`` as ``.npz`` or ``.png`` (chosen by the suffix), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        atomic_write_bytes(path, npz_bytes(x, labels))
    elif suffix == ".png":
        atomic_write_bytes(path, png_bytes(x, per_row))
    else:
        raise DataError(f"cannot write {path.name!r}: give a file name ending in .npz or .png")
    return path


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file, refusing pickled objects and files over ``MAX_NPZ_BYTES``."""
    path = Path(path)
    if path.stat().st_size > MAX_NPZ_BYTES:
        raise DataError(f"{path.name} is larger than {MAX_NPZ_BYTES // 2**20} MB")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path.name} is not a readable .npz file ({exc})") from exc


def read_samples(folder: str | os.PathLike[str]) -> dict[str, np.ndarray] | None:
    """The latest sample grid of a generative job folder (``x``, ``epoch``, ``y`` if conditional), or None."""
    path = Path(folder) / SAMPLES_FILE
    if not path.is_file():
        return None
    try:
        return read_npz(path)
    except (DataError, OSError):  # replaced between stat and read: the next refresh shows it
        return None
