"""Uploads -> ``Dataset``: a CSV table, a CSV of texts, a ZIP of images in class folders, an NPZ with x and y.

``understand(raw, choices)`` says what was understood (a ``Preview``: rows, columns and their use, target,
task, classes, warnings) without fitting anything; ``to_dataset`` splits, fits the preprocessing on the
training rows only, and returns the ``Dataset``. Both raise ``DataError`` with a one-line message for
input that cannot be used.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dlcore.data import forecast, validate
from dlcore.data.columns import (
    PARSE_SHARE,
    TARGET_NAMES,
    ColumnInfo,
    action,
    copies_classes,
    copies_numbers,
    infer_column,
    infer_task,
)
from dlcore.data.dataset import Dataset
from dlcore.data.preprocess import Preprocessing, as_number, as_text, fit_numeric, fit_tabular
from dlcore.data.readers import RawUpload, read_path
from dlcore.data.split import split_indices
from dlcore.errors import DataError

TASKS = ("classification", "regression")
MAX_CLASSES = 200


@dataclass(frozen=True)
class Choices:
    """What the user chose about an upload; None / empty means the inferred default."""

    target: str | None = None
    task: str | None = None
    exclude: tuple[str, ...] | None = None  # columns left out; None: those flagged when understood
    ordinal: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # column -> categories in order; () one-hot
    image_size: int | None = None
    read_as: str | None = None  # arrays shaped (n, a, b): "image" (grey, a x b) or "sequence" (a steps of b)
    sensitive: tuple[str, ...] = ()  # columns kept for the fairness audit
    sensitive_inputs: tuple[str, ...] = ()  # those of them also given to the model (default: none)
    forecast: forecast.ForecastSpec | None = None  # a series: windows of it forecast a later value

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "task": self.task,
                "exclude": None if self.exclude is None else list(self.exclude),
                "ordinal": {k: list(v) for k, v in self.ordinal.items()}, "image_size": self.image_size,
                "read_as": self.read_as, "sensitive": list(self.sensitive),
                "sensitive_inputs": list(self.sensitive_inputs),
                "forecast": None if self.forecast is None else self.forecast.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Choices:
        data = dict(data or {})
        exclude = data.get("exclude")
        return cls(target=data.get("target"), task=data.get("task"),
                   exclude=None if exclude is None else tuple(str(c) for c in exclude),
                   ordinal={str(k): tuple(str(c) for c in v) for k, v in (data.get("ordinal") or {}).items()},
                   image_size=data.get("image_size"), read_as=data.get("read_as"),
                   sensitive=tuple(str(c) for c in data.get("sensitive") or ()),
                   sensitive_inputs=tuple(str(c) for c in data.get("sensitive_inputs") or ()),
                   forecast=forecast.ForecastSpec.from_dict(data["forecast"]) if data.get("forecast") else None)


@dataclass(frozen=True, eq=False)
class Preview:
    """What was understood about an upload, before anything is fitted."""

    raw: RawUpload
    kind: str  # table, texts, images, arrays
    modality: str
    task: str
    target: str
    keep: np.ndarray  # rows read -> used (False: no target value, or a class with a single row)
    y: np.ndarray  # targets of the used rows: class indices, or floats
    class_names: tuple[str, ...] = ()
    columns: tuple[ColumnInfo, ...] = ()  # the feature columns of a table
    warnings: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()  # columns kept for the fairness audit

    @property
    def n_rows(self) -> int:
        return int(self.keep.sum())

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.use)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.y.astype(int), minlength=len(self.class_names)) if self.class_names else []
        return {c: int(n) for c, n in zip(self.class_names, counts)}

    def examples(self, per_class: int = 8, seed: int = 0) -> np.ndarray:
        """Indices (into the rows read) of up to ``per_class`` seeded picks per class, or of any rows."""
        rng = np.random.default_rng(seed)
        used = np.flatnonzero(self.keep)
        groups = [used[self.y == k] for k in range(len(self.class_names))] or [used]
        return np.concatenate([rng.choice(g, size=min(per_class, len(g)), replace=False) for g in groups])

    def numbers(self) -> pd.DataFrame:
        """The numeric feature columns (and a numeric target) of the used rows, as numbers: for statistics."""
        frame = self.raw.frame
        if frame is None:
            return pd.DataFrame()
        names = [c.name for c in self.columns if c.use == "numeric"]
        if self.task == "regression":
            names.append(self.target)
        rows = frame[names] if self.keep.all() else frame.loc[self.keep, names]
        return pd.DataFrame({n: as_number(rows[n]) for n in names}, index=rows.index)

    def statistics(self) -> pd.DataFrame:
        """Count, missing, mean, std, min, median and max of each column of ``numbers()``.

        NumPy column by column rather than ``DataFrame.describe``, which costs about as much as reading the
        file again (its quartiles go through pandas' generic aggregation) on every preview.
        """
        columns = ["count", "missing", "mean", "std", "min", "median", "max"]
        rows = {}
        for name, col in self.numbers().items():
            x = col.to_numpy(dtype=np.float64)
            x = x[np.isfinite(x)]
            rows[name] = [len(x), len(col) - len(x)] + [np.nan] * 5
            if len(x):
                rows[name][2:] = [x.mean(), x.std(ddof=1) if len(x) > 1 else np.nan, x.min(), np.median(x), x.max()]
        return pd.DataFrame.from_dict(rows, orient="index", columns=columns)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (``dlcore validate --json``)."""
        return {"file": self.raw.filename, "kind": self.kind, "modality": self.modality, "task": self.task,
                "target": self.target, "rows_read": self.raw.n_rows, "rows": self.n_rows,
                "features": list(self.features), "classes": self.class_counts(),
                "columns": [{**c.to_dict(), "action": action(c)} for c in self.columns],
                "sensitive": list(self.sensitive),
                "notes": list(self.raw.notes), "warnings": [*self.raw.skipped, *self.warnings]}


def _class_order(labels: list[str]) -> list[str]:
    """Classes sorted as numbers when they all are numbers, else alphabetically."""
    numbers = as_number(pd.Series(labels, dtype=object))
    return [labels[i] for i in np.argsort(numbers, kind="stable")] if np.isfinite(numbers).all() else sorted(labels)


def _classes(labels: pd.Series, keep: np.ndarray,
             name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], list[str]]:
    counts = labels[keep].value_counts()
    if len(counts) > MAX_CLASSES:
        raise DataError(f"target {name!r} has {len(counts)} distinct values, too many classes (at most {MAX_CLASSES}); "
                        "choose regression or another target")
    single = validate.check_classes({str(k): int(v) for k, v in counts.items()}, name)
    warnings = []
    if single:
        keep = keep & ~labels.isin(single).to_numpy()
        shown = ", ".join(repr(s) for s in single[:5]) + (", ..." if len(single) > 5 else "")
        warnings.append(f"class(es) {shown} of {name!r} have a single row: dropped (a class needs one row "
                        "for training and one for validation)")
    names = tuple(_class_order([str(c) for c in counts.index if c not in single]))
    y = labels[keep].map({c: i for i, c in enumerate(names)}).to_numpy(dtype=np.int64)
    return keep, y, names, warnings


def _target(values: pd.Series, name: str,
            task: str | None) -> tuple[str, np.ndarray, np.ndarray, tuple[str, ...], list[str]]:
    """Task, kept rows, encoded targets, class names and warnings for a target column."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric:
        inf = np.isinf(values.to_numpy(dtype=np.float64, na_value=np.nan))
        if inf.any():
            raise DataError(f"target {name!r} holds inf in {int(inf.sum())} row(s) (first: data row "
                            f"{int(np.argmax(inf)) + 1}); replace them with numbers or drop those rows")
    task = task or infer_task(values)
    if task not in TASKS:
        raise DataError(f"unknown task {task!r}; choose classification or regression")
    if task == "regression":
        y = as_number(values)
        keep = np.isfinite(y)
        if not numeric and keep.sum() < PARSE_SHARE * values.notna().sum():
            raise DataError(f"target {name!r} is not numeric (e.g. {values.dropna().iloc[0]!r}); "
                            "choose classification or another target")
    else:
        labels = as_text(values)
        keep = labels.notna().to_numpy()
    if not keep.any():
        raise DataError(f"target {name!r} has no values; choose a column with values")
    missing = int((~keep).sum())
    warnings = [f"{missing} row(s) without a value in the target {name!r} left out"] if missing else []
    if task == "regression":
        return task, keep, y[keep].astype(np.float32), (), warnings
    keep, y, names, more = _classes(labels, keep, name)
    return task, keep, y, names, warnings + more


def default_target(frame: pd.DataFrame) -> str:
    """A column named like a target (``target``, ``label``, ``class``, ...), else the last column that can be one."""
    for name in frame.columns:
        if name.strip().lower() in TARGET_NAMES:
            return name
    for name in reversed(frame.columns):
        if infer_column(name, frame[name]).kind in ("numeric", "boolean", "categorical", "ordinal"):
            return name
    return frame.columns[-1]


def _natural_use(info: ColumnInfo) -> str | None:
    """How a column the user chose to include is fed, when it was flagged as not usable by default."""
    if info.kind == "empty":
        return None
    if info.kind in ("numeric", "boolean", "categorical", "ordinal", "date", "text"):
        return info.kind
    return "numeric" if info.dtype.startswith(("int", "float", "uint")) else "categorical"


def _apply_choices(frame: pd.DataFrame, infos: list[ColumnInfo], choices: Choices, target: str) -> list[ColumnInfo]:
    unknown = [c for c in (*(choices.exclude or ()), *choices.ordinal) if c not in {i.name for i in infos}]
    if unknown:
        raise DataError(f"no feature column {unknown[0]!r} to leave out or order (the target is {target!r})")
    for col, order in choices.ordinal.items():
        absent = sorted(set(as_text(frame[col]).dropna()) - set(order)) if order else []
        if absent:
            raise DataError(f"the order given for {col!r} lacks {', '.join(repr(a) for a in absent[:5])}; "
                            "list every category once, lowest first")
    out = []
    for info in infos:
        if info.name in choices.sensitive and info.name not in choices.sensitive_inputs:
            out.append(dataclasses.replace(info, use=None, note="left out: sensitive, kept for the fairness audit"))
            continue
        if choices.exclude is not None and info.name in choices.exclude:
            if info.use:  # a column flagged already keeps the reason it was flagged for
                info = dataclasses.replace(info, use=None, note="left out by your choice")
        elif choices.exclude is not None and info.use is None:
            info = dataclasses.replace(info, use=_natural_use(info), note="included by your choice")
        if info.name in choices.ordinal and info.use:
            order = tuple(choices.ordinal[info.name])
            info = dataclasses.replace(info, use="ordinal" if order else "categorical", order=order)
        out.append(info)
    return out


def _resolve_text(infos: list[ColumnInfo], defaults: bool) -> list[ColumnInfo]:
    """A lone free-text column makes a text data set; free text next to other features is used as categories."""
    used = [i for i in infos if i.use]
    if not used and defaults:
        texts = sorted((i for i in infos if i.kind == "text"), key=lambda i: -i.unique)
        if texts:
            return [dataclasses.replace(i, use="text", note="") if i is texts[0] else i for i in infos]
    if len(used) > 1 and any(i.use == "text" for i in used):
        note = "free text used as categories; leave out the other columns to train a text model on it"
        return [dataclasses.replace(i, use="categorical", note=note) if i.use == "text" else i for i in infos]
    return infos


def _flag_copies(frame: pd.DataFrame, infos: list[ColumnInfo], target: str, task: str,
                 n_classes: int) -> list[ColumnInfo]:
    """Leave out features that are the target in disguise (they would leak the answer into training)."""
    numbers = as_number(frame[target]) if task == "regression" else None
    labels = as_text(frame[target]) if task == "classification" else None
    out = []
    for info in infos:
        if numbers is not None:
            leak = info.use == "numeric" and copies_numbers(as_number(frame[info.name]), numbers)
        else:
            leak = info.use is not None and info.unique == n_classes and copies_classes(frame[info.name], labels)
        note = f"left out: copies the target {target!r} one to one, which would leak the answer"
        out.append(dataclasses.replace(info, use=None, note=note) if leak else info)
    return out


def _table(raw: RawUpload, choices: Choices) -> Preview:
    frame = raw.frame
    assert frame is not None
    names = list(frame.columns)
    if len(names) < 2:
        raise DataError("the table has a single column; it needs feature columns and a target column")
    target = choices.target.strip() if choices.target else default_target(frame)
    if target not in names:
        shown = ", ".join(repr(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
        raise DataError(f"no column {target!r} to use as the target; the columns are {shown}")
    task, keep, y, classes, warnings = _target(frame[target], target, choices.task)
    _check_sensitive(choices, names, target)
    infos = [infer_column(n, frame[n]) for n in names if n != target]
    if all(i.kind == "empty" for i in infos):
        raise DataError("every feature column is empty; fill in values or upload another file")
    infos = _flag_copies(frame, infos, target, task, len(classes))
    infos = _resolve_text(_apply_choices(frame, infos, choices, target), choices.exclude is None)
    used = [i for i in infos if i.use]
    if not used:
        raise DataError(f"no feature columns left: every column but the target {target!r} is left out; include one")
    modality = "text" if len(used) == 1 and used[0].use == "text" else "tabular"
    if modality == "text":
        keep, y, warnings = _drop_empty_texts(frame[used[0].name], keep, y, warnings)
    return Preview(raw, "texts" if modality == "text" else "table", modality, task, target, keep, y, classes,
                   tuple(infos), tuple(warnings), choices.sensitive)


def _drop_empty_texts(texts: pd.Series, keep: np.ndarray, y: np.ndarray,
                      warnings: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rows whose text is empty (or only spaces) give a text model nothing to read: they are left out."""
    empty = as_text(texts).isna().to_numpy()
    if not (empty & keep).any():
        return keep, y, warnings
    if not (keep & ~empty).any():
        raise DataError(f"every text in {texts.name!r} is empty; fill in the texts or choose another column")
    message = f"{int((empty & keep).sum())} row(s) with an empty text in {texts.name!r} left out"
    return keep & ~empty, y[~empty[keep]], [*warnings, message]


def _check_sensitive(choices: Choices, names: list[str], target: str) -> None:
    for col in (*choices.sensitive, *choices.sensitive_inputs):
        if col not in names:
            raise DataError(f"no column {col!r} to mark as sensitive; the columns are "
                            + ", ".join(repr(n) for n in names[:12]) + (", ..." if len(names) > 12 else ""))
        if col == target:
            raise DataError(f"{col!r} is the target; a sensitive column is another column (the audit compares "
                            "the target across its groups)")
    stray = [c for c in choices.sensitive_inputs if c not in choices.sensitive]
    if stray:
        raise DataError(f"{stray[0]!r} is given to the model as a sensitive input but not marked sensitive")


READ_AS = ("image", "sequence")


def array_modality(x: np.ndarray, read_as: str | None = None) -> str:
    """Images, sequences or a table, from the shape of ``x``. Arrays shaped (n, a, b) are ambiguous: grey
    images when both sides are at least 8 unless ``read_as`` says "sequence" (a steps of b features)."""
    if read_as is not None and read_as not in READ_AS:
        raise DataError(f"read_as must be one of {', '.join(READ_AS)}, not {read_as!r}")
    if read_as is not None and x.ndim != 3:
        raise DataError(f"only arrays shaped (n, a, b) can be read either way; x is shaped {x.shape}")
    if read_as == "image" and min(x.shape[1:]) < 2:
        raise DataError(f"x is shaped {x.shape}: too thin to be images; read it as sequences")
    if read_as is not None:
        return read_as
    if x.ndim == 4 and x.shape[-1] in (1, 3, 4) or x.ndim == 3 and min(x.shape[1:]) >= 8:
        return "image"
    return "tabular" if x.ndim == 2 else "sequence"


def understand(raw: RawUpload, choices: Choices | None = None,
               validation_split: float = 0.2) -> Preview | forecast.ForecastPreview:
    """What an upload holds and how it will be used, checked down to the validation split (a series to
    forecast, when ``choices.forecast`` says so: see ``dlcore.data.forecast``)."""
    choices = choices or Choices()
    if choices.forecast is not None:
        return forecast.understand(raw, _forecast_spec(choices), validation_split)
    if raw.kind == "table":
        preview = _table(raw, choices)
    else:
        assert raw.labels is not None and raw.x is not None
        if raw.kind == "images" and choices.task == "regression":
            raise DataError("images are labelled by their folder, so the task is classification")
        if choices.sensitive:
            raise DataError(f"sensitive columns are columns of a table; this {raw.kind} upload has none. To audit "
                            "images or arrays by group, upload a CSV table with a group column beside the features")
        target = "class folder" if raw.kind == "images" else "y"
        task, keep, y, classes, warnings = _target(pd.Series(raw.labels), target, choices.task)
        modality = "image" if raw.kind == "images" else array_modality(raw.x, choices.read_as)
        preview = Preview(raw, raw.kind, modality, task, target, keep, y, classes, (), tuple(warnings))
    validate.check_split(preview.n_rows, len(preview.class_names), validation_split)
    return preview


def _inputs(preview: Preview, train: np.ndarray) -> tuple[np.ndarray, Preprocessing, tuple[str, ...]]:
    """Model inputs for the used rows, with preprocessing fitted on the ``train`` rows only."""
    raw = preview.raw
    if raw.frame is not None:
        frame = raw.frame.loc[preview.keep, list(preview.features)].reset_index(drop=True)
        if preview.modality == "text":
            prep = Preprocessing("text", {"column": preview.features[0]})
            return prep.transform(frame), prep, preview.features
        used = [c for c in preview.columns if c.use]
        prep = fit_tabular(frame.iloc[train], {c.name: str(c.use) for c in used},
                           {c.name: c.order for c in used if c.use == "ordinal"},
                           {c.name: c.date_format for c in used if c.use == "date"})
        return prep.transform(frame), prep, tuple(prep.output_names())
    x = np.asarray(raw.x)[preview.keep]
    if preview.modality == "tabular":
        names = [f"x{j}" for j in range(x.shape[1])]
        prep = fit_numeric(x[train], names)
        return prep.transform(x), prep, tuple(names)
    if preview.modality == "sequence":
        return x.astype(np.float32), Preprocessing.identity(), tuple(f"x{j}" for j in range(int(np.prod(x.shape[1:]))))
    x = x[..., None] if x.ndim == 3 else x[..., :3]  # grey images get a channel axis; RGBA loses alpha
    peak = float(x.max(initial=0))
    scale = 1.0 / 255.0 if x.dtype == np.uint8 or 1.0 < peak <= 255.0 else 1.0 / peak if peak > 255.0 else 1.0
    h, w, c = (int(d) for d in x.shape[1:])
    prep = Preprocessing("image", {"height": h, "width": w, "channels": c, "scale": scale})
    return prep.transform(x), prep, tuple(f"pixel_{r}_{k}" for r in range(h) for k in range(w))


def to_dataset(raw: RawUpload, choices: Choices | None = None, name: str = "", validation_split: float = 0.2,
               seed: int = 0) -> Dataset:
    """Split an upload (stratified for classification, seeded) and fit its preprocessing on the training rows;
    a series to forecast is split by time instead, never shuffled."""
    if choices is not None and choices.forecast is not None:
        return forecast.to_dataset(raw, _forecast_spec(choices), name, validation_split)
    preview = understand(raw, choices, validation_split)
    assert isinstance(preview, Preview)
    classification = preview.task == "classification"
    train, val = split_indices(preview.n_rows, validation_split, seed, preview.y if classification else None)
    x, prep, features = _inputs(preview, train)
    y = preview.y
    groups = {}
    if preview.sensitive and raw.frame is not None:
        rows = raw.frame.loc[preview.keep]
        groups = {c: rows[c].astype(object).where(rows[c].notna(), None).to_numpy(dtype=object)
                  for c in preview.sensitive}
    return Dataset(
        name=name or Path(raw.filename).stem, task=preview.task, modality=preview.modality,  # type: ignore[arg-type]
        x_train=x[train], y_train=y[train], x_val=x[val], y_val=y[val], feature_names=features,
        class_names=preview.class_names, preprocessing=prep,
        sensitive_train={c: v[train] for c, v in groups.items()}, sensitive_val={c: v[val] for c, v in groups.items()},
        description=f"Uploaded {preview.kind} {raw.filename}: {preview.n_rows} rows, target {preview.target!r} "
                    f"({preview.task}).",
    )


def _forecast_spec(choices: Choices) -> forecast.ForecastSpec:
    """The forecast's spec, with the chosen target when the spec names none."""
    spec = choices.forecast
    assert spec is not None
    return dataclasses.replace(spec, target=spec.target or choices.target)


def load_file(path: str | os.PathLike[str], target: str | None = None, validation_split: float = 0.2, seed: int = 0,
              choices: Choices | None = None, name: str = "") -> Dataset:
    """Read a CSV, ZIP or NPZ file and turn it into a Dataset (``--data FILE --target COL``)."""
    choices = choices or Choices()
    if target:
        choices = dataclasses.replace(choices, target=target)
    raw = read_path(path, image_size=choices.image_size)
    return to_dataset(raw, choices, name, validation_split, seed)


__all__ = ["Choices", "Preview", "load_file", "to_dataset", "understand"]
