"""Training jobs: folders and worker processes that survive reruns, stops, kills and NaN losses."""
from __future__ import annotations

import math
import os
import signal
import time

import pytest

from dlcore import jobs
from dlcore.errors import JobError
from dlcore.models import ModelSpec, TrainConfig
from dlcore.store import ModelStore
from dlcore.training import run_job


def _wait_for_epoch(job_id: str, home, epoch: int, timeout: float = 180.0) -> jobs.JobStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = jobs.poll(job_id, home)
        if status.epoch >= epoch or not status.active:
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not reach epoch {epoch}")


def _tensorboard_steps(log_dir, tag: str) -> list[int]:
    """The steps at which ``tag`` was logged in a TensorBoard folder, read back with TensorBoard's reader."""
    from tensorboard.backend.event_processing.event_accumulator import TENSORS, EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={TENSORS: 0})
    events.Reload()
    return [e.step for e in events.Tensors(tag)] if tag in events.Tags()["tensors"] else []


def test_job_in_process_trains_evaluates_and_stores(home) -> None:
    cfg = TrainConfig(data="iris", model=ModelSpec(units=(16,)), epochs=25, batch_size=16, learning_rate=0.01)
    folder = jobs.create(cfg, home)
    status = run_job(folder)
    assert status["state"] == "done", status
    rows = jobs.metrics(folder.name, home)
    assert [r["epoch"] for r in rows] == list(range(1, 26))
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(rows[-1])
    assert rows[-1]["loss"] < rows[0]["loss"]
    record = ModelStore(home).get(status["model_id"])
    meta = record.meta
    assert meta.metrics["val_accuracy"] > 0.8  # 3 classes: chance is 0.33
    assert meta.evaluation["kind"] == "classification"
    assert sum(map(sum, meta.evaluation["confusion_matrix"])) == 30
    assert meta.preprocessing["kind"] == "tabular" and meta.class_names[0] == "setosa"
    assert meta.job == folder.name and meta.config == cfg and meta.arch == "mlp" and meta.name == "mlp on iris"
    assert (meta.dataset.name, meta.dataset.n_train, meta.dataset.n_val) == ("iris", 120, 30)
    assert [r["epoch"] for r in meta.history] == list(range(1, 26)) and "time" not in meta.metrics
    assert meta.metrics["epoch"] == 25 and status["metrics"] == dict(meta.metrics)
    assert _tensorboard_steps(folder / "logs" / "validation", "epoch_loss") == list(range(25))  # TensorBoard, per epoch
    assert _tensorboard_steps(folder / "logs" / "train", "epoch_accuracy") == list(range(25))
    assert not (folder / "backup").exists()  # BackupAndRestore cleans up after a finished run
    assert jobs.poll(folder.name, home).state == "done"


def test_nan_loss_ends_the_job_with_the_epoch_and_a_hint(home) -> None:
    cfg = TrainConfig(data="diabetes", optimizer="sgd", learning_rate=50.0, epochs=5, model=ModelSpec(units=(8,)))
    folder = jobs.create(cfg, home)
    status = run_job(folder)
    assert status["state"] == "failed"
    assert re_epoch(status["message"]) == 1 and "lower the learning rate" in status["message"]
    assert ModelStore(home).list() == []


def re_epoch(message: str) -> int:
    import re

    found = re.search(r"NaN in epoch (\d+)", message)
    assert found, message
    return int(found.group(1))


@pytest.mark.slow
def test_stop_ends_a_running_worker_and_keeps_the_best_epoch(home) -> None:
    cfg = TrainConfig(data="digits", model=ModelSpec(units=(32,)), epochs=200, batch_size=8)
    started = jobs.start(cfg, home)
    assert started.state in ("queued", "running")
    reached = _wait_for_epoch(started.job_id, home, 2)
    assert reached.state == "running"
    jobs.stop(started.job_id, home)
    final = jobs.wait(started.job_id, home, timeout=120)
    assert final.state == "stopped", final
    rows = jobs.metrics(started.job_id, home)
    assert 2 <= len(rows) < 200
    best = min(rows, key=lambda r: r["val_loss"])
    meta = ModelStore(home).get(final.model_id).meta
    assert meta.metrics["epoch"] == best["epoch"]
    assert meta.metrics["val_loss"] == pytest.approx(best["val_loss"])
    assert "best epoch" in final.message


@pytest.mark.slow
def test_killed_worker_reads_as_interrupted_and_resumes_from_its_last_epoch(home) -> None:
    cfg = TrainConfig(data="digits", model=ModelSpec(units=(32,)), epochs=8, batch_size=8)
    started = jobs.start(cfg, home)
    before = _wait_for_epoch(started.job_id, home, 3)
    pid = int((started.folder / jobs.PID_FILE).read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while jobs.poll(started.job_id, home).state != "interrupted" and time.monotonic() < deadline:
        time.sleep(0.1)
    interrupted = jobs.poll(started.job_id, home)
    assert interrupted.state == "interrupted" and "resume" in interrupted.message
    jobs.resume(started.job_id, home)
    final = jobs.wait(started.job_id, home, timeout=180)
    assert final.state == "done", final
    with pytest.raises(JobError, match="only an interrupted job"):
        jobs.resume(started.job_id, home)
    rows = jobs.metrics(started.job_id, home)
    assert [r["epoch"] for r in rows] == list(range(1, 9))  # no epoch lost, none twice
    import json

    resumed_from = json.loads((started.folder / jobs.STATUS_FILE).read_text())["resumed_from"]
    assert resumed_from is not None and resumed_from >= before.epoch - 1 >= 2
    assert all(math.isfinite(r["loss"]) for r in rows)


def test_unknown_and_malformed_job_ids(home) -> None:
    with pytest.raises(JobError, match="no job"):
        jobs.poll("j-nope", home)
    with pytest.raises(JobError, match="invalid job id"):
        jobs.poll("../x", home)


def test_progress_fraction() -> None:
    s = jobs.JobStatus(job_id="j", folder=None, state="running", epoch=2, epochs=4, step=5, steps=10)  # type: ignore[arg-type]
    assert s.progress == pytest.approx(0.625)
    assert jobs.JobStatus(job_id="j", folder=None, state="done", epoch=4, epochs=4).progress == 1.0  # type: ignore[arg-type]


def test_the_checkpoint_never_gets_ahead_of_the_metrics_and_a_kill_between_redoes_the_epoch_once(home,
                                                                                                  monkeypatch) -> None:
    from dlcore.checkpoint import EpochCheckpoint

    cfg = TrainConfig(data="iris", model=ModelSpec(units=(8,)), epochs=5, batch_size=16)
    folder = jobs.create(cfg, home)
    save, seen, crashed = EpochCheckpoint._save_model, [], []

    def checked_save(self) -> None:  # when the checkpoint is about to say "N epochs done"
        seen.append((self._current_epoch, max(r["epoch"] for r in jobs.read_metrics(folder))))
        if self._current_epoch == 3 and not crashed:  # killed after epoch 3's row, before its checkpoint
            crashed.append(True)
            raise KeyboardInterrupt
        save(self)

    monkeypatch.setattr(EpochCheckpoint, "_save_model", checked_save)
    with pytest.raises(KeyboardInterrupt):
        run_job(folder)
    assert jobs.poll(folder.name, home).state == "interrupted"
    status = run_job(folder)
    assert status["state"] == "done", status
    assert [r["epoch"] for r in jobs.metrics(folder.name, home)] == [1, 2, 3, 4, 5]  # epoch 3 redone, kept once
    assert all(epoch == row for epoch, row in seen), seen  # the row of epoch N is on disk before its checkpoint


def test_a_job_trained_in_its_callers_process_reads_as_running_not_interrupted(home) -> None:
    """``python -m dlcore train`` and a generative job's reference classifier run without a worker: the app must
    not offer to resume them while they train (a second trainer on the same folder), yet read a dead one as
    interrupted."""
    import threading

    cfg = TrainConfig(data="iris", model=ModelSpec(units=(4,)), epochs=400, batch_size=8)
    folder = jobs.create(cfg, home)
    status = jobs.poll(folder.name, home)
    assert status.state == "created", status  # made here, not started yet: not an interrupted job either
    ended: list[dict] = []
    runner = threading.Thread(target=lambda: ended.append(run_job(folder)))
    runner.start()
    try:
        deadline = time.monotonic() + 180
        while status.epoch < 1 and time.monotonic() < deadline:
            status = jobs.poll(folder.name, home)
            time.sleep(0.1)
        assert status.state == "running" and status.active and status.epoch >= 1, status
        with pytest.raises(JobError, match="only an interrupted job"):
            jobs.resume(folder.name, home)
    finally:
        jobs.stop(folder.name, home)
        runner.join(120)
    assert ended and ended[0]["state"] == "stopped"
    jobs.update_status(folder, state="running")  # as a process killed mid-epoch leaves it
    (folder / jobs.RUNNER_FILE).write_text(f"{os.getpid()} 0")  # this pid, but not the process that started then
    assert jobs.poll(folder.name, home).state == "interrupted"
    (folder / jobs.RUNNER_FILE).unlink()
    assert jobs.poll(folder.name, home).state == "interrupted"
