"""Read an uploaded file's bytes into a ``RawUpload``: a table (CSV), images (ZIP) or arrays (NPZ).

The kind comes from the content (a ZIP signature, an ``.npy`` inside), not the name. Every check in
``validate`` runs before the step it guards; anything a reader cannot use becomes a ``DataError``.
"""
from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dlcore.data import validate
from dlcore.data.images import read_image_zip
from dlcore.data.limits import Limits
from dlcore.errors import DataError

HEAD = 1 << 20  # bytes looked at to find the encoding's use, the delimiter and the decimal mark
DELIMITERS = (",", ";", "\t", "|")
SNIFF_ROWS = 200


@dataclass(frozen=True, eq=False)
class RawUpload:
    """A file read and checked, before any choice is made about it."""

    filename: str
    kind: str  # "table", "images" or "arrays"
    frame: pd.DataFrame | None = None  # tables
    x: np.ndarray | None = None  # images (n, h, w, c) uint8, or the .npz's x
    labels: np.ndarray | None = None  # images: class folder names; arrays: the .npz's y
    notes: tuple[str, ...] = ()  # how it was read: encoding, delimiter, decimal mark, image size
    skipped: tuple[str, ...] = ()  # what was left out while reading, and why

    @property
    def n_rows(self) -> int:
        return int(len(self.frame) if self.frame is not None else len(self.x))  # type: ignore[arg-type]


def detect_encoding(data: bytes, filename: str = "the file") -> str:
    """UTF-8 (with or without BOM), UTF-16 (with BOM, or recognised by its zero bytes), else Windows-1252
    or Latin-1; refuses binary content."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = data[:4096]
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if len(head) >= 4 and max(even, odd) > 0.3 * len(head) / 2 and min(even, odd) == 0:
        return "utf-16-be" if even > odd else "utf-16-le"
    validate.check_text(data, filename)
    for encoding in ("utf-8", "cp1252"):  # the whole file decodes: pandas will meet no decoding error
        try:
            data.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            continue
    return "latin-1"  # decodes any byte sequence


def _rows(text: str, delimiter: str, complete: bool) -> list[list[str]]:
    try:
        rows = [r for r in itertools.islice(csv.reader(io.StringIO(text), delimiter=delimiter), SNIFF_ROWS) if r]
    except csv.Error:
        return []
    return rows if complete or len(rows) < 2 else rows[:-1]  # the last row of a cut sample may be partial


def detect_delimiter(text: str, complete: bool = True) -> str:
    """The delimiter that splits the sample into the most consistent rows of more than one field.

    ``csv.Sniffer`` guesses from character frequencies and, on short or quoted samples, often picks a letter
    or a space; parsing with each candidate and scoring the field counts is sturdier, and pandas' own
    ``sep=None`` uses the Sniffer through its slow Python engine.
    """
    best, best_score = ",", (False, 0.0, 0)
    for delimiter in DELIMITERS:
        rows = _rows(text, delimiter, complete)
        if not rows:
            continue
        width = len(rows[0])
        score = (width > 1, round(sum(len(r) == width for r in rows) / len(rows), 2), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def detect_decimal(text: str, delimiter: str, complete: bool = True) -> str:
    """``,`` when numbers in a ``;``- or tab-separated sample are written with decimal commas, else ``.``."""
    if delimiter not in (";", "\t"):
        return "."
    cells = [c.strip() for r in _rows(text, delimiter, complete)[1:] for c in r]
    commas = sum(bool(re.fullmatch(r"[-+]?\d+,\d+", c)) for c in cells)
    points = sum(bool(re.fullmatch(r"[-+]?\d+\.\d+", c)) for c in cells)
    return "," if commas > points else "."


def read_table(data: bytes, filename: str, limits: Limits) -> RawUpload:
    """Parse CSV bytes with pandas' C parser after finding the encoding, delimiter and decimal mark."""
    encoding = detect_encoding(data, filename)
    complete = len(data) <= HEAD
    head = data[:HEAD].decode(encoding, errors="ignore")
    delimiter = detect_delimiter(head, complete)
    header = next(iter(_rows(head, delimiter, True)), [])
    validate.check_header([h for h in header if h.strip()], limits)
    decimal = detect_decimal(head, delimiter, complete)
    # Lines bound the rows from above; pandas' nrows (the row cap) costs time, so it is used only when needed.
    capped = max(data.count(b"\n"), data.count(b"\r")) >= limits.max_rows
    try:
        frame = pd.read_csv(io.BytesIO(data), sep=delimiter, decimal=decimal, encoding=encoding,
                            nrows=limits.max_rows + 1 if capped else None, low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{filename} has no header row or columns; put column names on the first line") from None
    except (pd.errors.ParserError, ValueError, csv.Error, UnicodeError, OverflowError, MemoryError) as exc:
        raise validate.parse_error(exc, delimiter) from None
    validate.check_rows(len(frame), limits)
    validate.check_header([str(c) for c in frame.columns], limits)
    frame.columns = [str(c).strip() for c in frame.columns]
    notes = (f"encoding {encoding}, delimiter {delimiter!r}, decimal mark {decimal!r}",)
    return RawUpload(filename, "table", frame=frame, notes=notes)


def _read_npz(data: bytes, infos: list[zipfile.ZipInfo], filename: str) -> RawUpload:
    names = [i.filename[:-4] for i in infos if i.filename.endswith(".npy")]
    validate.check_npz_names(names)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            x, y = npz["x"], npz["y"]
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise DataError(f"{filename} holds an object array, which only loads by unpickling (never done "
                            "for uploads); save numeric or string arrays") from None
        raise DataError(f"{filename} could not be read as an .npz ({exc}); save it with np.savez") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise DataError(f"{filename} is a damaged .npz ({type(exc).__name__}); save it again with np.savez") from None
    validate.check_arrays(x, y)
    return RawUpload(filename, "arrays", x=x, labels=y.reshape(-1),
                     notes=(f"x {x.dtype} {tuple(x.shape)}, y {y.dtype} {tuple(y.shape)}",))


def _read_zip(data: bytes, filename: str, limits: Limits, image_size: int | None) -> RawUpload:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            npz = filename.lower().endswith(".npz") or any(i.filename.endswith(".npy") for i in zf.infolist())
            infos = validate.check_zip_members(zf, limits, "the .npz" if npz else "the ZIP")
            if npz:
                return _read_npz(data, infos, filename)
            images = read_image_zip(zf, infos, limits, image_size)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{filename} is a damaged ZIP ({exc}); create the archive again") from None
    return RawUpload(filename, "images", x=images.images, labels=np.asarray(images.labels),
                     notes=images.notes, skipped=images.skipped)


def read_bytes(data: bytes, filename: str = "upload.csv", limits: Limits | None = None,
               image_size: int | None = None) -> RawUpload:
    """Read an uploaded file's content; the kind comes from the bytes, not the name."""
    limits = limits or Limits.from_env()
    validate.check_size(len(data), limits, filename)
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _read_zip(data, filename, limits, image_size)
    if filename.lower().endswith((".zip", ".npz")):
        raise DataError(f"{filename} is not a ZIP archive (no ZIP signature); create it again with a zip tool")
    return read_table(data, filename, limits)


def read_path(path: str | os.PathLike[str], limits: Limits | None = None, image_size: int | None = None) -> RawUpload:
    """Read a file on disk, checking its size before reading it."""
    limits = limits or Limits.from_env()
    p = Path(path)
    if not p.is_file():
        raise DataError(f"no file {str(p)!r}; give the path of a CSV, ZIP or NPZ file")
    validate.check_size(p.stat().st_size, limits, p.name)
    return read_bytes(p.read_bytes(), p.name, limits, image_size)
