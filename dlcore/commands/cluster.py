"""``train --workers``: one worker of a multi-worker job, the same command on every machine.

Each machine runs ``python -m dlcore train ... --workers host:port,host:port --worker-index I``; the flags
become ``TF_CONFIG`` before the strategy is made (``dlcore.distributed``). Worker 0, the chief, trains in a
job folder under ``DLCORE_HOME`` whose id comes from the command, so running the same commands again after a
failure resumes it; the others train in a temporary folder (or ``--worker-dir``), removed at the end.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from dlcore.distributed import DEFAULT_TIMEOUT, Cluster, from_tf_config, job_id, parse_workers
from dlcore.errors import JobError
from dlcore.models.spec import TrainConfig

RunConfig = Callable[[TrainConfig, argparse.Namespace, Path, dict[str, Any]], int]


def add_cluster_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of a multi-worker job."""
    c = p.add_argument_group("several machines (tf.distribute.MultiWorkerMirroredStrategy)")
    c.add_argument("--workers", default=None, metavar="HOST:PORT,...",
                   help="every worker's address, the same list on every machine; worker 0 is the chief")
    c.add_argument("--worker-index", type=int, default=0, metavar="I", help="this machine's place in --workers")
    c.add_argument("--worker-timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help="how long a worker waits for the others, to join and at every step, before it fails")
    c.add_argument("--worker-dir", default=None, metavar="DIR",
                   help="where a worker other than the chief writes its job and model (default: a temporary "
                        "folder, removed at the end)")


def cluster_from_args(args: argparse.Namespace) -> Cluster | None:
    """The cluster the flags name; without ``--workers``, the one in ``TF_CONFIG`` for ``--distribute
    multi-worker``; else None."""
    if not args.workers:
        return from_tf_config(args.worker_timeout) if args.distribute == "multi-worker" else None
    return Cluster(parse_workers(args.workers), args.worker_index, args.worker_timeout)


def chief_folder(config: TrainConfig, cluster: Cluster) -> Path:
    """The chief's job folder: the one this command made before when it did not finish (resumed from its
    checkpoint), else a new one."""
    from dlcore import jobs
    from dlcore.workspace import read_json

    jid = job_id(config.to_dict(), cluster)
    folder = jobs.jobs_root() / jid
    if not (folder / jobs.CONFIG_FILE).is_file():
        return jobs.create(config, job_id=jid)
    status = read_json(folder / jobs.STATUS_FILE) or {}
    if status.get("state") in ("done", "stopped"):
        raise JobError(f"this multi-worker job ({jid}) already finished with model {status.get('model_id')}; "
                       "change --seed or --name on every machine to train another")
    jobs.update_status(folder, state="created", message="resumed")
    return folder


def run_cluster(config: TrainConfig, cluster: Cluster, args: argparse.Namespace, run_config: RunConfig) -> int:
    """Train as worker ``cluster.index`` of ``cluster`` with ``run_config`` (``train``'s: a job folder run in
    this process, reported like ``train``)."""
    from dlcore import jobs

    if config.distribute not in ("auto", "multi-worker"):
        raise JobError(f"--workers trains with --distribute multi-worker; drop --distribute {config.distribute}")
    config = replace(config, distribute="multi-worker")
    cluster.apply()
    extra = {"worker_index": cluster.index, "chief": cluster.is_chief}
    if cluster.is_chief:
        return run_config(config, args, chief_folder(config, cluster), extra)
    kept = args.worker_dir is not None
    root = Path(args.worker_dir) if kept else Path(tempfile.mkdtemp(prefix=f"dlcore-worker-{cluster.index}-"))
    try:
        return run_config(config, args, jobs.create(config, root), extra)
    finally:
        if not kept:
            shutil.rmtree(root, ignore_errors=True)
