"""Training over several devices and processes, for real: MirroredStrategy over two logical CPUs, and
MultiWorkerMirroredStrategy with two worker processes on 127.0.0.1, one of them killed in the last test.

Logical devices and TF_CONFIG must be set before TensorFlow starts, so every run is a fresh process.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dlcore.__main__ import build_parser
from dlcore.commands.cluster import chief_folder, cluster_from_args
from dlcore.commands.train import config_from_args
from dlcore.distributed import Cluster
from dlcore.errors import JobError

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--data", "iris", "--units", "8", "--lr", "0.01", "--batch-size", "32", "--train-limit", "32", "--json"]

MIRRORED = """
import json, sys
from dlcore import jobs
from dlcore.models import ModelSpec, TrainConfig
from dlcore.training import run_job

out = {}
for name, kind, batch in (("one", "one", 16), ("two", "mirrored", 16), ("one_b32", "one", 32)):
    cfg = TrainConfig(data="iris", model=ModelSpec(units=(8,)), epochs=2, batch_size=batch, learning_rate=0.01,
                      train_limit=48, distribute=kind)
    folder = jobs.create(cfg)
    status = run_job(folder)
    out[name] = {"state": status["state"], "replicas": status.get("replicas"),
                 "loss": [r["loss"] for r in jobs.read_metrics(folder)]}
print(json.dumps(out))
"""


def _env(home: Path, **extra: str) -> dict[str, str]:
    return dict(os.environ, DLCORE_HOME=str(home), PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3",
                TMPDIR=str(home.parent), **extra)  # a killed worker's temporary folder stays in the test's own


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _workers(home: Path, epochs: int, timeout: float,
             worker_dir: Path | None) -> tuple[str, list[subprocess.Popen[str]]]:
    workers = ",".join(f"127.0.0.1:{p}" for p in _free_ports(2))
    procs = []
    for index in (0, 1):
        args = [sys.executable, "-m", "dlcore", "train", *TINY, "--epochs", str(epochs), "--workers", workers,
                "--worker-index", str(index), "--worker-timeout", str(timeout)]
        if index and worker_dir is not None:
            args += ["--worker-dir", str(worker_dir)]
        procs.append(subprocess.Popen(args, cwd=ROOT, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    return workers, procs


def _weights(home: Path, model_id: str) -> list[np.ndarray]:
    from dlcore.store import ModelStore

    return ModelStore(home).load(model_id).get_weights()


def test_cluster_flags_are_checked_before_anything_starts() -> None:
    assert Cluster(("10.0.0.1:2222", "10.0.0.2:2222"), 1).tf_config() == {
        "cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, "task": {"type": "worker", "index": 1}}
    with pytest.raises(JobError, match="--worker-index must be 0 to 1"):
        Cluster(("10.0.0.1:2222", "10.0.0.2:2222"), 2)
    with pytest.raises(JobError, match="host:port"):
        Cluster(("10.0.0.1",), 0)
    with pytest.raises(JobError, match="same host:port twice"):
        Cluster(("h:1", "h:1"), 0)


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus_matches_one_device(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", MIRRORED], cwd=ROOT, env=_env(tmp_path, DLCORE_CPU_DEVICES="2"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert [out[k]["state"] for k in out] == ["done"] * 3
    assert (out["one"]["replicas"], out["two"]["replicas"]) == (1, 2)
    one, two, other = (np.array(out[k]["loss"]) for k in ("one", "two", "one_b32"))
    assert np.all(np.isfinite(two)) and len(two) == 2
    assert np.abs(one - two).max() < 1e-4  # each replica took half of each global batch of 16
    assert np.abs(one - other).max() > 1e-3  # the tolerance tells batches apart: 32 rows a step is another run


@pytest.mark.slow
def test_two_workers_train_one_model_and_only_the_chief_writes(tmp_path: Path, monkeypatch) -> None:
    home, kept = tmp_path / "home", tmp_path / "worker1"
    workers, procs = _workers(home, epochs=2, timeout=60, worker_dir=kept)
    outs = [p.communicate(timeout=150) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-1500:] for o in outs]
    chief, worker = (json.loads(o[0].strip().splitlines()[-1]) for o in outs)
    assert (chief["chief"], worker["chief"]) == (True, False)
    assert chief["metrics"]["loss"] == pytest.approx(worker["metrics"]["loss"], rel=1e-6)
    assert sorted(p.name for p in (home / "models").iterdir()) == [chief["model_id"]]
    assert [p.name for p in (home / "jobs").iterdir()] == [chief["job_id"]]
    status = json.loads((home / "jobs" / chief["job_id"] / "status.json").read_text())
    assert status["state"] == "done" and status["replicas"] == 2
    assert Path(worker["path"]).is_relative_to(kept) and Path(chief["path"]).is_relative_to(home)
    a, b = _weights(home, chief["model_id"]), _weights(kept, worker["model_id"])
    assert len(a) == len(b) and max(float(np.abs(x - y).max()) for x, y in zip(a, b)) == 0.0
    # the chief's command again finds its job by the command's id: finished, so it is not trained twice
    monkeypatch.setenv("DLCORE_HOME", str(home))
    args = build_parser().parse_args(["train", *TINY, "--epochs", "2", "--workers", workers, "--worker-timeout", "60"])
    with pytest.raises(JobError, match=f"already finished with model {chief['model_id']}"):
        chief_folder(replace(config_from_args(args), distribute="multi-worker"), cluster_from_args(args))


@pytest.mark.slow
def test_a_killed_worker_fails_the_chief_with_a_message_instead_of_hanging(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _, (chief, worker) = _workers(home, epochs=200, timeout=10, worker_dir=None)
    jobs = home / "jobs"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not _epochs_done(jobs, 1):
        assert chief.poll() is None, chief.communicate()[1][-1500:]
        time.sleep(0.2)
    assert _epochs_done(jobs, 1), "the two workers never finished an epoch"
    worker.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    _, err = chief.communicate(timeout=60)
    waited = time.monotonic() - killed
    worker.communicate()
    assert chief.returncode == 2, err[-1500:]
    assert "a worker died or stopped answering" in err and "resume" in err and len(err.strip().splitlines()) == 1
    status = json.loads(next(jobs.iterdir()).joinpath("status.json").read_text())
    assert status["state"] == "failed" and "start the same command on every machine" in status["message"]
    assert waited < 60  # bounded: the collective timeout (10 s) or the peer health check ended it
    assert not (home / "models").exists() or not any((home / "models").iterdir())


def _epochs_done(jobs: Path, n: int) -> bool:
    rows = [line for f in jobs.glob("*/metrics.jsonl") for line in f.read_text().splitlines() if line.strip()]
    return len(rows) >= n


WATCHED = """
import sys, time
from pathlib import Path
from dlcore.distributed import watchdog
from dlcore.workspace import atomic_write_json

folder = Path(sys.argv[1])
atomic_write_json(folder / "status.json", {"state": "running"})
with watchdog(float(sys.argv[2]), "the peers did not join", folder):
    time.sleep(float(sys.argv[3]))
print("finished")
"""


@pytest.mark.slow
@pytest.mark.parametrize(("limit", "work", "killed"), [(1.0, 60.0, True), (30.0, 0.1, False)])
def test_the_watchdog_ends_a_blocked_worker_and_fails_its_job(tmp_path: Path, limit: float, work: float,
                                                               killed: bool) -> None:
    done = subprocess.run([sys.executable, "-c", WATCHED, str(tmp_path), str(limit), str(work)], cwd=ROOT,
                          env=_env(tmp_path / "home"), capture_output=True, text=True, timeout=30)
    status = json.loads((tmp_path / "status.json").read_text())
    if killed:
        assert done.returncode == -signal.SIGKILL and "finished" not in done.stdout
        assert done.stderr.strip() == "error: the peers did not join"
        assert status == {**status, "state": "failed", "message": "the peers did not join"}
    else:
        assert done.returncode == 0 and "finished" in done.stdout and status["state"] == "running"
