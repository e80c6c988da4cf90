"""Data sets: built-in ones, uploads, and the Dataset they all become."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dlcore.data.builtin import BuiltinInfo, builtin_names, list_builtin, load_builtin
from dlcore.data.dataset import Dataset, Modality, Task
from dlcore.data.preprocess import Preprocessing
from dlcore.errors import DataError


def load_dataset(ref: str, target: str | None = None, validation_split: float = 0.2, seed: int = 0,
                 sensitive: Sequence[str] | None = None, forecast: Any = None) -> Dataset:
    """Load a data set by reference: a built-in name, a stored upload's name, or a CSV / ZIP / NPZ file path.

    ``sensitive`` names columns of a table to keep for the fairness audit and out of the model's inputs; None
    keeps what was chosen when the upload was kept (a built-in set has its own, if any). ``forecast`` (a
    ``dlcore.data.forecast.ForecastSpec`` or its dict) reads a table as a series to forecast, split by time.
    A CSV path above ``DLCORE_STREAM_MB`` (or the upload cap) streams: see ``dlcore.data.stream``."""
    from pathlib import Path

    from dlcore.data.forecast import ForecastSpec
    from dlcore.data.stored import DatasetStore
    from dlcore.data.stream import streams
    from dlcore.data.upload import Choices, load_file

    spec = ForecastSpec.from_dict(forecast) if isinstance(forecast, Mapping) else forecast
    if ref in builtin_names() and spec is not None:
        raise DataError(f"the built-in data set {ref!r} is not a series with a time column; forecast a CSV file "
                        "or a kept upload with a date/time column")
    if ref in builtin_names():
        ds = load_builtin(ref, validation_split=validation_split, seed=seed)
        unknown = [c for c in sensitive or () if c not in ds.sensitive]
        if unknown:
            own = f"its sensitive column is {', '.join(ds.sensitive)}" if ds.sensitive else "it has none"
            raise DataError(f"the built-in data set {ref!r} has no sensitive column {unknown[0]!r} ({own})")
        return ds
    store = DatasetStore()
    if ref in store.names():
        return store.load(ref, target, validation_split, seed, sensitive, forecast=spec)
    if Path(ref).is_file() and spec is None and streams(ref):
        from dlcore.data.streamed import load_streamed

        return load_streamed(ref, Choices(target=target, sensitive=tuple(sensitive or ())), validation_split, seed)
    if Path(ref).is_file():
        return load_file(ref, target, validation_split, seed,
                         choices=Choices(sensitive=tuple(sensitive or ()), forecast=spec))
    raise DataError(f"unknown data set {ref!r}; choose a built-in one ({', '.join(builtin_names())}), "
                    "a stored upload (`python -m dlcore datasets`) or the path of a CSV, ZIP or NPZ file")


__all__ = [
    "BuiltinInfo", "Dataset", "Modality", "Preprocessing", "Task",
    "builtin_names", "list_builtin", "load_builtin", "load_dataset",
]
