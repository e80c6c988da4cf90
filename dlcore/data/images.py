"""Images from an uploaded ZIP (one folder per class), decoded safely with Pillow.

Every member's path and declared size are checked before it is decompressed (``validate.check_zip_members``),
every image's width x height is read from its header and checked against the pixel cap before its pixels
are decoded, and nothing is ever written to disk: members are read into memory up to their declared size.
"""
from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from dlcore.data.limits import Limits
from dlcore.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")  # Pillow plugins allowed to parse uploads
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
MIN_SIDE, MAX_SIDE = 8, 64  # the automatic common size: the median shorter side, clamped to this range


class _Skip(Exception):
    """An image left out (corrupt, or above the pixel cap), with the reason."""


@dataclass(frozen=True, eq=False)
class ImageSet:
    """Decoded images of one common size, their class folder names, and what was skipped and why."""

    images: np.ndarray  # (n, size, size, channels) uint8
    labels: tuple[str, ...]
    skipped: tuple[str, ...]  # one line per reason: "2 corrupt images (a/x.png, ...)"
    notes: tuple[str, ...]


def _open(data: bytes, limits: Limits):
    """Open an image from its header only and refuse it above the pixel cap, before any pixel is decoded."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data), formats=FORMATS)
        except Image.DecompressionBombError as exc:
            raise _Skip(f"too large, over {limits.max_pixels:,} pixels") from exc
        except Exception as exc:  # Pillow's plugins raise many types for damaged files
            raise _Skip("corrupt") from exc
    width, height = im.size
    if width * height > limits.max_pixels:
        raise _Skip(f"too large, over {limits.max_pixels:,} pixels")
    if width < 1 or height < 1:
        raise _Skip("corrupt")
    return im


def decode_image(data: bytes, size: int | None = None, channels: int | None = None,
                 limits: Limits | None = None) -> np.ndarray:
    """Decode one image file into a uint8 array (h, w, 1 or 3), resized to ``size`` x ``size`` if given."""
    limits = limits or Limits.from_env()
    try:
        im = _open(data, limits)
        channels = channels or (1 if im.mode in GREY_MODES else 3)
        if size:
            im.draft("L" if channels == 1 else "RGB", (size, size))  # JPEG: decode at a reduced scale
        im = im.convert("L" if channels == 1 else "RGB")
        if size:
            from PIL import Image

            im = im.resize((size, size), Image.Resampling.BILINEAR)
        arr = np.asarray(im, dtype=np.uint8)
    except _Skip as exc:
        if str(exc) == "corrupt":
            raise DataError("the file is damaged or not an image; upload a PNG or JPEG that opens in an image "
                            "viewer") from None
        raise DataError(f"the image is {exc}; upload a smaller one or raise {limits.variable('max_pixels')}") from None
    except Exception as exc:  # a header that parsed but pixels that do not
        raise DataError(f"the image could not be decoded ({type(exc).__name__}); upload a PNG or JPEG") from None
    return arr[..., None] if arr.ndim == 2 else arr


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes, never more than it declares (a member that unpacks to more is refused)."""
    with zf.open(info) as fh:
        data = fh.read(info.file_size + 1)
    if len(data) > info.file_size:
        raise DataError(f"member {info.filename!r} unpacks to more than the {info.file_size} bytes it declares; "
                        "the archive is forged or damaged - refused")
    return data


def _candidates(infos: Sequence[zipfile.ZipInfo],
                limits: Limits) -> tuple[list[tuple[zipfile.ZipInfo, str]], list[str], list[str]]:
    """Image members with their class (parent folder); names of other files and of loose images."""
    images, others, loose = [], [], []
    for info in infos:
        if info.is_dir():
            continue
        path = PurePosixPath(info.filename.replace("\\", "/"))
        hidden = any(p.startswith(".") or p == "__MACOSX" for p in path.parts)
        if hidden or path.suffix.lower() not in IMAGE_SUFFIXES:
            others.append(info.filename)
        elif len(path.parts) < 2:
            loose.append(info.filename)
        else:
            images.append((info, path.parts[-2]))
    if len(images) > limits.max_images:
        raise DataError(f"the ZIP holds {len(images)} images, above the cap of {limits.max_images}; "
                        f"upload fewer or raise {limits.variable('max_images')}")
    return images, others, loose


def _listed(what: str, names: Sequence[str]) -> str:
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"{len(names)} {what}: {shown}"


def read_image_zip(zf: zipfile.ZipFile, infos: Sequence[zipfile.ZipInfo], limits: Limits,
                   size: int | None = None) -> ImageSet:
    """Decode the images of a checked ZIP: one class per parent folder, one common size and channel count."""
    members, others, loose = _candidates(infos, limits)
    skipped: dict[str, list[str]] = {}
    headers = []
    for info, label in members:  # first pass: headers only, to choose the common size and channels
        try:
            im = _open(read_member(zf, info), limits)
            headers.append((info, label, min(im.size), im.mode in GREY_MODES))
        except (_Skip, zipfile.BadZipFile, EOFError, OSError) as exc:
            skipped.setdefault(str(exc) if isinstance(exc, _Skip) else "corrupt", []).append(info.filename)
    if not headers:
        found = f"{len(members)} image(s) that could not be read" if members else "no images in class folders"
        raise DataError(f"the ZIP has {found}; put PNG or JPEG files in one folder per class "
                        "(cats/1.png, dogs/2.png) and zip those folders")
    side = int(size or np.clip(np.median([h[2] for h in headers]), MIN_SIDE, MAX_SIDE))
    channels = 1 if all(h[3] for h in headers) else 3
    arrays, labels = [], []
    for info, label, _, _ in headers:  # second pass: decode and resize
        try:
            arrays.append(decode_image(read_member(zf, info), side, channels, limits))
            labels.append(label)
        except (DataError, zipfile.BadZipFile, EOFError, OSError):
            skipped.setdefault("corrupt", []).append(info.filename)
    if not arrays:
        raise DataError("no image in the ZIP could be decoded; upload PNG or JPEG files that open in an image viewer")
    lines = [_listed(f"image(s) skipped as {why}", names) for why, names in skipped.items()]
    if others:
        lines.append(_listed("non-image file(s) skipped", others))
    if loose:
        lines.append(_listed("image(s) outside a class folder skipped", loose))
    notes = (f"{len(arrays)} images resized to {side}x{side}, {'grey' if channels == 1 else 'RGB'}, scaled to [0, 1]",)
    return ImageSet(np.stack(arrays), tuple(labels), tuple(lines), notes)


def image_input(data: bytes, preprocessing: Any, limits: Limits | None = None) -> np.ndarray:
    """One image file as model input (1, h, w, c), decoded and resized exactly as the training images were."""
    params = preprocessing.params
    size = int(params["height"]) if int(params["height"]) == int(params["width"]) else None
    arr = decode_image(data, size, int(params["channels"]), limits)
    return preprocessing.transform(arr[None])
