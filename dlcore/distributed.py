"""Training on several machines: the cluster, ``TF_CONFIG``, the chief, and failing instead of hanging.

``MultiWorkerMirroredStrategy`` keeps one copy of the model on every worker and all-reduces the gradients
of each global batch; every worker runs the same ``model.fit``. As TensorFlow's multi-worker Keras guide
prescribes, only the chief (worker 0) writes what is kept: the job folder in ``DLCORE_HOME`` and the stored
model; the others write their job folder, checkpoint and model save into a temporary folder.

A collective operation waits for every peer, forever by default, and a process blocked in one ignores
SIGTERM. So every collective gets a timeout (``CommunicationOptions(timeout_seconds=...)``), TensorFlow's own
peer health check aborts them when a peer goes away, and a watchdog process (``dlcore.watchdog``) ends this
one when the cluster does not form within the timeout. A resumed job takes the chief's checkpoint on every
worker (``dlcore.chief_checkpoint``), so only the chief needs one.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlcore.errors import JobError

TIMEOUT_ENV = "DLCORE_WORKER_TIMEOUT"  # seconds a worker waits for its peers (read where the strategy is made)
DEFAULT_TIMEOUT = 120.0
_ADDRESS = re.compile(r"^[A-Za-z0-9_.\-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$")


@dataclass(frozen=True)
class Cluster:
    """The workers of a multi-worker job (``host:port`` each, the same list on every machine), this
    machine's place in it, and how long a worker waits for the others before it gives up."""

    workers: tuple[str, ...]
    index: int
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        bad = [w for w in self.workers if not _ADDRESS.match(w)]
        if bad or not self.workers:
            raise JobError(f"--workers takes host:port,host:port (e.g. 10.0.0.1:12345,10.0.0.2:12345), got "
                           f"{','.join(bad) or 'nothing'}")
        if len(set(self.workers)) != len(self.workers):
            raise JobError("--workers lists the same host:port twice; give each worker its own port")
        if not 0 <= self.index < len(self.workers):
            raise JobError(f"--worker-index must be 0 to {len(self.workers) - 1} (this machine's place in "
                           f"--workers), got {self.index}")
        if not self.timeout > 0:
            raise JobError(f"--worker-timeout must be > 0 seconds, got {self.timeout}")

    @property
    def is_chief(self) -> bool:
        return self.index == 0

    def tf_config(self) -> dict[str, Any]:
        """The ``TF_CONFIG`` TensorFlow reads: every worker's address and this one's task."""
        return {"cluster": {"worker": list(self.workers)}, "task": {"type": "worker", "index": self.index}}

    def apply(self) -> None:
        """Write ``TF_CONFIG`` and the timeout into this process's environment (before the strategy exists)."""
        os.environ["TF_CONFIG"] = json.dumps(self.tf_config())
        os.environ[TIMEOUT_ENV] = f"{self.timeout:g}"


def parse_workers(text: str) -> tuple[str, ...]:
    """``host:port,host:port`` as a tuple of addresses."""
    return tuple(w.strip() for w in text.split(",") if w.strip())


def task() -> tuple[str, int] | None:
    """This process's task in ``TF_CONFIG`` (type, index), or None when there is no cluster."""
    try:
        spec = json.loads(os.environ.get("TF_CONFIG") or "{}")
    except json.JSONDecodeError as exc:
        raise JobError(f"TF_CONFIG is not valid JSON ({exc}); use --workers and --worker-index instead") from exc
    found = spec.get("task") or {}
    return (str(found["type"]), int(found.get("index", 0))) if "type" in found else None


def is_chief() -> bool:
    """Whether this process writes the job's results: no cluster, worker 0, or a task of type ``chief``."""
    found = task()
    return found is None or found[0] == "chief" or (found[0] == "worker" and found[1] == 0
                                                    and "chief" not in _cluster_jobs())


def _cluster_jobs() -> tuple[str, ...]:
    return tuple((json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster") or {}).keys())


def timeout() -> float:
    """Seconds a worker waits for its peers (``DLCORE_WORKER_TIMEOUT``, default 120)."""
    try:
        return float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
    except ValueError as exc:
        raise JobError(f"{TIMEOUT_ENV} must be a number of seconds, got {os.environ[TIMEOUT_ENV]!r}") from exc


def from_tf_config(seconds: float = DEFAULT_TIMEOUT) -> Cluster | None:
    """The cluster of a ``TF_CONFIG`` written by hand (workers only), or None when there is none."""
    found = task()
    if found is None:
        return None
    if found[0] != "worker" or set(_cluster_jobs()) != {"worker"}:
        raise JobError("TF_CONFIG may list only workers (a \"worker\" list, task type \"worker\"); or use --workers "
                       "host:port,host:port and --worker-index I instead")
    workers = json.loads(os.environ["TF_CONFIG"])["cluster"]["worker"]
    return Cluster(tuple(str(w) for w in workers), found[1], seconds)


def job_id(config: dict[str, Any], cluster: Cluster) -> str:
    """The chief's job id: the same for the same command, so running it again resumes the job."""
    text = json.dumps({"config": config, "workers": cluster.workers}, sort_keys=True, default=str)
    return "j-mw-" + hashlib.sha256(text.encode()).hexdigest()[:12]


@contextmanager
def watchdog(seconds: float, message: str, folder: Path | None = None) -> Iterator[None]:
    """Kill this process (``message`` on stderr, the job in ``folder`` marked failed) unless the block ends
    within ``seconds``; a watchdog process does it (``dlcore.watchdog``), since a worker waiting for peers
    is blocked in native code that no thread or signal handler of its own can interrupt."""
    package_parent = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, "-m", "dlcore.watchdog", str(os.getpid()), f"{seconds:g}", message,
                             str(folder or "")], stdin=subprocess.PIPE, env=env)
    try:
        yield
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # in time: the watchdog sees the end of its input and leaves
        proc.wait()


def multi_worker_strategy(folder: Path | None = None) -> Any:
    """A ``MultiWorkerMirroredStrategy`` from ``TF_CONFIG`` whose collectives time out; the process ends (the
    job in ``folder`` failed) when the cluster has not formed within the timeout."""
    import tensorflow as tf

    seconds = timeout()
    workers = (json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster") or {}).get("worker", [])
    message = (f"the other workers ({', '.join(workers) or 'TF_CONFIG'}) did not join within {seconds:g} s; start "
               "the same command on every machine in --workers (each with its own --worker-index) and check "
               "that the ports are reachable")
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=seconds)
    with watchdog(seconds, message, folder):
        return _strategy_class()(communication_options=options)


def _strategy_class() -> type:
    import tensorflow as tf

    class NestedReduceStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        """Reduces nested values one tensor at a time, and scalars without an axis.

        Keras 3's trainer passes MultiWorkerMirroredStrategy a whole (x, y) batch to reduce before its
        first step and per-replica scalar metrics with ``axis=0``; TensorFlow's collective reduce takes
        neither (keras-team/keras#20585), so ``model.fit`` fails on every worker without this."""

        def reduce(self, reduce_op: Any, value: Any, axis: int | None) -> Any:
            parent = super()

            def one(v: Any) -> Any:
                rank = self.experimental_local_results(v)[0].shape.rank
                return parent.reduce(reduce_op, v, None if rank == 0 else axis)

            return tf.nest.map_structure(one, value)

    return NestedReduceStrategy


def broadcast_from_chief(strategy: Any, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """The chief's ``arrays`` on every worker: one all-reduce (sum) of the chief's values and the others'
    zeros, in float64 so weights, step counters and epochs come through exactly."""
    import tensorflow as tf

    flat = np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays]) if arrays else np.zeros(0)
    mine = flat if is_chief() else np.zeros_like(flat)
    total = strategy.reduce(tf.distribute.ReduceOp.SUM, tf.constant(mine), axis=None).numpy()
    out, at = [], 0
    for a in arrays:
        a = np.asarray(a)
        out.append(total[at:at + a.size].reshape(a.shape).astype(a.dtype))
        at += a.size
    return out


@contextmanager
def peer_errors(folder: Path) -> Iterator[None]:
    """Turn a collective that failed because a peer died or stopped answering into a ``JobError`` that says
    how to resume (from the chief's last checkpoint)."""
    import tensorflow as tf

    if task() is None:  # one machine: TensorFlow's errors keep their own meaning
        yield
        return
    try:
        yield
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError, tf.errors.CancelledError,
            tf.errors.AbortedError, tf.errors.FailedPreconditionError) as exc:
        from dlcore.checkpoint import saved_epoch
        from dlcore.jobs import BACKUP_DIR

        epoch = saved_epoch(folder / BACKUP_DIR)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise JobError(f"a worker died or stopped answering within {timeout():g} s ({type(exc).__name__}: "
                       f"{first[:160]}); the last saved epoch is {epoch}: start the same command on every machine "
                       "again to resume from it") from exc
