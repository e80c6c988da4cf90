"""Tables too large to read whole: a CSV given by path is read in chunks, and training batches stream from it.

A file given by path (``--data FILE.csv``) larger than ``DLCORE_STREAM_MB`` (or than the upload cap, which
would refuse it) is never held in memory. One pass with pandas' ``read_csv(chunksize=...)`` keeps:

- the validation rows, chosen by a seeded rule on the row number (the same rule every pass), up to a cap:
  they become ``x_val`` / ``y_val``, so evaluation, explanations and the fairness audit work as for any table;
- a seeded uniform sample of the training rows (the ``sample_rows`` rows of lowest seeded hash: a bottom-k
  sample, Cohen and Kaplan, "Summarizing data using bottom-k sketches", PODC 2007), on which the columns are
  understood and the preprocessing is fitted by the same code as an upload's (``understand``, ``fit_tabular``);
  transformed, it is ``x_train`` (explanations draw their background from it);
- the counts of the target's values over every training row, so an epoch's length is known.

Each epoch then reads the file again, chunk by chunk, transforms the training rows with that preprocessing and
feeds shuffled batches (a seeded shuffle buffer) to Keras through ``tf.data`` (``tf_batches``). Memory holds a
few chunks, the buffer, the sample and the validation rows, whatever the file's size.

| variable                  | default | what it sets                                                           |
|---------------------------|---------|------------------------------------------------------------------------|
| DLCORE_STREAM_MB          | 200     | a CSV given by path above this size (or the upload cap) streams        |
| DLCORE_STREAM_SAMPLE_ROWS | 100000  | training rows the preprocessing is fitted on (kept as ``x_train``)     |
| DLCORE_STREAM_VAL_ROWS    | 100000  | validation rows kept in memory (the validation share shrinks to fit)   |
| DLCORE_STREAM_CHUNK_ROWS  | 50000   | rows parsed at a time                                                  |
| DLCORE_STREAM_SHUFFLE_ROWS| 100000  | rows of the shuffle buffer                                             |
"""
from __future__ import annotations

import collections
import csv
import dataclasses
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dlcore.data import validate
from dlcore.data.limits import MB, Limits, env_numbers
from dlcore.data.preprocess import Preprocessing, as_number, as_text
from dlcore.errors import DataError

# (attribute, environment variable, default, unit)
_VARIABLES = (
    ("min_bytes", "DLCORE_STREAM_MB", 200, MB),
    ("sample_rows", "DLCORE_STREAM_SAMPLE_ROWS", 100_000, 1),
    ("val_rows", "DLCORE_STREAM_VAL_ROWS", 100_000, 1),
    ("chunk_rows", "DLCORE_STREAM_CHUNK_ROWS", 50_000, 1),
    ("shuffle_rows", "DLCORE_STREAM_SHUFFLE_ROWS", 100_000, 1),
)
_DEFAULTS = {attr: default * unit for attr, _, default, unit in _VARIABLES}
MAX_COUNTED = 201  # distinct target values counted; more make a regression target (or too many classes)
NEWLINE_BLOCK = 16 * MB
_SPLIT, _SAMPLE = 0, 1  # salts of the two seeded row hashes


@dataclass(frozen=True)
class StreamSettings:
    """When a file streams and how much of it is kept in memory."""

    min_bytes: int = _DEFAULTS["min_bytes"]
    sample_rows: int = _DEFAULTS["sample_rows"]
    val_rows: int = _DEFAULTS["val_rows"]
    chunk_rows: int = _DEFAULTS["chunk_rows"]
    shuffle_rows: int = _DEFAULTS["shuffle_rows"]

    @classmethod
    def from_env(cls) -> StreamSettings:
        """The settings, each overridable by its ``DLCORE_STREAM_*`` environment variable (a positive number)."""
        return cls(**env_numbers(_VARIABLES, least=1))


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV is read: found from its first megabyte, as for an upload."""

    encoding: str
    delimiter: str
    decimal: str


@dataclass(frozen=True, eq=False)
class CsvStream:
    """A table read again every epoch: which rows train, how they become model inputs, and how many there are.

    ``fit_rows`` training rows (a seeded uniform sample, see the module's text) fitted ``preprocessing``;
    ``val_share`` of the rows are validation rows by the seeded rule ``is_validation``, and ``n_val_kept`` of
    them (at most the cap) are held in memory. ``n_train`` rows (every training row with a usable target)
    stream an epoch.
    """

    path: str
    form: CsvFormat
    target: str
    task: str
    features: tuple[str, ...]
    class_names: tuple[str, ...]
    preprocessing: Preprocessing
    seed: int
    val_share: float
    n_rows: int
    n_train: int
    n_val_kept: int
    fit_rows: int
    chunk_rows: int
    shuffle_rows: int
    sample: str = "bottom-k seeded hash sample of the training rows"

    @property
    def width(self) -> int:
        """Model inputs a row becomes."""
        return len(self.preprocessing.output_names())

    def steps(self, batch_size: int) -> int:
        """Batches an epoch."""
        return -(-self.n_train // batch_size)

    def chunks(self) -> Iterator[pd.DataFrame]:
        """The file's rows, ``chunk_rows`` at a time, indexed by row number (0: the first data row)."""
        return read_chunks(self.path, self.form, self.chunk_rows)

    def arrays(self, chunk: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Model inputs and targets of a chunk's training rows (those with a usable target), in file order."""
        rows = chunk[~is_validation(chunk.index.to_numpy(), self.seed, self.val_share)]
        y, ok = targets(rows[self.target], self.task, self.class_names)
        rows = rows[ok]
        return self.preprocessing.transform(rows[list(self.features)]), y[ok]

    def batches(self, batch_size: int, epoch: int = 0, shuffle: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch's training batches: every training row once, shuffled through a buffer seeded by ``epoch``
        (or in file order); ``steps(batch_size)`` of them, the last one possibly short."""
        rng = np.random.default_rng([self.seed, epoch])
        held_x: list[np.ndarray] = []
        held_y: list[np.ndarray] = []
        held = 0
        for chunk in self.chunks():
            x, y = self.arrays(chunk)
            held_x.append(x)
            held_y.append(y)
            held += len(x)
            if held < (self.shuffle_rows if shuffle else 0) + batch_size:
                continue
            x, y = np.concatenate(held_x), np.concatenate(held_y)
            if shuffle:
                order = rng.permutation(len(x))
                x, y = x[order], y[order]
            out = (len(x) - (self.shuffle_rows if shuffle else 0)) // batch_size * batch_size
            yield from _split(x[:out], y[:out], batch_size)
            held_x, held_y, held = [x[out:]], [y[out:]], len(x) - out
        x, y = np.concatenate(held_x or [np.zeros((0, self.width), np.float32)]), np.concatenate(held_y or [[]])
        order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
        yield from _split(x[order], y[order].astype(self.y_dtype), batch_size)

    @property
    def y_dtype(self) -> type:
        return np.int64 if self.task == "classification" else np.float32


def _split(x: np.ndarray, y: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size], y[start:start + batch_size]


def row_keys(rows: np.ndarray, seed: int, salt: int) -> np.ndarray:
    """A seeded uniform number in [0, 1) for each row number: splitmix64 (Steele, Lea and Flood, "Fast
    splittable pseudorandom number generators", OOPSLA 2014) of the row number mixed with the seed, so the
    same row gets the same number in every pass, whatever the chunk size."""
    key = _mix(np.array([(int(seed) * 2 + salt) % (1 << 64)], dtype=np.uint64))
    return (_mix(np.asarray(rows).astype(np.uint64) ^ key) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _mix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def is_validation(rows: np.ndarray, seed: int, share: float) -> np.ndarray:
    """Whether each row number is a validation row: the seeded rule every pass over a streamed file applies."""
    return row_keys(rows, seed, _SPLIT) < share


def targets(values: pd.Series, task: str, class_names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Targets as an upload's are encoded (class indices of ``as_text`` values, or numbers) and which are usable
    (a known class; a finite number). The text of each distinct value is found once, not once a row."""
    if task == "regression":
        y = as_number(values).astype(np.float32)
        return y, np.isfinite(y)
    index = {c: i for i, c in enumerate(class_names)}
    distinct = pd.unique(values.dropna())
    codes = dict(zip(distinct, as_text(pd.Series(distinct, dtype=values.dtype)).map(index)))
    y = values.map(codes).to_numpy(dtype=np.float64, na_value=np.nan)
    ok = np.isfinite(y)
    return np.where(ok, y, 0).astype(np.int64), ok


def sniff(path: str | os.PathLike[str], limits: Limits) -> CsvFormat:
    """Encoding, delimiter and decimal mark from the file's first megabyte (up to its last whole line),
    with the upload's checks of text and header."""
    from dlcore.data.readers import HEAD, detect_decimal, detect_delimiter, detect_encoding

    with open(path, "rb") as fh:
        head = fh.read(HEAD)
    cut = head[: head.rfind(b"\n") + 1] or head
    encoding = detect_encoding(cut, Path(path).name)
    text = cut.decode(encoding, errors="ignore")
    delimiter = detect_delimiter(text, False)
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    validate.check_header([h for h in header if h.strip()], limits)
    return CsvFormat(encoding, delimiter, detect_decimal(text, delimiter, False))


def read_chunks(path: str | os.PathLike[str], form: CsvFormat, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The rows of a CSV in chunks indexed by row number; anything pandas cannot parse is the upload's
    ``DataError`` (the line and the fix)."""
    try:
        reader = pd.read_csv(path, sep=form.delimiter, decimal=form.decimal, encoding=form.encoding,
                             chunksize=chunk_rows)
        with reader:
            for chunk in reader:
                chunk.columns = [str(c).strip() for c in chunk.columns]
                yield chunk
    except pd.errors.EmptyDataError:
        raise DataError(f"{Path(path).name} has no header row or columns; put column names on the first line") from None
    except (pd.errors.ParserError, ValueError, csv.Error, UnicodeError, OverflowError, MemoryError) as exc:
        raise validate.parse_error(exc, form.delimiter) from None


def count_lines(path: str | os.PathLike[str]) -> int:
    """Line breaks in the file: an upper bound on its data rows plus the header, found without parsing."""
    n = 0
    with open(path, "rb") as fh:
        while block := fh.read(NEWLINE_BLOCK):
            n += block.count(b"\n")
    return n


def streams(path: str | os.PathLike[str], settings: StreamSettings | None = None,
            limits: Limits | None = None) -> bool:
    """Whether a file given by path is read in chunks: a table (not a ZIP or NPZ) larger than
    ``DLCORE_STREAM_MB`` or than the upload cap (which would refuse to read it whole)."""
    settings = settings or StreamSettings.from_env()
    limits = limits or Limits.from_env()
    p = Path(path)
    if not p.is_file() or p.stat().st_size <= min(settings.min_bytes, limits.max_bytes):
        return False
    with open(p, "rb") as fh:
        return not fh.read(4).startswith((b"PK\x03\x04", b"PK\x05\x06"))


@dataclass
class ScanResult:
    """What one pass over the file keeps (bounded: the cap on validation rows, the sample's size)."""

    val: list[pd.DataFrame] = dataclasses.field(default_factory=list)
    n_val: int = 0
    sample: pd.DataFrame | None = None
    keys: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    counts: collections.Counter | None = dataclasses.field(default_factory=collections.Counter)
    finite: int = 0
    rows: int = 0


def scan(chunks: Iterator[pd.DataFrame], target: str, seed: int, share: float, settings: StreamSettings) -> ScanResult:
    """One pass: the validation rows (up to the cap), the training sample, the target's counts over training rows."""
    out = ScanResult()
    for chunk in chunks:
        rows = chunk.index.to_numpy()
        out.rows += len(chunk)
        val = is_validation(rows, seed, share)
        if val.any() and out.n_val < settings.val_rows:
            out.val.append(chunk[val].iloc[: settings.val_rows - out.n_val])
            out.n_val += len(out.val[-1])
        train = chunk[~val]
        _count(out, train[target])
        _keep_sample(out, train, settings.sample_rows, seed)
    return out


def _count(out: ScanResult, values: pd.Series) -> None:
    out.finite += int(np.isfinite(as_number(values)).sum())
    if out.counts is None:
        return
    raw = values.value_counts(dropna=True)
    for text, n in zip(as_text(pd.Series(raw.index, dtype=values.dtype)), raw.tolist()):
        if text is not None:
            out.counts[text] += int(n)
    if len(out.counts) > MAX_COUNTED:
        out.counts = None


def _keep_sample(out: ScanResult, train: pd.DataFrame, k: int, seed: int) -> None:
    """The k training rows of lowest seeded hash so far (a uniform sample without replacement)."""
    keys = row_keys(train.index.to_numpy(), seed, _SAMPLE)
    if out.sample is not None and len(out.keys) >= k:
        low = keys < out.keys.max()  # only rows below the sample's highest key can enter it
        train, keys = train[low], keys[low]
    frame = train if out.sample is None else pd.concat([out.sample, train])
    keys = np.concatenate([out.keys, keys])
    if len(keys) > k:
        keep = np.sort(np.argpartition(keys, k - 1)[:k])
        frame, keys = frame.iloc[keep], keys[keep]
    out.sample, out.keys = frame, keys


def tf_batches(stream: CsvStream, batch_size: int, first_epoch: int = 0) -> Any:
    """A ``tf.data.Dataset`` of the stream's training batches, epoch after epoch (give Keras ``steps_per_epoch
    = stream.steps(batch_size)``); epoch ``first_epoch`` first, so a resumed job reshuffles as it would have."""
    import itertools

    import tensorflow as tf

    def generate() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for epoch in itertools.count(first_epoch):
            yield from stream.batches(batch_size, epoch)

    y_type = tf.int64 if stream.task == "classification" else tf.float32
    signature = (tf.TensorSpec((None, stream.width), tf.float32), tf.TensorSpec((None,), y_type))
    return tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(2)
