"""A CSV too large to read whole, as a ``Dataset`` whose training rows stream (``dlcore.data.stream``).

The columns are understood, the target encoded and the preprocessing fitted by the upload's own code
(``understand``, ``fit_tabular``), on a bounded sample of training rows; the same messages refuse the same
bad files (a ragged line, no such target column).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from dlcore.data import validate
from dlcore.data.dataset import Dataset
from dlcore.data.limits import Limits
from dlcore.data.preprocess import Preprocessing, fit_tabular
from dlcore.data.readers import RawUpload
from dlcore.data.stream import CsvStream, ScanResult, StreamSettings, count_lines, read_chunks, scan, sniff, targets
from dlcore.data.upload import Choices, Preview, understand
from dlcore.errors import DataError


def load_streamed(path: str | os.PathLike[str], choices: Choices | None = None, validation_split: float = 0.2,
                  seed: int = 0, settings: StreamSettings | None = None, limits: Limits | None = None) -> Dataset:
    """A large CSV as a streamed Dataset: ``x_train`` is the fitted sample, ``x_val`` the validation rows kept,
    ``stream`` what an epoch reads."""
    choices, settings, limits = choices or Choices(), settings or StreamSettings.from_env(), limits or Limits.from_env()
    if choices.forecast is not None:
        raise DataError(f"{Path(path).name} is too large to read whole, and a forecast needs the whole series; "
                        "forecast a shorter stretch of it")
    form = sniff(path, limits)
    name = Path(path).name
    chunks = read_chunks(path, form, settings.chunk_rows)
    first = next(chunks, None)
    chunks.close()
    validate.check_rows(0 if first is None else len(first), limits)
    assert first is not None
    validate.check_header(list(first.columns), limits)
    target = understand(RawUpload(name, "table", frame=first), choices, validation_split).target  # type: ignore[union-attr]
    share = min(validation_split, settings.val_rows / max(1, count_lines(path) - 1))
    found = scan(read_chunks(path, form, settings.chunk_rows), target, seed, share, settings)
    assert found.sample is not None
    sample = found.sample.reset_index(drop=True)
    preview = understand(RawUpload(name, "table", frame=sample), dataclasses.replace(choices, target=target),
                         validation_split)
    assert isinstance(preview, Preview)
    if preview.modality != "tabular":
        raise DataError(f"{name} is a table of texts too large to read whole; streaming reads tables of features "
                        "(use a sample of the texts, below DLCORE_STREAM_MB)")
    rows = sample.loc[preview.keep].reset_index(drop=True)
    prep = _fit(preview, rows)
    val = pd.concat(found.val) if found.val else sample.iloc[:0]
    y_val, ok = targets(val[target], preview.task, preview.class_names)
    val, y_val = val[ok], y_val[ok]
    if not len(val):
        raise DataError(f"no validation rows with a target among {found.rows} rows; raise the validation split or "
                        "DLCORE_STREAM_VAL_ROWS")
    stream = CsvStream(str(Path(path).resolve()), form, target, preview.task, preview.features, preview.class_names,
                       prep, seed, share, found.rows, _n_train(found, preview), len(val), len(rows),
                       settings.chunk_rows, settings.shuffle_rows)
    return _dataset(stream, preview, rows, val, y_val)


def _fit(preview: Preview, rows: pd.DataFrame) -> Preprocessing:
    """The preprocessing an upload of these rows gets (``dlcore.data.upload``), fitted on them."""
    used = [c for c in preview.columns if c.use]
    return fit_tabular(rows[list(preview.features)], {c.name: str(c.use) for c in used},
                       {c.name: c.order for c in used if c.use == "ordinal"},
                       {c.name: c.date_format for c in used if c.use == "date"})


def _n_train(found: ScanResult, preview: Preview) -> int:
    """Training rows with a usable target over the whole file, from the pass's counts."""
    if preview.task == "regression":
        return found.finite
    counts = found.counts
    if counts is None:
        raise DataError(f"target {preview.target!r} has more distinct values in the whole file than a classifier "
                        "can have; choose regression or another target")
    return int(sum(counts.get(c, 0) for c in preview.class_names))


def _dataset(stream: CsvStream, preview: Preview, rows: pd.DataFrame, val: pd.DataFrame,
             y_val: np.ndarray) -> Dataset:
    def groups(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        return {c: frame[c].astype(object).where(frame[c].notna(), None).to_numpy(dtype=object)
                for c in preview.sensitive}

    prep = stream.preprocessing
    name = Path(stream.path).name
    return Dataset(
        name=Path(stream.path).stem, task=preview.task, modality="tabular",  # type: ignore[arg-type]
        x_train=prep.transform(rows), y_train=preview.y, x_val=prep.transform(val), y_val=y_val,
        feature_names=tuple(prep.output_names()), class_names=preview.class_names, preprocessing=prep,
        sensitive_train=groups(rows), sensitive_val=groups(val), stream=stream,
        description=f"Streamed table {name}: {stream.n_rows} rows read in chunks, target {preview.target!r} "
                    f"({preview.task}); {stream.n_train} training rows an epoch, {stream.n_val_kept} validation "
                    f"rows kept ({stream.val_share:.2%} of rows by a seeded rule); preprocessing fitted on a "
                    f"seeded sample of {stream.fit_rows} training rows.",
    )
