"""Memory of training on a CSV too large to read whole (streamed through tf.data) against the in-memory path.

Writes a table of 10 numbers, 2 categories and a binary target (``--rows``, default 5 million, streamed: the
file is above ``DLCORE_STREAM_MB``) and a smaller one (``--memory-rows``, default 500,000, read whole), then
trains one epoch on each with ``python -m dlcore train --json`` in its own process, side by side in this run,
and reads each process's peak resident memory (``os.wait4``'s ``ru_maxrss``). A third run on 10,000 rows gives
the floor every training process pays (Python, TensorFlow, Keras, pandas). Reported: the file sizes, each
run's peak RSS, seconds and validation accuracy, and the memory each run needs above the floor per MB of file.

Run: ``python bench/stream_csv.py`` from the project root (needs about 0.6 GB of disk for the files and a few
minutes). The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def write_table(path: Path, n: int, seed: int = 0, chunk: int = 250_000) -> float:
    """A table like a real one: numbers with 4 decimals, two categories, a target that depends on both; MB."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=10)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        x = rng.normal(size=(m, 10))
        colour = rng.choice(["red", "green", "blue", "grey", "pink"], size=m)
        city = rng.choice([f"city{i}" for i in range(8)], size=m)
        logit = x @ weights + np.where(colour == "red", 1.5, 0.0) - np.where(city == "city3", 1.5, 0.0)
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(10)])
        frame["colour"], frame["city"] = colour, city
        frame["target"] = (logit + rng.logistic(size=m) * 0.5 > 0).astype(int)
        frame.to_csv(path, mode="w" if start == 0 else "a", header=start == 0, index=False, float_format="%.4f")
    return path.stat().st_size / MB


def train(path: Path, home: Path, batch_size: int) -> dict[str, Any]:
    """One epoch in a fresh process: its peak RSS (MB), wall seconds, validation accuracy and the CLI's result."""
    cmd = [sys.executable, "-m", "dlcore", "train", "--data", str(path), "--target", "target", "--arch", "mlp",
           "--units", "32,16", "--epochs", "1", "--batch-size", str(batch_size), "--lr", "3e-3", "--json"]
    env = {**os.environ, "DLCORE_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    t0 = time.perf_counter()
    with open(home / "stdout.txt", "w") as out, open(home / "stderr.txt", "w") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    lines = (home / "stdout.txt").read_text().strip().splitlines()
    if os.waitstatus_to_exitcode(status) != 0 or not lines:
        raise SystemExit(f"training {path.name} failed: {(home / 'stderr.txt').read_text()[-2000:]}")
    result = json.loads(lines[-1])
    meta = json.loads((Path(result["path"]).parent / "meta.json").read_text())
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "seconds": round(seconds, 1),
            "val_accuracy": round(float(result["metrics"]["val_accuracy"]), 4),
            "streamed": bool(meta["dataset"].get("streamed")), "n_train": int(meta["dataset"]["n_train"])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=5_000_000)
    p.add_argument("--memory-rows", type=int, default=500_000)
    p.add_argument("--batch-size", type=int, default=4096)
    p.add_argument("--folder", default=None, help="where the files go (default: a temporary folder)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        folder = Path(tmp)
        runs: dict[str, dict[str, Any]] = {}
        for label, rows in (("floor", 10_000), ("in_memory", args.memory_rows), ("streamed", args.rows)):
            path = folder / f"{label}.csv"
            file_mb = write_table(path, rows)
            home = folder / f"home_{label}"
            home.mkdir()
            runs[label] = {"rows": rows, "file_mb": round(file_mb, 1), **train(path, home, args.batch_size)}
            path.unlink()
            print(label, runs[label], flush=True)
    floor = runs["floor"]["peak_rss_mb"]
    s, m = runs["streamed"], runs["in_memory"]
    if not s["streamed"] or m["streamed"]:
        raise SystemExit("the large file did not stream, or the smaller one did: check DLCORE_STREAM_MB")
    per_mb = {k: round((r["peak_rss_mb"] - floor) / r["file_mb"], 3) for k, r in (("streamed", s), ("in_memory", m))}
    print(json.dumps({
        "rows": s["rows"], "file_mb": s["file_mb"], "peak_rss_mb": s["peak_rss_mb"], "seconds": s["seconds"],
        "val_accuracy": s["val_accuracy"], "peak_rss_over_file": round(s["peak_rss_mb"] / s["file_mb"], 3),
        "floor_rss_mb": floor, "in_memory": m, "rss_above_floor_per_file_mb": per_mb,
        "in_memory_over_streamed_per_mb": round(per_mb["in_memory"] / max(per_mb["streamed"], 1e-3), 1),
    }))


if __name__ == "__main__":
    main()
