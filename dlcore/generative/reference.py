"""The project's own classifier for a data set, the judge of generated images (see ``quality``).

It is an ordinary training job (a small CNN with early stopping, ``reference_config``), stored like any model
so its accuracy and curves can be inspected. Nothing here trains: before a generative job trains, its kind
(``dlcore.kinds``) finds the judge in the store or runs its job first, then hands the ``Judge`` to the
evaluation; later jobs on the same data reuse it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dlcore.data.dataset import Dataset
from dlcore.errors import ModelError
from dlcore.models.spec import ModelSpec, TrainConfig
from dlcore.store import ModelRecord, ModelStore

SPEC = ModelSpec(arch="cnn", filters=(32, 64), units=(128,), dropout=0.3)
EPOCHS, PATIENCE, BATCH_SIZE = 40, 5, 64

@dataclass(frozen=True, eq=False)
class Judge:
    """The classifier that judges generated images: the loaded model and its stored record."""

    model: Any
    record: ModelRecord

    @property
    def model_id(self) -> str:
        return self.record.model_id

    @property
    def accuracy(self) -> float:
        """Its validation accuracy as stored with it (NaN when it has none)."""
        return float(self.record.meta.evaluation.get("accuracy", math.nan))


def reference_config(dataset: Dataset, validation_split: float, seed: int, data: str | None = None) -> TrainConfig:
    """The training job of the reference classifier for ``dataset`` split as given; ``data`` is the reference
    the data set was loaded by (a file's path; default: its name, which is the reference of built-ins and
    kept uploads)."""
    return TrainConfig(data=data or dataset.name, model=SPEC, epochs=EPOCHS, early_stopping=PATIENCE,
                       batch_size=BATCH_SIZE, validation_split=validation_split, seed=seed,
                       name=f"reference classifier for {dataset.name}")


def job_key(config: TrainConfig | None) -> tuple:
    """What makes two reference jobs the same: the data, its split and the training; knobs of other kinds
    of model (whose defaults may change) do not count."""
    if config is None:
        return ()
    spec = config.model
    return ((config.data, config.target, config.validation_split, config.seed, config.epochs, config.early_stopping,
             config.batch_size, config.learning_rate, config.optimizer, config.name),
            (spec.arch, tuple(spec.filters), tuple(spec.units), spec.dropout))


def find(store: ModelStore, config: TrainConfig, dataset: Dataset) -> ModelRecord | None:
    """The newest stored model trained as ``config`` says on data shaped like ``dataset``."""
    wanted = job_key(config)
    for record in store.list():
        meta = record.meta
        if job_key(meta.config) == wanted and tuple(meta.input_shape) == tuple(dataset.input_shape) \
                and tuple(meta.class_names) == tuple(dataset.class_names):
            return record
    return None


def check_judgeable(dataset: Dataset) -> None:
    """Refuse a data set no reference classifier can be trained on: quality scores need labelled images."""
    if dataset.task != "classification" or dataset.modality != "image":
        raise ModelError(f"quality scores need labelled images; {dataset.name!r} is {dataset.task} on "
                         f"{dataset.modality} data")


def load_judge(store: ModelStore, model_id: str) -> Judge:
    """The stored model ``model_id`` as a judge: loaded, with its record."""
    return Judge(store.load(model_id), store.get(model_id))


def stored_judge(store: ModelStore, config: TrainConfig, dataset: Dataset) -> Judge | None:
    """The reference classifier trained as ``config`` (``reference_config``) says, loaded, if the store has
    one; None when it has to be trained first."""
    record = find(store, config, dataset)
    return load_judge(store, record.model_id) if record is not None else None
