"""Data sets: built-in ones, uploads, and the Dataset they all become."""
from __future__ import annotations

from dlcore.data.builtin import BuiltinInfo, builtin_names, list_builtin, load_builtin
from dlcore.data.dataset import Dataset, Modality, Task
from dlcore.data.preprocess import Preprocessing
from dlcore.errors import DataError


def load_dataset(ref: str, target: str | None = None, validation_split: float = 0.2, seed: int = 0) -> Dataset:
    """Load a data set by reference: a built-in name for now (uploads are resolved here as they land)."""
    if ref in builtin_names():
        return load_builtin(ref, validation_split=validation_split, seed=seed)
    raise DataError(f"unknown data set {ref!r}; choose a built-in one ({', '.join(builtin_names())})")


__all__ = [
    "BuiltinInfo", "Dataset", "Modality", "Preprocessing", "Task",
    "builtin_names", "list_builtin", "load_builtin", "load_dataset",
]
