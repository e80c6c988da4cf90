"""Cached access to dlcore for the pages: heavy objects are built once per server, not per rerun."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import streamlit as st

from dlcore.data import Dataset, load_dataset
from dlcore.data.stored import DatasetStore
from dlcore.device import DeviceInfo, probe
from dlcore.store import ModelStore
from dlcore.workspace import home


def workspace() -> Path:
    """The workspace folder (``DLCORE_HOME``, default ``./workspace``)."""
    return home(os.environ.get("DLCORE_HOME"))


@st.cache_resource(show_spinner=False)
def device_info() -> DeviceInfo:
    """The training device as ``nvidia-smi`` reports it (no TensorFlow import)."""
    return probe()


@st.cache_resource(show_spinner="Loading data set...", max_entries=16)
def _dataset(ref: str, target: str | None, validation_split: float, seed: int, version: str,
             sensitive: tuple[str, ...] | None, forecast: str | None) -> Dataset:
    return load_dataset(ref, target=target, validation_split=validation_split, seed=seed, sensitive=sensitive,
                        forecast=json.loads(forecast) if forecast else None)


def dataset(ref: str, target: str | None = None, validation_split: float = 0.2, seed: int = 0,
            sensitive: tuple[str, ...] | None = None, forecast: str | None = None) -> Dataset:
    """A data set, loaded once per set of arguments (and again when a stored upload of that name changes);
    ``sensitive``: columns kept out of the inputs for the audit (None: as the data set was kept); ``forecast``:
    a series to forecast, its spec as JSON (``ModelMeta.data_key``)."""
    return _dataset(ref, target, validation_split, seed, DatasetStore(workspace()).version(ref), sensitive,
                    forecast)


def store() -> ModelStore:
    return ModelStore(workspace())


@st.cache_resource(show_spinner="Loading model...", max_entries=8)
def _model(model_id: str, root: str, mtime: float) -> Any:
    return ModelStore(root).load(model_id)


def model(model_id: str) -> Any:
    """A stored Keras model (imports TensorFlow); reloaded only when its file changes."""
    record = store().get(model_id)
    return _model(model_id, str(workspace()), record.model_file.stat().st_mtime)
