"""What runs inside a training job: compile, fit with callbacks, evaluate, save to the store.

Every kind of job (a classifier or regressor, fine-tuning, a VAE or GAN) runs the same way here; what
differs is asked of its kind (``dlcore.kinds``). Progress leaves training only through callbacks
(``JobMonitor`` writes ``metrics.jsonl`` and ``status.json``; the pages and the command line only read them).
"""
from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from dlcore import device, distributed
from dlcore.checkpoint import saved_epoch
from dlcore.chief_checkpoint import ChiefCheckpoint
from dlcore.data import load_dataset
from dlcore.data.dataset import Dataset
from dlcore.data.subset import limit_train
from dlcore.errors import DlcoreError
from dlcore.jobs import (
    BACKUP_DIR,
    CONFIG_FILE,
    METRICS_FILE,
    RUNNER_FILE,
    STOP_FILE,
    mark_runner,
    read_metrics,
    update_status,
)
from dlcore.kinds import JobKind, JobSetup, kind_for
from dlcore.models.spec import TrainConfig
from dlcore.record import DataSummary, ModelMeta
from dlcore.store import ModelStore
from dlcore.workspace import read_json


class JobMonitor(keras.callbacks.Callback):
    """Writes one metrics line an epoch, keeps ``status.json`` current, obeys the stop file, and keeps the
    weights of the best epoch (lowest ``val_loss``) so a stopped job can save the best model so far."""

    async_safe = True  # its batch hook reads no logs: Keras may keep dispatching batches asynchronously

    def __init__(self, folder: Path, epochs: int, steps: int, poll_seconds: float = 1.0) -> None:
        super().__init__()
        self.folder, self.epochs, self.steps, self.poll_seconds = folder, epochs, steps, poll_seconds
        self.stopped_by_user = False
        self.best: tuple[float, int, list[np.ndarray], dict[str, float]] | None = None
        self._last_poll = 0.0
        self._epoch_start = time.perf_counter()
        self._durations: list[float] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        # The epoch a resumed job starts after: the checkpoint's, read from the file because this callback
        # runs before the checkpoint's own (see ``job_callbacks``). Rows past it are dropped: they are redone.
        start = saved_epoch(self.folder / BACKUP_DIR)
        kept = [r for r in read_metrics(self.folder) if int(r.get("epoch", 0)) <= start]
        text = "".join(json.dumps(r) + "\n" for r in kept)
        (self.folder / METRICS_FILE).write_text(text, encoding="utf-8")
        update_status(self.folder, state="running", epoch=start, epochs=self.epochs, step=0,
                      steps=self.steps, resumed_from=start or None)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        if now - self._last_poll < self.poll_seconds:
            return
        self._last_poll = now
        self._check_stop()
        update_status(self.folder, step=batch + 1)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.perf_counter() - self._epoch_start
        self._durations.append(seconds)
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}, "seconds": seconds,
               "time": time.time()}
        with open(self.folder / METRICS_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        monitored = row.get("val_loss", row.get("loss", math.inf))
        if math.isfinite(monitored) and (self.best is None or monitored < self.best[0]):
            self.best = (monitored, epoch + 1, self.model.get_weights(), row)
        eta = float(np.median(self._durations)) * (self.epochs - epoch - 1)
        update_status(self.folder, epoch=epoch + 1, step=self.steps, eta_seconds=eta)
        self._check_stop()

    def _check_stop(self) -> None:
        if (self.folder / STOP_FILE).exists() and not self.stopped_by_user:
            self.stopped_by_user = True
            self.model.stop_training = True


class _EpochTensorBoard(keras.callbacks.TensorBoard):
    """TensorBoard logs once an epoch. Keras' callback also runs a per-batch hook that writes batch
    summaries, and that hook turns off Keras' asynchronous batch dispatch; with ``update_freq="epoch"``
    nothing it does per batch is kept, so it is skipped here."""

    async_safe = True

    def __init__(self, log_dir: str) -> None:
        super().__init__(log_dir, write_graph=False, update_freq="epoch", profile_batch=0)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._global_train_batch += 1

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        return None

    def on_test_end(self, logs: dict | None = None) -> None:
        # Keras writes the validation metrics here a second time, against optimizer steps; the epoch logs
        # already hold them (epoch_val_*). Skipping the copy takes a fifth off the job's per-epoch cost.
        self._pop_writer()


class _TerminateOnNaN(keras.callbacks.TerminateOnNaN):
    """TerminateOnNaN whose per-batch loss check runs off the training thread (Keras' async dispatch)."""

    async_safe = True


def job_callbacks(folder: Path, config: TrainConfig, monitor: JobMonitor,
                  kind: JobKind | None = None) -> list[keras.callbacks.Callback]:
    """The callbacks of a job: the kind's first ones, the monitor, the checkpoint, the NaN stop, TensorBoard,
    early stopping when asked, then the kind's other ones."""
    added = (kind or kind_for(config)).callbacks(config, folder)
    # The monitor comes before the checkpoint: an epoch's metrics row is written before the checkpoint says
    # the epoch is done, so a kill between the two redoes the epoch (its row is dropped on resume) instead of
    # resuming past an epoch that has no row.
    cbs: list[keras.callbacks.Callback] = [
        *added.before,
        monitor,
        ChiefCheckpoint(folder / BACKUP_DIR),  # EpochCheckpoint; a multi-worker job resumes from the chief's
        _TerminateOnNaN(),
        _EpochTensorBoard(str(folder / "logs")),
    ]
    if config.early_stopping > 0:
        cbs.append(keras.callbacks.EarlyStopping(patience=config.early_stopping, restore_best_weights=True))
    return [*cbs, *added.after]


def nan_epoch(rows: list[dict[str, Any]], history: keras.callbacks.History) -> int | None:
    """The first epoch (1-based) whose loss was not finite, if any."""
    for row in rows:  # every logged value: a GAN logs d_loss and g_loss, no loss
        if not all(math.isfinite(v) for v in row.values() if isinstance(v, float)):
            return int(row["epoch"])
    losses = history.history.get("loss", [])
    return len(rows) + 1 if losses and not math.isfinite(losses[-1]) else None


def make_model(config: TrainConfig, dataset: Dataset) -> keras.Model:
    """The compiled model a job of ``config`` trains (its kind builds it, see ``dlcore.kinds``)."""
    return kind_for(config).build(config, dataset)


def training_weights(config: TrainConfig, dataset: Dataset) -> np.ndarray | None:
    """Reweighing's sample weights (``config.reweigh``): group and label made independent over the training
    rows' sensitive columns taken together (``dlcore.fairness.mitigation.reweigh``); None without it."""
    if not config.reweigh:
        return None
    from dlcore.fairness.groups import as_groups, combine
    from dlcore.fairness.mitigation import reweigh

    if dataset.task != "classification":
        raise DlcoreError("reweighing balances groups and classes; it is for classifiers, not regression")
    if not dataset.sensitive:
        raise DlcoreError(f"reweighing needs a sensitive column and {dataset.name!r} has none; mark one "
                          "(--sensitive COL, or on the Data page)")
    groups = combine([as_groups(dataset.sensitive_train[c], c) for c in dataset.sensitive])
    return reweigh(groups, dataset.y_train).astype(np.float32)


def fit(config: TrainConfig, dataset: Dataset, folder: Path, extra_callbacks: Sequence[keras.callbacks.Callback] = (),
        kind: JobKind | None = None) -> tuple[keras.Model, JobMonitor, keras.callbacks.History]:
    """Build, compile and fit a model as ``config`` says (as ``kind`` does it, default: the config's kind);
    progress goes to ``folder``."""
    kind = kind or kind_for(config)
    keras.utils.set_random_seed(config.seed)
    strategy = device.strategy(config.distribute, folder)
    update_status(folder, replicas=int(strategy.num_replicas_in_sync))
    with strategy.scope():
        model = kind.build(config, dataset)
    kind.built(model, folder)
    feed, steps = training_feed(config, dataset, folder)
    monitor = JobMonitor(folder, config.epochs, steps)
    history = model.fit(**feed, validation_data=(dataset.x_val, dataset.y_val), epochs=config.epochs, verbose=0,
                        callbacks=[*job_callbacks(folder, config, monitor, kind), *extra_callbacks])
    return model, monitor, history


def training_feed(config: TrainConfig, dataset: Dataset, folder: Path) -> tuple[dict[str, Any], int]:
    """What ``model.fit`` trains on, and the batches an epoch: the arrays, or for a table too large to read whole
    its rows streamed from the file through ``tf.data`` (``dlcore.data.stream``)."""
    stream = dataset.stream
    if stream is None:
        return ({"x": dataset.x_train, "y": dataset.y_train, "batch_size": config.batch_size,
                 "sample_weight": training_weights(config, dataset)}, math.ceil(dataset.n_train / config.batch_size))
    from dlcore.data.stream import tf_batches

    if config.reweigh:
        raise DlcoreError(f"reweighing needs every training row's group in memory and {dataset.name!r} streams "
                          "from its file; train without --reweigh, or on a sample below DLCORE_STREAM_MB")
    steps = stream.steps(config.batch_size)
    batches = tf_batches(stream, config.batch_size, first_epoch=saved_epoch(folder / BACKUP_DIR))
    return {"x": batches, "steps_per_epoch": steps, "shuffle": False}, steps  # the stream shuffles its own rows


def run_job(folder: str | os.PathLike[str], extra_callbacks: Sequence[keras.callbacks.Callback] = ()) -> dict[str, Any]:
    """Run the job in ``folder`` to its end and return its final status. Never raises for expected
    failures: they end the job with ``state="failed"`` and a message that names the fix."""
    folder = Path(folder).resolve()
    try:
        config = TrainConfig.from_dict(read_json(folder / CONFIG_FILE) or {})
        mark_runner(folder)
        update_status(folder, state="running", started=time.time(), epochs=config.epochs)
        info = device.configure(config.mixed_precision)
        update_status(folder, device=info.label, mixed_precision=info.mixed_precision)
        dataset = load_dataset(config.data, config.target, config.validation_split, config.seed,
                               tuple(config.sensitive) or None, forecast=config.forecast)
        dataset = limit_train(dataset, config.train_limit, config.seed)
        kind = kind_for(config).prepare(JobSetup(folder, config, dataset, run_job))
        device.configure(config.mixed_precision)  # again: a job run by ``prepare`` set it up for its own config
        with distributed.peer_errors(folder):  # a dead or silent peer of a multi-worker job fails it, never hangs
            return _finish(folder, config, dataset, kind, *fit(config, dataset, folder, extra_callbacks, kind))
    except DlcoreError as exc:
        return update_status(folder, state="failed", message=str(exc))
    except Exception as exc:  # unexpected: keep the job's record honest, the traceback goes to error.log
        import traceback

        (folder / "error.log").write_text(traceback.format_exc(), encoding="utf-8")
        return update_status(folder, state="failed", message=f"unexpected error: {type(exc).__name__}: {exc}")
    finally:  # however it ended (an interrupt in a notebook too), this process no longer trains the job
        (folder / RUNNER_FILE).unlink(missing_ok=True)


def _finish(folder: Path, config: TrainConfig, dataset: Dataset, kind: JobKind, model: keras.Model,
            monitor: JobMonitor, history: keras.callbacks.History) -> dict[str, Any]:
    rows = read_metrics(folder)
    nan_at = nan_epoch(rows, history)
    if nan_at is not None:
        return update_status(folder, state="failed", message=(
            f"the loss became NaN in epoch {nan_at}; lower the learning rate (now {config.learning_rate:g}) "
            "or turn on batch norm, then train again"))
    if not rows:
        return update_status(folder, state="stopped", message="stopped before the first epoch ended; nothing to save")
    final = rows[-1]
    ended_early = monitor.stopped_by_user or int(final["epoch"]) < config.epochs  # stop button or early stopping
    if ended_early and monitor.best is not None:
        model.set_weights(monitor.best[2])  # the best epoch so far, as EarlyStopping(restore_best_weights) does
        final = monitor.best[3]
    meta = model_meta(folder, config, dataset, rows, final, kind.evaluate(config, model, dataset))
    record = ModelStore(folder.parent.parent).save(model, meta)
    state = "stopped" if monitor.stopped_by_user else "done"
    message = f"finished {len(rows)} epoch(s)"
    if ended_early:
        why = "stopped by request" if state == "stopped" else "early stopping"
        message = f"{why} after {len(rows)} epoch(s); saved the best epoch ({int(final['epoch'])})"
    return update_status(folder, state=state, message=message, model_id=record.model_id,
                         metrics=dict(record.meta.metrics), eta_seconds=0.0)


def model_meta(folder: Path, config: TrainConfig, dataset: Dataset, rows: Sequence[Mapping[str, Any]],
               final: Mapping[str, Any], evaluation: Mapping[str, Any]) -> ModelMeta:
    """The record a job stores with its model: the config, the data set, the final (or best) epoch's metrics,
    every epoch's row and the held-out evaluation."""
    summary = DataSummary(name=dataset.name, task=dataset.task, modality=dataset.modality,
                          n_train=dataset.epoch_rows, n_val=dataset.n_val, input_shape=dataset.input_shape,
                          n_features=len(dataset.feature_names), classes=dataset.class_names,
                          description=dataset.description, streamed=dataset.stream is not None,
                          fit_rows=dataset.stream.fit_rows if dataset.stream is not None else 0)
    return ModelMeta(name=config.name or f"{config.model.arch} on {dataset.name}", arch=config.model.arch,
                     job=folder.name, config=config, dataset=summary, task=dataset.task, modality=dataset.modality,
                     input_shape=dataset.input_shape, class_names=dataset.class_names,
                     feature_names=dataset.feature_names, preprocessing=dataset.preprocessing.to_dict(),
                     metrics={k: v for k, v in final.items() if k not in ("seconds", "time")},
                     history=tuple(dict(r) for r in rows), evaluation=dict(evaluation))
