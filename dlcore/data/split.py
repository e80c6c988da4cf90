"""How every data set, built-in or uploaded, is split into training and validation rows."""
from __future__ import annotations

import numpy as np

from dlcore.errors import DataError


def split_indices(n: int, validation_split: float, seed: int, y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Seeded row indices ``(train, validation)``, each sorted: ``validation_split`` of ``n`` rows for validation,
    stratified by ``y`` when given (classification). Every loader, built-in or uploaded, splits this way."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < validation_split < 1.0:
        raise DataError(f"validation split must be between 0 and 1, got {validation_split}")
    idx = np.arange(n)
    tr, va = train_test_split(idx, test_size=validation_split, random_state=seed, stratify=y)
    return np.sort(tr), np.sort(va)
