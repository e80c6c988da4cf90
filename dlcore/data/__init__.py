"""Data sets: built-in ones, uploads, and the Dataset they all become."""
from __future__ import annotations

from dlcore.data.builtin import BuiltinInfo, builtin_names, list_builtin, load_builtin
from dlcore.data.dataset import Dataset, Modality, Task
from dlcore.data.preprocess import Preprocessing
from dlcore.errors import DataError


def load_dataset(ref: str, target: str | None = None, validation_split: float = 0.2, seed: int = 0) -> Dataset:
    """Load a data set by reference: a built-in name, a stored upload's name, or a CSV / ZIP / NPZ file path."""
    from pathlib import Path

    from dlcore.data.stored import DatasetStore
    from dlcore.data.upload import load_file

    if ref in builtin_names():
        return load_builtin(ref, validation_split=validation_split, seed=seed)
    store = DatasetStore()
    if ref in store.names():
        return store.load(ref, target, validation_split, seed)
    if Path(ref).is_file():
        return load_file(ref, target, validation_split, seed)
    raise DataError(f"unknown data set {ref!r}; choose a built-in one ({', '.join(builtin_names())}), "
                    "a stored upload (`python -m dlcore datasets`) or the path of a CSV, ZIP or NPZ file")


__all__ = [
    "BuiltinInfo", "Dataset", "Modality", "Preprocessing", "Task",
    "builtin_names", "list_builtin", "load_builtin", "load_dataset",
]
