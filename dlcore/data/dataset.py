"""The Dataset every loader returns: split arrays ready for a model, plus what is needed to explain them."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from dlcore.data.preprocess import Preprocessing

if TYPE_CHECKING:
    from dlcore.data.stream import CsvStream

Task = Literal["classification", "regression"]
Modality = Literal["tabular", "image", "text", "sequence"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A data set split into training and validation parts.

    ``x_*`` are model inputs (after ``preprocessing``); ``y_*`` are integer class indices for
    classification or floats for regression. ``masks_*`` (optional) hold ground truth shaped like one input
    without its last (channel or feature) axis, one per row, so explanations can be scored: for images the
    object masks ``(n, height, width)``, for sequences the window of time steps that decides the label
    ``(n, steps)`` (bool). ``causes`` (optional) names what truly causes the target, when known (generated
    data): for tables the features, for texts the cue words (a row's cue positions are its words that are
    cues: ``dlcore.data.sequences.cue_flags``); empty otherwise. ``sensitive_train`` / ``sensitive_val`` hold
    the raw values (object arrays, None where missing) of the columns marked sensitive, row for row with
    ``x_*``: kept for the fairness audit, and model inputs only when the user said so. ``stream`` (a table too
    large to read whole, ``dlcore.data.stream``): the training rows are read from the file every epoch, and
    ``x_train`` holds the sample of them the preprocessing was fitted on.
    """

    name: str
    task: Task
    modality: Modality
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...] = ()
    preprocessing: Preprocessing = field(default_factory=Preprocessing.identity)
    description: str = ""
    masks_train: np.ndarray | None = None
    masks_val: np.ndarray | None = None
    causes: tuple[str, ...] = ()
    sensitive_train: Mapping[str, np.ndarray] = field(default_factory=dict)
    sensitive_val: Mapping[str, np.ndarray] = field(default_factory=dict)
    stream: CsvStream | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one model input, without the batch axis."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def n_outputs(self) -> int:
        """Number of model outputs: classes for classification, 1 for regression."""
        return len(self.class_names) if self.task == "classification" else 1

    @property
    def n_train(self) -> int:
        return int(len(self.x_train))

    @property
    def epoch_rows(self) -> int:
        """Training rows an epoch sees: every row of a streamed file's training part, else ``n_train``."""
        return self.stream.n_train if self.stream is not None else self.n_train

    @property
    def n_val(self) -> int:
        return int(len(self.x_val))

    @property
    def sensitive(self) -> tuple[str, ...]:
        """The names of the sensitive columns kept with the data."""
        return tuple(self.sensitive_val)

    def labels(self) -> np.ndarray:
        """Every row's label or target, training rows first, then validation rows."""
        return np.concatenate([self.y_train, self.y_val])

    def summary(self) -> dict[str, object]:
        """A JSON-friendly description, as stored with models and printed by ``dlcore datasets``."""
        return {
            "name": self.name,
            "task": self.task,
            "modality": self.modality,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "input_shape": list(self.input_shape),
            "n_features": len(self.feature_names),
            "classes": list(self.class_names),
            "description": self.description,
            "sensitive": list(self.sensitive),
            "streamed": self.stream is not None,
            "epoch_rows": self.epoch_rows,
        }
