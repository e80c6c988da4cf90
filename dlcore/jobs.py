"""Training jobs: a folder under ``<home>/jobs/<id>/`` and a worker process that trains into it.

The folder holds ``config.json`` (everything to rerun), ``status.json`` (written by the worker; by the queue
only while no worker runs), ``worker.pid``, ``metrics.jsonl``, TensorBoard logs, a ``BackupAndRestore``
checkpoint (``backup/``) and ``worker.log``. Pages and the command line only read the folder, so a job outlives
page switches, closed tabs and server restarts.
This module and the worker it starts (``dlcore.worker``) are the only ones in dlcore that start processes,
besides the watchdog of a multi-worker job (``dlcore.distributed``).

The queue: at most ``max_workers()`` workers train at once (``DLCORE_MAX_WORKERS``). A job started while the
slots are full waits as ``queued`` (no worker, no ``worker.pid``); its place comes from the ``queued_at`` times
of the waiting jobs, so there is no queue file to go stale. ``advance`` counts the live workers and starts the
oldest waiting jobs into the free slots, under an exclusive ``flock`` on ``jobs/queue.lock`` so two processes
never both take the last slot. Whoever may see a slot free up calls it: ``start``, ``resume``, ``poll`` and
``list_jobs`` (a restarted server catches up; a dead worker's slot is freed when it is seen) and each worker
as it ends, after its training process has exited: it becomes the worker of the next job itself (``exec``, same
pid, the lock held until it has written its pid), so the queue moves on without any server and never more
than the limit of workers are alive at once.
"""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlcore.errors import JobError
from dlcore.models.spec import TrainConfig
from dlcore.workspace import atomic_write_json, home, new_id, read_json

CONFIG_FILE, STATUS_FILE, METRICS_FILE, STOP_FILE, LOG_FILE, PID_FILE = (
    "config.json", "status.json", "metrics.jsonl", "stop", "worker.log", "worker.pid")
BACKUP_DIR = "backup"  # the per-epoch checkpoint a killed job resumes from
LOCK_FILE = "queue.lock"  # in the jobs folder: held while a process decides whether a slot is free and takes it
ACTIVE = ("queued", "running")
UNFINISHED = ("created", *ACTIVE)  # created: a folder for a job run in the caller's own process (``create``)
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}  # workers started by this process, reaped on poll
RUNNER_FILE = "runner.pid"  # the process running the job's training (its pid and start time), worker or not


@dataclass(frozen=True)
class JobStatus:
    """A job as read from its folder. ``state``: queued (waiting for a free worker slot, ``place`` of
    ``queue_length``), running, done, stopped, failed, cancelled (while queued: it never ran) or interrupted
    (the worker died without finishing and without a cause that would recur, e.g. the server or the machine
    went down: ``resume`` continues from the last saved epoch)."""

    job_id: str
    folder: Path
    state: str
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps: int = 0
    eta_seconds: float | None = None
    message: str = ""
    model_id: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    started: float | None = None
    updated: float | None = None
    device: str = ""
    place: int = 0
    queue_length: int = 0

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def progress(self) -> float:
        """Fraction of all training steps done, in [0, 1]."""
        if not self.epochs:
            return 0.0
        within = self.step / self.steps if self.steps and self.epoch < self.epochs else 0.0
        return min(1.0, (self.epoch + within) / self.epochs)


def jobs_root(root: str | os.PathLike[str] | None = None) -> Path:
    folder = home(root) / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def job_folder(job_id: str, root: str | os.PathLike[str] | None = None) -> Path:
    if not job_id or "/" in job_id or job_id.startswith("."):
        raise JobError(f"invalid job id {job_id!r}")
    folder = jobs_root(root) / job_id
    if not (folder / CONFIG_FILE).is_file():
        raise JobError(f"no job {job_id!r} in {folder.parent}")
    return folder


def create(config: TrainConfig, root: str | os.PathLike[str] | None = None, queue: bool = False,
           job_id: str | None = None) -> Path:
    """Make a job folder for ``config``, no process yet: for ``dlcore.training.run_job`` in this process
    (state ``created``, this process its runner), or with ``queue`` waiting for a worker slot (``queued``:
    ``advance`` starts it).
    ``job_id``: a given id (a multi-worker job's, the same each time its command runs) instead of a new one."""
    folder = jobs_root(root) / (job_id or new_id("j-"))
    folder.mkdir(parents=True)
    atomic_write_json(folder / CONFIG_FILE, config.to_dict())
    if not queue:
        mark_runner(folder)  # run here: it reads as running, not interrupted, from the moment it exists
    now = time.time()
    status = {"state": "queued" if queue else "created", "epoch": 0, "epochs": config.epochs, "created": now,
              "updated": now, **({"queued_at": now} if queue else {})}
    atomic_write_json(folder / STATUS_FILE, status)
    return folder


def _child_env(**extra: str) -> dict[str, str]:
    """This process's environment for a ``python -m dlcore`` child that finds this copy of the package."""
    package_parent = str(Path(__file__).resolve().parent.parent)
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **extra,
                PYTHONPATH=os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p))


def _spawn(folder: Path) -> int:
    """Start the job's worker (``python -m dlcore.worker``, which trains in a child of its own); the caller
    holds the queue lock, and the worker waits for it, so it finds its pid in ``worker.pid`` once it runs."""
    env = _child_env(DLCORE_HOME=str(folder.parent.parent))
    with open(folder / LOG_FILE, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "dlcore.worker", str(folder)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)  # outlives a restarted server
    _CHILDREN[proc.pid] = proc
    (folder / PID_FILE).write_text(str(proc.pid))  # the parent's file; status.json is the worker's
    return proc.pid


@dataclass(frozen=True)
class LimitedRun:
    """How a ``run_limited`` child ended: its exit code (negative: the signal that ended it; None: killed at
    the time limit), what it printed, and whether it ran out of time."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool


# The child caps its own address space before it imports anything (so the cap covers TensorFlow and all it
# loads), soft and hard alike so nothing in it can raise the cap again, then runs dlcore's command line.
# Set in the child rather than with Popen's preexec_fn, which can deadlock in a threaded server.
_CAPPED_MAIN = """import resource, runpy, sys
cap = int(sys.argv.pop(1)) * 2**20
hard = resource.getrlimit(resource.RLIMIT_AS)[1]
cap = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
runpy.run_module("dlcore", run_name="__main__", alter_sys=True)
"""


def run_limited(args: list[str], memory_mb: int, timeout: float, **env: str) -> LimitedRun:
    """Run ``python -m dlcore ARGS`` in a child process capped at ``memory_mb`` MiB of address space
    (``RLIMIT_AS``) and killed after ``timeout`` seconds; waits for it. ``env``: extra environment variables."""
    command = [sys.executable, "-c", _CAPPED_MAIN, str(int(memory_mb)), *args]
    try:
        done = subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL, env=_child_env(**env),
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:  # the child has been killed and reaped
        return LimitedRun(None, _text(exc.stdout), _text(exc.stderr), True)
    return LimitedRun(done.returncode, _text(done.stdout), _text(done.stderr), False)


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


def start(config: TrainConfig, root: str | os.PathLike[str] | None = None) -> JobStatus:
    """Create a job and queue it; its worker starts at once when a slot is free. Returns at once."""
    max_workers()  # an invalid limit is refused before a folder is made
    folder = create(config, root, queue=True)
    advance(root)
    return poll(folder.name, root)


def max_workers() -> int:
    """How many workers may train at once: ``$DLCORE_MAX_WORKERS``, default one per two cores (at least one)."""
    default = max(1, (os.cpu_count() or 1) // 2)
    text = os.environ.get("DLCORE_MAX_WORKERS", "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise JobError(f"DLCORE_MAX_WORKERS must be a whole number of at least 1, not {text!r}; unset it for "
                       f"the default, one worker per two cores ({default} here)")
    return value


@dataclass(frozen=True)
class QueueLock:
    """The held queue lock: the jobs folder it guards and the descriptor that holds the ``flock``."""

    jobs: Path
    fd: int


@contextmanager
def queue_lock(root: str | os.PathLike[str] | None = None) -> Iterator[QueueLock]:
    """Hold the workspace's queue lock (an exclusive ``flock`` on ``jobs/queue.lock``; blocks until free).
    Not reentrant: nothing called under it may take it again."""
    folder = jobs_root(root)
    with open(folder / LOCK_FILE, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield QueueLock(folder, fh.fileno())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _raw(folder: Path) -> dict[str, Any]:
    return read_json(folder / STATUS_FILE, {}) or {}


def _folders(jobs: Path) -> list[Path]:
    return sorted(p for p in jobs.iterdir() if (p / CONFIG_FILE).is_file())


def _waiting(folder: Path, raw: dict[str, Any]) -> bool:
    """Queued and not yet given to a worker (``_spawn`` writes ``worker.pid``; ``resume`` removes it)."""
    return raw.get("state") == "queued" and not (folder / PID_FILE).exists()


def _queue(jobs: Path) -> list[Path]:
    """The waiting jobs, first in line first (queued earliest; the id breaks a tie)."""
    waiting = []
    for folder in _folders(jobs):
        raw = _raw(folder)
        if _waiting(folder, raw):
            waiting.append((float(raw.get("queued_at") or raw.get("created") or 0.0), folder.name, folder))
    return [folder for *_, folder in sorted(waiting)]


def advance(root: str | os.PathLike[str] | None = None, strict: bool = True) -> list[str]:
    """Start the first waiting jobs while fewer than ``max_workers()`` workers run; returns their ids.
    ``strict=False`` (reading jobs): an invalid ``DLCORE_MAX_WORKERS`` starts nothing instead of raising; starting
    or resuming a job says what is wrong with it."""
    try:
        limit = max_workers()
    except JobError:
        if strict:
            raise
        return []
    with queue_lock(root) as held:
        return [folder.name for folder in fill_slots(held, limit)]


def fill_slots(held: QueueLock, limit: int, leaving: Path | None = None) -> list[Path]:
    """Under ``held``: start workers for the first waiting jobs while fewer than ``limit`` workers are alive
    (a worker holds its slot until it exits, after its trainer). ``leaving``: the folder of the worker calling
    this as it ends; it holds no slot any more and gets the first job back unstarted, to run it itself."""
    folders = _folders(held.jobs)
    busy = sum(1 for folder in folders if folder != leaving and _alive(_pid(folder), folder))
    chosen = _queue(held.jobs)[:max(0, limit - busy)]
    for folder in chosen[1:] if leaving is not None else chosen:
        _spawn(folder)
    return chosen


def _alive(pid: int | None, folder: Path) -> bool:
    if not pid:
        return False
    if pid in _CHILDREN and _CHILDREN[pid].poll() is not None:  # also reaps a finished child
        return False
    try:  # a live child is checked on: a worker that moved on to the next queued job keeps its pid
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # guard against a reused pid: the process must be this job's worker and not a zombie
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True  # no /proc (not Linux): trust kill(0)
    if state == "Z":
        return False
    # An empty command line: the process is inside execve, its new program's arguments not yet in place (the
    # parent of a just-spawned worker can look before they are); it is alive
    return not cmdline or str(folder).encode() in cmdline


def _start_time(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot, from /proc), to tell it from a later one that reuses
    its pid; empty where there is no /proc."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def mark_runner(folder: str | os.PathLike[str]) -> None:
    """Record this process as the one training the job in ``folder``: a job run in its caller's process
    (``python -m dlcore train``, a generative job's reference classifier) has no worker, and without this it
    would read as ``interrupted`` while it trains."""
    pid = os.getpid()
    (Path(folder) / RUNNER_FILE).write_text(f"{pid} {_start_time(pid)}")


def _runner_alive(folder: Path) -> bool:
    """Whether the process that ``mark_runner`` recorded for ``folder`` still runs (the same process, not a reused
    pid, not a zombie)."""
    try:
        pid_text, *started = (folder / RUNNER_FILE).read_text().split()
        pid = int(pid_text)
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): trust kill(0)
    return state != "Z" and started == [_start_time(pid)]


def _pid(folder: Path) -> int | None:
    try:
        return int((folder / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def worker_pid(folder: str | os.PathLike[str]) -> int | None:
    """The pid of the worker last started for the job in ``folder`` (None: never started, or queued again)."""
    return _pid(Path(folder))


def poll(job_id: str, root: str | os.PathLike[str] | None = None) -> JobStatus:
    """Read a job's state; a job whose worker has died unfinished reads as ``interrupted``. Moves the queue on
    when the job waits in it or its worker is found dead (its slot is free)."""
    folder = job_folder(job_id, root)
    raw = _raw(folder)
    if _waiting(folder, raw) or (raw.get("state") in ACTIVE and _pid(folder) and not _alive(_pid(folder), folder)):
        advance(root, strict=False)
    return _status(folder)


def _status(folder: Path, queue: list[Path] | None = None) -> JobStatus:
    """The job in ``folder`` as read now; ``queue``: the waiting jobs when already read (else read here)."""
    raw = _raw(folder)
    state = str(raw.get("state", "created"))
    message = str(raw.get("message") or "")
    place = length = 0
    if _waiting(folder, raw):
        line = _queue(folder.parent) if queue is None else queue
        place, length = (line.index(folder) + 1, len(line)) if folder in line else (0, 0)
        message = message or f"waiting for a free worker slot (place {place} of {length})"
    elif state in UNFINISHED and not _alive(_pid(folder), folder) and not _runner_alive(folder):
        state, message = "interrupted", "the worker stopped before the job finished; resume to continue"
    elif state == "queued":
        state = "running"  # its worker has started and is loading TensorFlow
    return JobStatus(
        job_id=folder.name, folder=folder, state=state, epoch=int(raw.get("epoch") or 0),
        epochs=int(raw.get("epochs") or 0), step=int(raw.get("step") or 0), steps=int(raw.get("steps") or 0),
        eta_seconds=raw.get("eta_seconds"), message=message, model_id=raw.get("model_id"),
        metrics=dict(raw.get("metrics") or {}), config=read_json(folder / CONFIG_FILE, {}) or {},
        started=raw.get("started"), updated=raw.get("updated"), device=str(raw.get("device") or ""),
        place=place, queue_length=length,
    )


def read_metrics(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Per-epoch rows of a job folder's ``metrics.jsonl`` (a line torn by a kill is skipped)."""
    try:
        lines = Path(folder, METRICS_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    rows = []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def update_status(folder: Path, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into ``status.json`` (atomic; while a worker runs, only it and its trainer call this)."""
    status = read_json(folder / STATUS_FILE, {}) or {}
    status.update(fields, updated=time.time())
    atomic_write_json(folder / STATUS_FILE, status)
    return status


def metrics(job_id: str, root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """The job's per-epoch metric rows so far."""
    return read_metrics(job_folder(job_id, root))


def stop(job_id: str, root: str | os.PathLike[str] | None = None) -> JobStatus:
    """Ask a running job to stop after the current batch; it saves its best epoch so far. A queued job is
    cancelled instead."""
    status = poll(job_id, root)
    if status.state == "queued":
        return cancel(job_id, root)
    if status.active:
        (status.folder / STOP_FILE).touch()
    return status


def cancel(job_id: str, root: str | os.PathLike[str] | None = None) -> JobStatus:
    """Take a queued job out of the queue (state ``cancelled``); it never starts."""
    folder = job_folder(job_id, root)
    with queue_lock(root):  # no worker can be started for it meanwhile
        if not _waiting(folder, _raw(folder)):
            raise JobError(f"job {job_id} is {_status(folder).state}; only a queued job can be cancelled "
                           "(stop a running one)")
        update_status(folder, state="cancelled", message="cancelled while queued; it never ran")
    return _status(folder)


def resume(job_id: str, root: str | os.PathLike[str] | None = None) -> JobStatus:
    """Queue an interrupted job again; its worker continues from the last saved epoch when a slot is free."""
    status = poll(job_id, root)
    max_workers()  # an invalid limit is refused before the job is queued again
    with queue_lock(root):
        if _status(status.folder).state != "interrupted":
            raise JobError(f"job {job_id} is {status.state}; only an interrupted job can be resumed")
        (status.folder / STOP_FILE).unlink(missing_ok=True)
        (status.folder / PID_FILE).unlink(missing_ok=True)  # back in the line: no worker yet
        update_status(status.folder, state="queued", queued_at=time.time(), message="")
    advance(root)
    return poll(job_id, root)


def list_jobs(root: str | os.PathLike[str] | None = None) -> list[JobStatus]:
    """All jobs, newest first (moves the queue on first, as ``poll`` does)."""
    advance(root, strict=False)
    jobs = jobs_root(root)
    queue = _queue(jobs)
    return [_status(folder, queue) for folder in reversed(_folders(jobs))]


def wait(job_id: str, root: str | os.PathLike[str] | None = None, timeout: float = 600.0,
         interval: float = 0.5) -> JobStatus:
    """Block until the job is no longer active (or ``timeout`` seconds pass) and return its status."""
    deadline = time.monotonic() + timeout
    status = poll(job_id, root)
    while status.active and time.monotonic() < deadline:
        time.sleep(interval)
        status = poll(job_id, root)
    return status
