"""ModelStore: trained models on disk, each a folder ``models/<id>/`` with ``model.keras`` + ``meta.json``.

Writes are atomic (temp file, fsync, ``os.replace``), and a folder is listed only once its ``meta.json``
exists, which is written last: a save that dies half-way is never listed, and overwriting a model keeps
the previous version loadable until the new one is complete. Loading always uses ``safe_mode=True``.
"""
from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dlcore import __version__
from dlcore.errors import ModelError
from dlcore.record import ModelMeta
from dlcore.workspace import atomic_replace_file, atomic_write_json, home, new_id, read_json

MODEL_FILE = "model.keras"
META_FILE = "meta.json"


@dataclass(frozen=True, eq=False)
class ModelRecord:
    """One stored model as listed: its id, folder and typed metadata (``dlcore.record.ModelMeta``)."""

    model_id: str
    path: Path
    meta: ModelMeta

    @property
    def model_file(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def generative(self) -> bool:
        """Whether this is a VAE or GAN: it draws images and makes no predictions to explain or fine-tune."""
        return self.meta.generative


def library_versions() -> dict[str, str]:
    """Versions that matter for reloading a model, recorded in its metadata."""
    import keras
    import tensorflow as tf

    return {"dlcore": __version__, "keras": keras.__version__, "tensorflow": tf.__version__,
            "python": platform.python_version()}


class ModelStore:
    """The models under ``<home>/models``."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.home = home(root)
        self.root = self.home / "models"
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, model_id: str) -> Path:
        if not model_id or "/" in model_id or "\\" in model_id or model_id.startswith("."):
            raise ModelError(f"invalid model id {model_id!r}")
        return self.root / model_id

    def save(self, model: Any, meta: ModelMeta | Mapping[str, Any], model_id: str | None = None) -> ModelRecord:
        """Save ``model`` with ``meta`` (a record, or a ``meta.json``-shaped mapping read as one); a new id
        unless ``model_id`` names one to overwrite."""
        meta = meta if isinstance(meta, ModelMeta) else ModelMeta.from_dict(meta)
        model_id = model_id or new_id("m-")
        folder = self.path(model_id)
        full = meta.stored(model_id, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), int(model.count_params()),
                           library_versions())
        tmp, new = None, not folder.exists()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".model.", suffix=".keras")
            os.close(fd)
            model.save(tmp, overwrite=True)
            atomic_replace_file(tmp, folder / MODEL_FILE)
            atomic_write_json(folder / META_FILE, full.to_dict())
        except OSError as exc:  # a full disk or a read-only DLCORE_HOME: the previous files are untouched
            if new:
                shutil.rmtree(folder, ignore_errors=True)
            raise ModelError(f"could not save the model in {folder} ({exc.strerror or exc}); free disk space or make "
                             f"DLCORE_HOME ({self.home}) writable, then train or import again") from exc
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        return ModelRecord(model_id, folder, full)

    def get(self, model_id: str) -> ModelRecord:
        folder = self.path(model_id)
        meta = read_json(folder / META_FILE)
        if not isinstance(meta, dict) or not (folder / MODEL_FILE).is_file():
            raise ModelError(f"no model {model_id!r} in {self.root}; `python -m dlcore models` lists them")
        return ModelRecord(model_id, folder, _read(meta, model_id))

    def list(self) -> list[ModelRecord]:
        """Complete models, newest first."""
        records = []
        for folder in self.root.iterdir() if self.root.exists() else []:
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            meta = read_json(folder / META_FILE)
            if isinstance(meta, dict) and (folder / MODEL_FILE).is_file():
                try:
                    records.append(ModelRecord(folder.name, folder, _read(meta, folder.name)))
                except ModelError:  # metadata this version cannot read: not listed (``get`` says why)
                    continue
        return sorted(records, key=lambda r: (r.meta.created, r.model_id), reverse=True)

    def load(self, model_id: str, compile: bool = False) -> Any:
        """Load a stored model with Keras' ``safe_mode=True`` (no arbitrary code in the file runs)."""
        import keras

        import dlcore.generative  # noqa: F401  registers the project's own Keras classes

        record = self.get(model_id)
        try:
            return keras.saving.load_model(record.model_file, compile=compile, safe_mode=True)
        except Exception as exc:  # a broken file: say which and what to do
            raise ModelError(f"model {model_id!r} could not be loaded ({type(exc).__name__}: {exc}); "
                             "delete it and train again") from exc

    def delete(self, model_id: str) -> None:
        """Remove a model: first unlist it (meta.json goes first), then its files."""
        folder = self.get(model_id).path
        (folder / META_FILE).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


def _read(meta: Mapping[str, Any], model_id: str) -> ModelMeta:
    """A ``meta.json`` as a record whose id is its folder's name."""
    return replace(ModelMeta.from_dict(meta), model_id=model_id)
