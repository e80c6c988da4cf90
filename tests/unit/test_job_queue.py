"""The job queue: at most DLCORE_MAX_WORKERS workers at once, places in line, cancelling, a queue that moves on
without the server, and a worker killed as the out-of-memory killer does reading failed instead of interrupted."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dlcore import jobs, worker
from dlcore.errors import JobError
from dlcore.models import ModelSpec, TrainConfig
from tests.queue_support import slot_holder

TINY = TrainConfig(data="iris", model=ModelSpec(units=(4,)), epochs=1, batch_size=32)
LONG = TrainConfig(data="iris", model=ModelSpec(units=(4,)), epochs=40, batch_size=8)  # long enough to kill midway
LONGER = TrainConfig(data="iris", model=ModelSpec(units=(4,)), epochs=1000, batch_size=8)
ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _processes(home: Path, marker: bytes) -> list[int]:
    """Live processes whose command line names ``marker`` and a folder of ``home``. A child a process forks (to
    run a helper program) has its parent's command line until it execs; it is not counted again."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) if cmdline else 0
        except (OSError, IndexError, ValueError):
            continue
        if marker in cmdline and str(home).encode() in cmdline and _alive(int(entry.name)):
            found[int(entry.name)] = parent
    return [pid for pid, parent in found.items() if parent not in found]


def _raw_state(folder: Path) -> str:
    """The state in status.json, read without ``jobs.poll`` (which would move the queue on)."""
    import json

    return json.loads((folder / jobs.STATUS_FILE).read_text())["state"]


def _until(check: Callable[[], bool], timeout: float = 180.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(interval)


@pytest.fixture()
def fake_worker(home: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """A job holding a worker slot with a stand-in process (no TensorFlow)."""
    with slot_holder(home) as held:
        yield held


def test_the_limit_comes_from_the_environment_and_a_bad_one_is_refused(home, monkeypatch) -> None:
    monkeypatch.delenv("DLCORE_MAX_WORKERS", raising=False)
    assert jobs.max_workers() == max(1, (os.cpu_count() or 1) // 2)
    monkeypatch.setenv("DLCORE_MAX_WORKERS", " 3 ")
    assert jobs.max_workers() == 3
    for bad in ("0", "-2", "two", "1.5"):
        monkeypatch.setenv("DLCORE_MAX_WORKERS", bad)
        with pytest.raises(JobError, match=f"DLCORE_MAX_WORKERS must be a whole number of at least 1, not '{bad}'"):
            jobs.start(TINY, home)
    assert not any((home / "jobs").glob("j-*"))  # refused before a folder is made


def test_how_a_trainer_ended_decides_failed_or_interrupted() -> None:
    oom = worker.exit_failure(-signal.SIGKILL)
    assert oom and "killed by signal 9 (SIGKILL), most likely out of memory: lower the batch size" in oom
    assert "SIGSEGV" in (worker.exit_failure(-signal.SIGSEGV) or "")
    assert "code 1" in (worker.exit_failure(1) or "")
    for resumable in (0, -signal.SIGTERM, -signal.SIGINT, -signal.SIGHUP, 130, 143):
        assert worker.exit_failure(resumable) is None, resumable


def test_a_recorded_kill_fails_an_unfinished_job_and_leaves_a_finished_one(home) -> None:
    running, done = jobs.create(TINY, home), jobs.create(TINY, home)
    jobs.update_status(running, state="running")
    jobs.update_status(done, state="done", message="finished 1 epoch(s)")
    assert worker.record_exit(running, -signal.SIGKILL) is not None
    assert worker.record_exit(done, -signal.SIGKILL) is None
    status = jobs.poll(running.name, home)
    assert status.state == "failed" and "SIGKILL" in status.message
    assert jobs.poll(done.name, home).state == "done"
    with pytest.raises(JobError, match="only an interrupted job"):
        jobs.resume(running.name, home)


def test_queued_jobs_show_their_place_and_cancelled_ones_never_start(home, monkeypatch, fake_worker) -> None:
    monkeypatch.setenv("DLCORE_MAX_WORKERS", "1")
    first, second, third = (jobs.start(TINY, home) for _ in range(3))
    assert [(s.state, s.place, s.queue_length) for s in (first, second, third)] == [
        ("queued", 1, 1), ("queued", 2, 2), ("queued", 3, 3)]
    assert "place 2 of 3" in jobs.poll(second.job_id, home).message
    cancelled = jobs.cancel(first.job_id, home)
    assert cancelled.state == "cancelled" and not cancelled.active and "never ran" in cancelled.message
    assert (jobs.poll(second.job_id, home).place, jobs.poll(third.job_id, home).queue_length) == (1, 2)
    with pytest.raises(JobError, match="only a queued job can be cancelled"):
        jobs.cancel(first.job_id, home)
    assert jobs.stop(third.job_id, home).state == "cancelled"  # stopping a queued job cancels it
    with pytest.raises(JobError, match="is running; only a queued job"):
        jobs.cancel(fake_worker[0].name, home)
    states = {s.job_id: s.state for s in jobs.list_jobs(home)}
    assert states == {fake_worker[0].name: "running", first.job_id: "cancelled", second.job_id: "queued",
                      third.job_id: "cancelled"}
    jobs.cancel(second.job_id, home)
    fake_worker[1].kill()
    fake_worker[1].wait()
    assert jobs.poll(fake_worker[0].name, home).state == "interrupted"  # its slot is free: nothing is left to start
    assert not any((home / "jobs" / s.job_id / jobs.PID_FILE).exists() for s in (first, second, third))


@pytest.mark.slow
def test_six_jobs_with_a_limit_of_two_never_run_more_than_two_workers_and_all_finish(home, monkeypatch) -> None:
    monkeypatch.setenv("DLCORE_MAX_WORKERS", "2")
    started = [jobs.start(TINY, home) for _ in range(7)]
    jobs.cancel(started[-1].job_id, home)  # queued behind six: never runs
    trainers = workers = []
    most_trainers = most_workers = 0
    while any(jobs.poll(s.job_id, home).active for s in started):
        trainers, workers = _processes(home, b"run-job"), _processes(home, b"dlcore.worker")
        most_trainers, most_workers = max(most_trainers, len(trainers)), max(most_workers, len(workers))
        time.sleep(0.1)
    assert most_trainers == 2 and most_workers == 2, (most_trainers, most_workers)
    assert [jobs.poll(s.job_id, home).state for s in started] == ["done"] * 6 + ["cancelled"]
    assert not (started[-1].folder / jobs.PID_FILE).exists() and not jobs.metrics(started[-1].job_id, home)
    _until(lambda: not _processes(home, b"dlcore"), timeout=30)  # the last workers exit too


@pytest.mark.slow
def test_a_restart_leaves_jobs_resumable_the_queue_moves_on_and_an_oom_kill_fails(home, monkeypatch) -> None:
    monkeypatch.setenv("DLCORE_MAX_WORKERS", "1")
    first = jobs.start(LONG, home)
    second = jobs.start(LONGER, home)
    _until(lambda: jobs.poll(first.job_id, home).epoch >= 1)
    # The machine restarts (or the server goes down with its process group): the worker dies, its trainer with it,
    # and nobody records anything or moves the queue on.
    os.kill(jobs.worker_pid(first.folder), signal.SIGKILL)
    _until(lambda: not _processes(home, b"run-job"), timeout=30)
    assert _raw_state(second.folder) == "queued" and jobs.worker_pid(second.folder) is None
    # A fresh server process: no memory of the workers; listing the jobs starts the next one.
    code = "from dlcore import jobs; print(sorted(s.state for s in jobs.list_jobs()))"
    env = dict(os.environ, PYTHONPATH=str(ROOT), DLCORE_HOME=str(home))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "['interrupted', 'running']", out
    interrupted = jobs.poll(first.job_id, home)
    assert interrupted.state == "interrupted" and "resume" in interrupted.message
    # The kernel's out-of-memory killer: SIGKILL to the trainer, the big process; its worker sees it.
    _until(lambda: jobs.poll(second.job_id, home).epoch >= 1)
    os.kill(int((second.folder / worker.TRAINER_PID_FILE).read_text()), signal.SIGKILL)
    failed = jobs.wait(second.job_id, home, timeout=30, interval=0.1)
    assert failed.state == "failed", failed
    assert "killed by signal 9 (SIGKILL), most likely out of memory: lower the batch size" in failed.message
    with pytest.raises(JobError, match="only an interrupted job"):
        jobs.resume(second.job_id, home)
    # The restarted job resumes where it was and finishes.
    assert jobs.resume(first.job_id, home).state in ("queued", "running")
    done = jobs.wait(first.job_id, home, timeout=180)
    assert done.state == "done", done
    assert [r["epoch"] for r in jobs.metrics(first.job_id, home)] == list(range(1, 41))
