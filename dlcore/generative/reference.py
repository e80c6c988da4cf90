"""The project's own classifier for a data set, the judge of generated images (see ``quality``).

It is an ordinary training job (a small CNN with early stopping) run in this process the first time a
generative model of that data set is evaluated, and stored like any model, so its accuracy and curves
can be inspected; later evaluations reuse it.
"""
from __future__ import annotations

import os
from typing import Any

from dlcore.data.dataset import Dataset
from dlcore.errors import ModelError
from dlcore.models.spec import ModelSpec, TrainConfig
from dlcore.store import ModelRecord, ModelStore

SPEC = ModelSpec(arch="cnn", filters=(32, 64), units=(128,), dropout=0.3)
EPOCHS, PATIENCE, BATCH_SIZE = 40, 5, 64


def reference_config(dataset: Dataset, validation_split: float, seed: int, data: str | None = None) -> TrainConfig:
    """The training job of the reference classifier for ``dataset`` split as given; ``data`` is the reference
    the data set was loaded by (a file's path; default: its name, which is the reference of built-ins and
    kept uploads)."""
    return TrainConfig(data=data or dataset.name, model=SPEC, epochs=EPOCHS, early_stopping=PATIENCE,
                       batch_size=BATCH_SIZE, validation_split=validation_split, seed=seed,
                       name=f"reference classifier for {dataset.name}")


def _key(config: dict[str, Any]) -> tuple:
    """What makes two reference jobs the same: the data, its split and the training; knobs of other kinds
    of model (whose defaults may change) do not count."""
    model = config.get("model") or {}
    return (tuple(config.get(k) for k in ("data", "target", "validation_split", "seed", "epochs", "early_stopping",
                                           "batch_size", "learning_rate", "optimizer", "name")),
            tuple(tuple(v) if isinstance(v, list) else v for v in (model.get(k) for k in ("arch", "filters", "units", "dropout"))))


def find(store: ModelStore, config: TrainConfig, dataset: Dataset) -> ModelRecord | None:
    """The newest stored model trained as ``config`` says on data shaped like ``dataset``."""
    wanted = _key(config.to_dict())
    for record in store.list():
        meta = record.meta
        if _key(meta.get("config") or {}) == wanted and list(meta.get("input_shape", [])) == list(dataset.input_shape) \
                and list(meta.get("class_names", [])) == list(dataset.class_names):
            return record
    return None


def reference_classifier(dataset: Dataset, validation_split: float = 0.2, seed: int = 0,
                         root: str | os.PathLike[str] | None = None, data: str | None = None) -> tuple[Any, ModelRecord]:
    """The reference classifier (loaded, and its record), trained and stored first if there is none;
    ``data`` as in ``reference_config``."""
    if dataset.task != "classification" or dataset.modality != "image":
        raise ModelError(f"quality scores need labelled images; {dataset.name!r} is {dataset.task} on "
                         f"{dataset.modality} data")
    store = ModelStore(root)
    config = reference_config(dataset, validation_split, seed, data)
    record = find(store, config, dataset)
    if record is None:
        from dlcore import jobs
        from dlcore.training import run_job

        status = run_job(jobs.create(config, store.home))
        if status.get("state") != "done" or not status.get("model_id"):
            raise ModelError(f"the reference classifier could not be trained: {status.get('message', '')}")
        record = store.get(str(status["model_id"]))
    return store.load(record.model_id), record
