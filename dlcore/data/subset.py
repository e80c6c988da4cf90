"""A smaller training split of a data set, for quick runs and for measuring what little data can do."""
from __future__ import annotations

import dataclasses

import numpy as np

from dlcore.data.dataset import Dataset
from dlcore.errors import DataError


def limit_train(dataset: Dataset, n: int, seed: int = 0) -> Dataset:
    """Keep at most ``n`` training rows (a seeded pick, stratified for classification); validation is untouched.

    ``n <= 0`` or ``n`` at least the number of training rows returns ``dataset`` itself.
    """
    if n <= 0 or n >= dataset.epoch_rows:
        return dataset
    if n > dataset.n_train:  # a streamed file: its sample in memory is smaller than n
        raise DataError(f"--train-limit {n} is above the {dataset.n_train} training rows kept in memory of the "
                        f"streamed {dataset.name!r}; give at most {dataset.n_train}, or 0 to stream every row")
    from sklearn.model_selection import train_test_split

    y = dataset.y_train if dataset.task == "classification" else None
    if y is not None and n < len(np.unique(y)):
        y = None  # fewer rows than classes: a plain random pick
    keep, _ = train_test_split(np.arange(dataset.n_train), train_size=n, random_state=seed, stratify=y)
    keep = np.sort(keep)
    masks = dataset.masks_train[keep] if dataset.masks_train is not None else None
    groups = {name: values[keep] for name, values in dataset.sensitive_train.items()}
    return dataclasses.replace(dataset, x_train=dataset.x_train[keep], y_train=dataset.y_train[keep], masks_train=masks,
                               sensitive_train=groups, stream=None)
