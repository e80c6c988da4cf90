"""Training jobs: a folder under ``<home>/jobs/<id>/`` and a worker process that trains into it.

The folder holds ``config.json`` (everything to rerun), ``status.json`` (written by the worker only),
``metrics.jsonl``, TensorBoard logs, a ``BackupAndRestore`` checkpoint (``backup/``) and ``worker.log``. Pages and
the command line only read the folder, so a job outlives page switches, closed tabs and server restarts.
This is the only module in dlcore that starts processes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlcore.errors import JobError
from dlcore.models.spec import TrainConfig
from dlcore.workspace import atomic_write_json, home, new_id, read_json

CONFIG_FILE, STATUS_FILE, METRICS_FILE, STOP_FILE, LOG_FILE, PID_FILE = (
    "config.json", "status.json", "metrics.jsonl", "stop", "worker.log", "worker.pid")
BACKUP_DIR = "backup"  # the per-epoch checkpoint a killed job resumes from
ACTIVE = ("queued", "running")
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}  # workers started by this process, reaped on poll


@dataclass(frozen=True)
class JobStatus:
    """A job as read from its folder. ``state``: queued, running, done, stopped, failed or interrupted
    (the worker died without finishing: ``resume`` continues from the last saved epoch)."""

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


def create(config: TrainConfig, root: str | os.PathLike[str] | None = None) -> Path:
    """Make a job folder for ``config`` (queued, no process yet)."""
    folder = jobs_root(root) / new_id("j-")
    folder.mkdir(parents=True)
    atomic_write_json(folder / CONFIG_FILE, config.to_dict())
    atomic_write_json(folder / STATUS_FILE, {"state": "queued", "epoch": 0, "epochs": config.epochs,
                                            "created": time.time(), "updated": time.time()})
    return folder


def _child_env(**extra: str) -> dict[str, str]:
    """This process's environment for a ``python -m dlcore`` child that finds this copy of the package."""
    package_parent = str(Path(__file__).resolve().parent.parent)
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **extra,
                PYTHONPATH=os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p))


def _spawn(folder: Path) -> int:
    env = _child_env(DLCORE_HOME=str(folder.parent.parent))
    with open(folder / LOG_FILE, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "dlcore", "run-job", str(folder)], stdout=log,
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
    """Create a job and start its worker process; returns at once."""
    folder = create(config, root)
    _spawn(folder)
    return poll(folder.name, root)


def _alive(pid: int | None, folder: Path) -> bool:
    if not pid:
        return False
    if pid in _CHILDREN:
        return _CHILDREN[pid].poll() is None  # also reaps a finished child
    try:
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
    return str(folder).encode() in cmdline and state != "Z"


def _pid(folder: Path) -> int | None:
    try:
        return int((folder / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def poll(job_id: str, root: str | os.PathLike[str] | None = None) -> JobStatus:
    """Read a job's state; a job whose worker has died unfinished reads as ``interrupted``."""
    folder = job_folder(job_id, root)
    raw: dict[str, Any] = read_json(folder / STATUS_FILE, {}) or {}
    state = str(raw.get("state", "queued"))
    message = str(raw.get("message") or "")
    if state in ACTIVE and not _alive(_pid(folder), folder):
        state, message = "interrupted", "the worker stopped before the job finished; resume to continue"
    return JobStatus(
        job_id=folder.name, folder=folder, state=state, epoch=int(raw.get("epoch") or 0),
        epochs=int(raw.get("epochs") or 0), step=int(raw.get("step") or 0), steps=int(raw.get("steps") or 0),
        eta_seconds=raw.get("eta_seconds"), message=message, model_id=raw.get("model_id"),
        metrics=dict(raw.get("metrics") or {}), config=read_json(folder / CONFIG_FILE, {}) or {},
        started=raw.get("started"), updated=raw.get("updated"), device=str(raw.get("device") or ""),
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
    """Merge ``fields`` into ``status.json`` (atomic; only the job's worker calls this after the start)."""
    status = read_json(folder / STATUS_FILE, {}) or {}
    status.update(fields, updated=time.time())
    atomic_write_json(folder / STATUS_FILE, status)
    return status


def metrics(job_id: str, root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """The job's per-epoch metric rows so far."""
    return read_metrics(job_folder(job_id, root))


def stop(job_id: str, root: str | os.PathLike[str] | None = None) -> JobStatus:
    """Ask a running job to stop after the current batch; it saves its best epoch so far."""
    status = poll(job_id, root)
    if status.active:
        (status.folder / STOP_FILE).touch()
    return status


def resume(job_id: str, root: str | os.PathLike[str] | None = None) -> JobStatus:
    """Restart the worker of an interrupted job; training continues from the last saved epoch."""
    status = poll(job_id, root)
    if status.state != "interrupted":
        raise JobError(f"job {job_id} is {status.state}; only an interrupted job can be resumed")
    (status.folder / STOP_FILE).unlink(missing_ok=True)
    _spawn(status.folder)
    return poll(job_id, root)


def list_jobs(root: str | os.PathLike[str] | None = None) -> list[JobStatus]:
    """All jobs, newest first."""
    ids = sorted((p.name for p in jobs_root(root).iterdir() if (p / CONFIG_FILE).is_file()), reverse=True)
    return [poll(i, root) for i in ids]


def wait(job_id: str, root: str | os.PathLike[str] | None = None, timeout: float = 600.0,
         interval: float = 0.5) -> JobStatus:
    """Block until the job is no longer active (or ``timeout`` seconds pass) and return its status."""
    deadline = time.monotonic() + timeout
    status = poll(job_id, root)
    while status.active and time.monotonic() < deadline:
        time.sleep(interval)
        status = poll(job_id, root)
    return status
