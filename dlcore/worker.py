"""A job's worker: ``python -m dlcore.worker FOLDER``, started by ``dlcore.jobs`` when the job gets a slot.

The worker trains in a child process of its own (``python -m dlcore run-job FOLDER``, the trainer, which holds
TensorFlow and the data) and waits for it, so how the training ended is known even when the trainer could not
say so itself. The rule, from the trainer's exit status, for a job whose status is not final yet:

- killed by SIGKILL while this worker lives: ``failed``, "most likely out of memory". The kernel's out-of-memory
  killer sends SIGKILL to the process using the most memory, the trainer, and leaves this small process alone;
  resuming would only die the same way.
- ended by SIGTERM, SIGINT or SIGHUP (or exit code 128 + one of them): left unfinished, so it reads
  ``interrupted`` and can be resumed: a shutdown or a person asked it to end.
- killed by any other signal (SIGSEGV, SIGABRT, ...) or a non-zero exit: ``failed``, with the signal or code.

A machine that reboots, a killed server that takes its process group along, or a ``kill -9`` of the worker
(``worker.pid``) ends this process too; the trainer follows it (``PR_SET_PDEATHSIG``), nobody records an end,
and the job reads ``interrupted`` and resumes as before. Not told apart: a person's ``kill -9`` of the trainer
alone reads as out of memory; a cgroup that kills all its processes at once on OOM reads as interrupted.

Then the worker moves the queue on (``jobs.fill_slots``, its own slot free now that the trainer is gone): it
becomes the worker of the first job waiting (``exec``, same pid, the queue lock held across), so the queue moves
on without any server.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

from dlcore import jobs
from dlcore.errors import DlcoreError
from dlcore.workspace import read_json

TRAINER_PID_FILE = "trainer.pid"  # the trainer's pid, beside the worker's ``worker.pid``
SUPERVISOR_ENV = "DLCORE_WORKER_PID"  # set for the trainer: the worker it must not outlive
LOCK_FD_ENV = "DLCORE_QUEUE_LOCK_FD"  # set by ``hand_over``: the descriptor of the queue lock it passes on
RESUMABLE_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
OUT_OF_MEMORY_HINT = ("most likely out of memory: lower the batch size, make the model smaller or let fewer jobs "
                      "train at once (DLCORE_MAX_WORKERS), then train again")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"


def exit_failure(returncode: int) -> str | None:
    """Why a job failed, from the exit status of a trainer that ended before the job did (negative: the
    signal that killed it, as ``subprocess`` reports it); None when the job should read ``interrupted``."""
    if returncode < 0:
        number = -returncode
        if number in RESUMABLE_SIGNALS:
            return None
        if number == signal.SIGKILL:
            return f"the worker was killed by signal 9 (SIGKILL), {OUT_OF_MEMORY_HINT}"
        return f"the worker crashed with signal {number} ({_signal_name(number)}); see worker.log in the job folder"
    if returncode == 0 or returncode - 128 in RESUMABLE_SIGNALS:  # 130: KeyboardInterrupt caught by the CLI
        return None
    return f"the worker exited with code {returncode} before the job finished; see worker.log in the job folder"


def record_exit(folder: Path, returncode: int) -> str | None:
    """Mark the job ``failed`` when its trainer's exit says so and the job is not finished; returns the message."""
    state = (read_json(folder / jobs.STATUS_FILE, {}) or {}).get("state")
    message = exit_failure(returncode) if state in jobs.UNFINISHED else None
    if message is not None:
        jobs.update_status(folder, state="failed", message=message, exit_code=returncode)
    return message


def die_with_worker() -> bool:
    """In the trainer: have the kernel SIGKILL this process when its worker ends (Linux); False when the
    worker has already gone. True, and no guard, when not started by a worker."""
    parent = os.environ.get(SUPERVISOR_ENV)
    if not parent:
        return True
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: only this guard is lost
    return os.getppid() == int(parent)


def _claim(folder: Path) -> bool:
    """Make sure this process is the job's worker before training: one handed the job by ``hand_over`` holds
    the queue lock and names itself; one started by ``jobs`` waits for the starter to have named it."""
    inherited = os.environ.pop(LOCK_FD_ENV, None)
    if inherited is not None:
        (folder / jobs.PID_FILE).write_text(str(os.getpid()))
        os.close(int(inherited))  # releases the lock the previous program took
        return True
    with jobs.queue_lock(folder.parent.parent):
        return jobs.worker_pid(folder) == os.getpid()


def supervise(folder: str | os.PathLike[str]) -> int:
    """Run the job in ``folder`` in a trainer child, record how it ended, move the queue on; the exit code."""
    folder = Path(folder).resolve()
    if not _claim(folder):
        print("another worker has this job; exiting", file=sys.stderr)
        return 0
    env = dict(os.environ, **{SUPERVISOR_ENV: str(os.getpid())})
    trainer = subprocess.Popen([sys.executable, "-m", "dlcore", "run-job", str(folder)], env=env,
                               stdin=subprocess.DEVNULL)
    (folder / TRAINER_PID_FILE).write_text(str(trainer.pid))
    returncode = trainer.wait()
    message = record_exit(folder, returncode)
    if message:
        print(f"job failed: {message}", file=sys.stderr, flush=True)
    try:
        with jobs.queue_lock(folder.parent.parent) as held:
            chosen = jobs.fill_slots(held, jobs.max_workers(), leaving=folder)
            if chosen:
                hand_over(chosen[0], held.fd)
    except DlcoreError as exc:
        print(f"could not start the next queued job: {exc}", file=sys.stderr)
    return returncode if returncode >= 0 else 128 - returncode


def hand_over(folder: Path, lock_fd: int) -> NoReturn:
    """Become the worker of the job in ``folder``: same process (no moment with a worker too many), new program,
    output to that job's log, the queue lock passed on until the new program has written its pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    log = os.open(folder / jobs.LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.set_inheritable(lock_fd, True)
    env = dict(os.environ, **{LOCK_FD_ENV: str(lock_fd)})
    os.execve(sys.executable, [sys.executable, "-m", "dlcore.worker", str(folder)], env)


if __name__ == "__main__":
    sys.exit(supervise(sys.argv[1]))
