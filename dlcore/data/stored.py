"""Kept uploads: ``<home>/datasets/<name>/`` holds the original file and ``dataset.json`` (the choices made).

The original bytes are kept, not arrays, so a stored upload is re-read and re-split by the same code as a
fresh one. ``dataset.json`` is written last and atomically: a folder without it is not listed.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dlcore.data.builtin import builtin_names
from dlcore.data.dataset import Dataset
from dlcore.data.forecast import ForecastSpec
from dlcore.data.readers import read_bytes, read_path
from dlcore.data.upload import Choices, to_dataset, understand
from dlcore.errors import DataError
from dlcore.workspace import atomic_write_bytes, atomic_write_json, home, read_json

META_FILE = "dataset.json"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SUFFIX = {"table": ".csv", "texts": ".csv", "images": ".zip", "arrays": ".npz"}


@dataclass(frozen=True)
class UploadSummary:
    """What was understood of a kept upload when it was kept (``dlcore validate``'s summary, without columns)."""

    kind: str = ""
    modality: str = ""
    task: str = ""
    target: str | None = None
    rows: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> UploadSummary:
        data = data or {}
        rows = data.get("rows")
        target = data.get("target")
        return cls(kind=str(data.get("kind") or ""), modality=str(data.get("modality") or ""),
                   task=str(data.get("task") or ""), target=None if target is None else str(target),
                   rows=None if rows is None else int(rows))


@dataclass(frozen=True)
class StoredDataset:
    """One kept upload as listed: its name, folder and description (``meta``: its ``dataset.json``, read
    through the properties below)."""

    name: str
    path: Path
    meta: Mapping[str, Any]

    @property
    def file(self) -> Path:
        return self.path / str(self.meta["file"])

    @property
    def choices(self) -> Choices:
        return Choices.from_dict(self.meta.get("choices"))

    @property
    def filename(self) -> str:
        """The name of the file as it was uploaded."""
        return str(self.meta.get("filename") or "")

    @property
    def created(self) -> str:
        """When it was kept (UTC, ISO 8601)."""
        return str(self.meta.get("created") or "")

    @property
    def summary(self) -> UploadSummary:
        return UploadSummary.from_dict(self.meta.get("summary"))


class DatasetStore:
    """The uploads kept under ``<home>/datasets``."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = home(root) / "datasets"

    def path(self, name: str) -> Path:
        if not NAME.match(name or ""):
            raise DataError(f"invalid data set name {name!r}: use 1-64 letters, digits, '_', '-' or '.', "
                            "starting with a letter or digit")
        return self.root / name

    def save(self, name: str, data: bytes, filename: str, choices: Choices | None = None,
             overwrite: bool = False) -> StoredDataset:
        """Keep an upload under ``name`` after checking that it turns into a Dataset with ``choices``."""
        folder = self.path(name)
        if name in builtin_names():
            raise DataError(f"{name!r} is a built-in data set; choose another name")
        if (folder / META_FILE).exists() and not overwrite:
            raise DataError(f"a data set named {name!r} exists; choose another name or delete it first")
        choices = choices or Choices()
        raw = read_bytes(data, filename, image_size=choices.image_size)
        preview = understand(raw, choices)
        to_dataset(raw, choices, name)  # refuse now what would fail at training time
        suffix = SUFFIX[preview.kind]
        old = read_json(folder / META_FILE)
        atomic_write_bytes(folder / f"original{suffix}", data)
        if isinstance(old, dict) and old.get("file") != f"original{suffix}":
            (folder / str(old.get("file"))).unlink(missing_ok=True)
        meta = {"name": name, "file": f"original{suffix}", "filename": filename, "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "choices": {**choices.to_dict(), "target": preview.target, "task": preview.task},
                "summary": {k: v for k, v in preview.to_dict().items() if k != "columns"}}
        atomic_write_json(folder / META_FILE, meta)
        return StoredDataset(name, folder, meta)

    def get(self, name: str) -> StoredDataset:
        folder = self.path(name)
        meta = read_json(folder / META_FILE)
        if not isinstance(meta, dict) or not (folder / str(meta.get("file", ""))).is_file():
            raise DataError(f"no stored data set {name!r}; `python -m dlcore datasets` lists them")
        return StoredDataset(name, folder, meta)

    def names(self) -> list[str]:
        return [d.name for d in self.list()]

    def list(self) -> list[StoredDataset]:
        """Complete stored uploads, by name."""
        out = []
        for folder in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            meta = read_json(folder / META_FILE) if folder.is_dir() and NAME.match(folder.name) else None
            if isinstance(meta, dict) and (folder / str(meta.get("file", ""))).is_file():
                out.append(StoredDataset(folder.name, folder, meta))
        return out

    def version(self, name: str) -> str:
        """Changes whenever the stored data set is replaced (for caches)."""
        try:
            return str((self.path(name) / META_FILE).stat().st_mtime_ns)
        except (OSError, DataError):
            return ""

    def load(self, name: str, target: str | None = None, validation_split: float = 0.2, seed: int = 0,
             sensitive: Sequence[str] | None = None, forecast: ForecastSpec | None = None) -> Dataset:
        """The stored upload as a Dataset, with its stored choices (and another target, other sensitive
        columns kept out of the inputs, or a forecast of it as a series, if given)."""
        stored = self.get(name)
        choices = stored.choices
        if sensitive is not None:
            choices = replace(choices, sensitive=tuple(sensitive), sensitive_inputs=())
        if target and target != choices.target:
            # the column choices were made for the stored target; how the file is read still holds
            kept = tuple(c for c in choices.sensitive if c != target)
            choices = Choices(target=target, image_size=choices.image_size, read_as=choices.read_as, sensitive=kept,
                              sensitive_inputs=tuple(c for c in choices.sensitive_inputs if c in kept))
            old = stored.choices.forecast
            choices = replace(choices, forecast=None if old is None else replace(old, target=target))
        if forecast is not None:
            choices = replace(choices, forecast=forecast)
        raw = read_path(stored.file, image_size=choices.image_size)
        return to_dataset(raw, choices, name, validation_split, seed)

    def delete(self, name: str) -> None:
        """Remove a stored upload: first unlist it (its description goes first), then its files."""
        folder = self.get(name).path
        (folder / META_FILE).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
