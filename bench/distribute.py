"""Training across workers and devices on this machine, side by side in one run.

1. ``python -m dlcore train`` as one process against two MultiWorkerMirroredStrategy workers on 127.0.0.1
   (same data, model, seed and global batch): wall time of the whole command (start to model saved) and
   the summed epoch times, as ratios 2 workers / 1; the chief's and the worker's final weights
   (max |w_chief - w_worker|) and the losses of the three runs.
2. MirroredStrategy over two logical CPUs (``DLCORE_CPU_DEVICES=2``) against one device, in one fresh process:
   median epoch time ratio (first epoch left out) and max |loss_1dev - loss_2dev| over the epochs.
3. Resume: the worker killed after ``--kill-after`` epochs, the chief fails; the same two commands again
   resume from the chief's last saved epoch and finish; weights identical again.

    python bench/distribute.py [--data digits] [--epochs 6] [--batch-size 64]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MIRRORED = """
import json, sys
from dlcore import jobs
from dlcore.models import ModelSpec, TrainConfig
from dlcore.training import run_job

a = json.loads(sys.argv[1])
out = {}
for kind in ("one", "mirrored"):
    cfg = TrainConfig(data=a["data"], model=ModelSpec(units=(64, 32)), epochs=a["epochs"], batch_size=a["batch"],
                      learning_rate=0.003, distribute=kind)
    folder = jobs.create(cfg)
    status = run_job(folder)
    rows = jobs.read_metrics(folder)
    out[kind] = {"replicas": status.get("replicas"), "loss": [r["loss"] for r in rows],
                 "seconds": [r["seconds"] for r in rows]}
print(json.dumps(out))
"""


def env(home: Path, **extra: str) -> dict[str, str]:
    return dict(os.environ, DLCORE_HOME=str(home), PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", **extra)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def train_args(a: argparse.Namespace, epochs: int) -> list[str]:
    return [sys.executable, "-m", "dlcore", "train", "--data", a.data, "--units", "64,32", "--lr", "0.003",
            "--epochs", str(epochs), "--batch-size", str(a.batch_size), "--seed", "0", "--json"]


def start_pair(a: argparse.Namespace, home: Path, workers: str, epochs: int, worker_dir: Path) -> list:
    return [subprocess.Popen([*train_args(a, epochs), "--workers", workers, "--worker-index", str(i),
                              "--worker-timeout", "30", *(["--worker-dir", str(worker_dir)] if i else [])],
                             cwd=ROOT, env=env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in (0, 1)]


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def epoch_seconds(home: Path, job_id: str) -> list[float]:
    from dlcore.jobs import read_metrics

    return [r["seconds"] for r in read_metrics(home / "jobs" / job_id)]


def weight_gap(home_a: Path, id_a: str, home_b: Path, id_b: str) -> float:
    from dlcore.store import ModelStore

    wa, wb = ModelStore(home_a).load(id_a).get_weights(), ModelStore(home_b).load(id_b).get_weights()
    return max(float(abs(x - y).max()) for x, y in zip(wa, wb))


def workers_against_one(a: argparse.Namespace, tmp: Path) -> dict:
    t0 = time.perf_counter()
    one = subprocess.run(train_args(a, a.epochs), cwd=ROOT, env=env(tmp / "one"), capture_output=True, text=True)
    one_wall = time.perf_counter() - t0
    workers = ",".join(f"127.0.0.1:{p}" for p in free_ports(2))
    t0 = time.perf_counter()
    outs = [p.communicate() for p in start_pair(a, tmp / "two", workers, a.epochs, tmp / "w1")]
    two_wall = time.perf_counter() - t0
    r1, chief, worker = last_json(one.stdout), last_json(outs[0][0]), last_json(outs[1][0])
    s1, s2 = epoch_seconds(tmp / "one", r1["job_id"]), epoch_seconds(tmp / "two", chief["job_id"])
    return {"wall_ratio_2_workers_vs_1": round(two_wall / one_wall, 3), "wall_s_1": round(one_wall, 1),
            "wall_s_2": round(two_wall, 1), "epoch_time_ratio_2_workers_vs_1": round(sum(s2[1:]) / sum(s1[1:]), 3),
            "weights_max_abs_diff_chief_worker": weight_gap(tmp / "two", chief["model_id"], tmp / "w1",
                                                            worker["model_id"]),
            "loss_1_worker": r1["metrics"]["loss"], "loss_chief": chief["metrics"]["loss"],
            "loss_worker": worker["metrics"]["loss"]}


def logical_devices(a: argparse.Namespace, tmp: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", MIRRORED, json.dumps({"data": a.data, "epochs": a.epochs,
                                                                       "batch": a.batch_size})],
                          cwd=ROOT, env=env(tmp / "mirrored", DLCORE_CPU_DEVICES="2"), capture_output=True, text=True)
    out = last_json(done.stdout)
    one, two = out["one"], out["mirrored"]
    return {"replicas": [one["replicas"], two["replicas"]],
            "epoch_time_ratio_2_devices_vs_1": round(statistics.median(two["seconds"][1:])
                                                     / statistics.median(one["seconds"][1:]), 3),
            "loss_max_abs_diff_1dev_2dev": max(abs(x - y) for x, y in zip(one["loss"], two["loss"]))}


def resume(a: argparse.Namespace, tmp: Path) -> dict:
    home, workers = tmp / "resume", ",".join(f"127.0.0.1:{p}" for p in free_ports(2))
    chief, worker = start_pair(a, home, workers, a.epochs, tmp / "rw1")
    rows = lambda: sum(len(f.read_text().splitlines()) for f in (home / "jobs").glob("*/metrics.jsonl"))  # noqa: E731
    while chief.poll() is None and (not (home / "jobs").exists() or rows() < a.kill_after):
        time.sleep(0.1)
    worker.send_signal(signal.SIGKILL)
    killed = time.perf_counter()
    _, err = chief.communicate()
    failed_after = time.perf_counter() - killed
    worker.communicate()
    outs = [p.communicate() for p in start_pair(a, home, workers, a.epochs, tmp / "rw1")]
    c, w = last_json(outs[0][0]), last_json(outs[1][0])
    status = json.loads((home / "jobs" / c["job_id"] / "status.json").read_text())
    return {"chief_failed_s_after_kill": round(failed_after, 1), "chief_error": err.strip()[-300:],
            "resumed_from_epoch": status.get("resumed_from"), "resumed_epochs": c["epochs"],
            "weights_max_abs_diff_after_resume": weight_gap(home, c["model_id"], tmp / "rw1", w["model_id"])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="digits")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--kill-after", type=int, default=2, help="epochs the chief has logged when the worker is killed")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {"data": a.data, "epochs": a.epochs, "batch_size": a.batch_size, "cpus": os.cpu_count(),
                  **workers_against_one(a, Path(tmp)), **logical_devices(a, Path(tmp)), **resume(a, Path(tmp))}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
