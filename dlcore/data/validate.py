"""Checks that turn bad uploads into one-line ``DataError`` messages that say what is wrong and what to do.

Everything here runs before the expensive or dangerous step it guards: sizes before reading, archive
members before decompressing, image headers before decoding, arrays before training.
"""
from __future__ import annotations

import collections
import math
import re
import stat
import zipfile
from collections.abc import Sequence
from pathlib import PurePosixPath

import numpy as np

from dlcore.data.limits import MB, Limits
from dlcore.errors import DataError

ARCHIVE_SUFFIXES = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".jar", ".npz", ".zst", ".lz"}
# File signatures of formats that are not CSV, so the message can name what was uploaded instead.
MAGIC = {b"PK\x03\x04": "a ZIP archive", b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image",
         b"%PDF": "a PDF document", b"\x1f\x8b": "a gzip archive", b"\x93NUMPY": "a NumPy .npy array",
         b"GIF8": "a GIF image", b"\xd0\xcf\x11\xe0": "an old Excel/Office file", b"7z\xbc\xaf": "a 7-Zip archive"}
MIN_VALIDATION_ROWS = 1


def _mb(n: int) -> str:
    return f"{n / MB:.1f} MB"


def check_size(n_bytes: int, limits: Limits, filename: str = "the file") -> None:
    """Refuse an empty file or one above the upload cap, before reading it."""
    if n_bytes == 0:
        raise DataError(f"{filename} is empty (0 bytes); upload a file with a header row and data rows")
    if n_bytes > limits.max_bytes:
        raise DataError(f"{filename} is {_mb(n_bytes)}, above the {_mb(limits.max_bytes)} upload cap; "
                        f"upload a smaller file or raise {limits.variable('max_bytes')}")


def check_text(data: bytes, filename: str = "the file") -> None:
    """Refuse content that is not text (a known binary signature, or NUL and control bytes in it)."""
    if not data[:65536].strip() and not data.strip():
        raise DataError(f"{filename} holds only blank space; upload a file with a header row and data rows")
    for magic, what in MAGIC.items():
        if data.startswith(magic):
            raise DataError(f"{filename} is {what}, not a CSV text file; upload a .csv (or a .zip of images, "
                            "or an .npz with x and y)")
    sample = data[:65536]
    controls = sum(sample.count(bytes([b])) for b in range(32) if b not in (9, 10, 12, 13))
    if controls > 0.01 * len(sample):
        raise DataError(f"{filename} is not text (binary data in the first {len(sample)} bytes); "
                        "upload a CSV saved as text")


def check_header(names: Sequence[str], limits: Limits) -> None:
    """Refuse duplicate column names and more columns than the cap."""
    if len(names) > limits.max_columns:
        raise DataError(f"the table has {len(names)} columns, above the cap of {limits.max_columns}; "
                        f"drop columns or raise {limits.variable('max_columns')}")
    counts = collections.Counter(n.strip() for n in names)
    dupes = [n for n, c in counts.items() if c > 1]
    if dupes:
        shown = ", ".join(repr(d) for d in dupes[:5])
        raise DataError(f"duplicate column name(s) {shown}; give every column a distinct name in the header")


def check_rows(n_rows: int, limits: Limits) -> None:
    """Refuse a table without data rows or above the row cap."""
    if n_rows == 0:
        raise DataError("the file has a header but no data rows; add rows below the header")
    if n_rows > limits.max_rows:
        raise DataError(f"the table has more than {limits.max_rows:,} rows, the cap; "
                        f"use a sample of it or raise {limits.variable('max_rows')}")


def parse_error(exc: Exception, delimiter: str) -> DataError:
    """Turn a pandas parser error into a message that names the row and the fix."""
    text = " ".join(str(exc).split())
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if m:
        expected, line, saw = m.groups()
        return DataError(f"line {line} has {saw} fields where the header has {expected} (delimiter {delimiter!r}); "
                         "quote values that contain the delimiter, or fix that line")
    if "EOF inside string" in text:
        return DataError("a quoted field is never closed (EOF inside a string); close the quote or remove it")
    return DataError(f"the CSV could not be parsed ({text[:160]}); save it again as a plain CSV")


def check_split(n_rows: int, n_classes: int, validation_split: float) -> None:
    """Refuse a data set too small to keep ``validation_split`` of it (and every class) for validation."""
    if not 0.0 < validation_split < 1.0:
        raise DataError(f"validation split must be between 0 and 1, got {validation_split}")
    n_val = math.ceil(n_rows * validation_split)
    need_val = max(MIN_VALIDATION_ROWS, n_classes)
    if n_val < need_val or n_rows - n_val < max(2, n_classes):
        need = max(math.ceil(need_val / validation_split), need_val + max(2, n_classes))
        raise DataError(f"only {n_rows} usable rows: at least {need} are needed to keep "
                        f"{validation_split:.0%} for validation" + (f" with {n_classes} classes" if n_classes else "")
                        + "; add rows")


def check_classes(counts: dict[str, int], target: str) -> list[str]:
    """Refuse a single class; return the classes with one row (to be dropped, with a warning)."""
    if len(counts) < 2:
        only = next(iter(counts), "")
        raise DataError(f"target {target!r} has a single class ({only!r}); classification needs at least two "
                        "- choose another target or add rows of other classes")
    single = [c for c, n in counts.items() if n < 2]
    if len(counts) - len(single) < 2:
        raise DataError(f"target {target!r}: only one class has more than one row; add rows or choose another target")
    return single


def check_zip_members(zf: zipfile.ZipFile, limits: Limits, what: str = "the ZIP") -> list[zipfile.ZipInfo]:
    """Refuse unsafe or oversized archives from their directory alone, before anything is decompressed.

    Refused: paths with ``..`` or absolute paths, symbolic links, nested archives, encrypted members, more
    members than the cap, and declared sizes or compression ratios that signal a zip bomb.
    """
    infos = zf.infolist()
    if len(infos) > 2 * limits.max_images:
        raise DataError(f"{what} has {len(infos)} entries, above the cap of {2 * limits.max_images}; "
                        f"split it or raise {limits.variable('max_images')}")
    for info in infos:
        name = info.filename.replace("\\", "/")
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in PurePosixPath(name).parts:
            raise DataError(f"{what} holds {info.filename!r}, a path outside the archive (absolute or with '..'); "
                            "refused - zip the class folders themselves")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise DataError(f"{what} holds a symbolic link {info.filename!r}; refused - zip real files only")
        if info.flag_bits & 0x1:
            raise DataError(f"{what} member {info.filename!r} is encrypted; upload an archive without a password")
        if PurePosixPath(name).suffix.lower() in ARCHIVE_SUFFIXES and not info.is_dir():
            raise DataError(f"{what} holds another archive {info.filename!r}; nested archives are refused - "
                            "unpack it and upload one ZIP of class folders")
        _check_ratio(info.file_size, info.compress_size, limits, f"member {info.filename!r}", what)
    total = sum(i.file_size for i in infos)
    if total > limits.max_unzipped_bytes:
        raise DataError(f"{what} declares {_mb(total)} once unpacked, above the cap of "
                        f"{_mb(limits.max_unzipped_bytes)}; upload less or raise "
                        f"{limits.variable('max_unzipped_bytes')}")
    _check_ratio(total, sum(i.compress_size for i in infos), limits, "its content", what)
    return infos


def _check_ratio(size: int, compressed: int, limits: Limits, part: str, what: str) -> None:
    # Small members compress well legitimately (blank images, text); a bomb needs size *and* ratio.
    if size > MB and size > limits.max_ratio * max(compressed, 1):
        raise DataError(f"{what}: {part} unpacks to {_mb(size)} from {_mb(compressed)} (ratio over "
                        f"{limits.max_ratio}), which signals a zip bomb; refused (the cap is "
                        f"{limits.variable('max_ratio')})")


def check_npz_names(files: Sequence[str]) -> None:
    """Refuse an .npz without both an ``x`` and a ``y`` array."""
    missing = [k for k in ("x", "y") if k not in files]
    if missing:
        raise DataError(f"the .npz has no {' or '.join(repr(m) for m in missing)} array (it holds {sorted(files)}); "
                        "save it with np.savez(path, x=inputs, y=targets)")


def check_arrays(x: np.ndarray, y: np.ndarray) -> None:
    """Refuse non-numeric, mis-shaped, mismatched or non-finite ``x`` and ``y``."""
    if x.dtype.kind not in "biuf":
        raise DataError(f"x has dtype {x.dtype}; save x as numbers (float or int)")
    if y.dtype.kind not in "biufUS":
        raise DataError(f"y has dtype {y.dtype}; save y as numbers or strings")
    if x.ndim < 2 or x.shape[0] == 0 or x.size == 0:
        raise DataError(f"x has shape {x.shape}; it needs one row per sample and at least one feature (n, features)")
    if y.ndim != 1 and not (y.ndim == 2 and y.shape[1] == 1):
        raise DataError(f"y has shape {y.shape}; give one target per sample (n,)")
    if len(x) != len(y):
        raise DataError(f"x has {len(x)} rows but y has {len(y)}; give one target per row of x")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = int(x.size - np.isfinite(x).sum())
        raise DataError(f"x holds {bad} non-finite values (NaN or inf); replace them before saving the .npz")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DataError(f"y holds {int((~np.isfinite(y)).sum())} non-finite values (NaN or inf); fix or drop those "
                        "rows")
