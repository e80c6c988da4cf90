"""The job queue against starting every worker at once: 6 tiny jobs (iris, 2 epochs, a 16-unit MLP) run with
``DLCORE_MAX_WORKERS=2`` and with ``DLCORE_MAX_WORKERS=6``; for each, the wall time from the first start until
the last job ends, the most trainers seen alive at once, and the peak total resident memory of the job processes
(trainers and their workers: ``VmRSS`` from ``/proc/<pid>/status``, sampled every 0.1 s), and the most a worker
(the small process that waits on its trainer) took alone.

Run: ``python bench/job_queue.py [N_JOBS]`` from the project root. The last line is one JSON object.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dlcore import jobs  # noqa: E402
from dlcore.models import ModelSpec, TrainConfig  # noqa: E402

CONFIG = TrainConfig(data="iris", model=ModelSpec(units=(16,)), epochs=2, batch_size=16)


def job_processes(home: Path) -> dict[int, tuple[bool, int]]:
    """Live processes of ``home``'s jobs: pid -> (is a trainer, resident KiB)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if str(home).encode() not in cmdline or "\nState:\tZ" in status:
            continue
        rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        found[int(entry.name)] = (b"run-job" in cmdline, rss)
    return found


def run(limit: int, n_jobs: int) -> dict[str, Any]:
    """Start ``n_jobs`` jobs under ``limit`` workers in a fresh workspace and watch them to the end."""
    home = Path(tempfile.mkdtemp(prefix=f"queue-bench-{limit}-"))
    os.environ["DLCORE_MAX_WORKERS"] = str(limit)
    t0 = time.perf_counter()
    ids = [jobs.start(CONFIG, home).job_id for _ in range(n_jobs)]
    peak_kib = peak_trainers = peak_worker_kib = 0
    while any(jobs.poll(i, home).active for i in ids):
        procs = job_processes(home)
        peak_kib = max(peak_kib, sum(rss for _, rss in procs.values()))
        peak_trainers = max(peak_trainers, sum(trainer for trainer, _ in procs.values()))
        peak_worker_kib = max([peak_worker_kib, *(rss for trainer, rss in procs.values() if not trainer)])
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    states = sorted({jobs.poll(i, home).state for i in ids})
    return {"limit": limit, "seconds": round(seconds, 1), "peak_rss_mb": round(peak_kib / 1024),
            "peak_trainers": peak_trainers, "one_worker_rss_mb": round(peak_worker_kib / 1024), "states": states}


def main() -> None:
    n_jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    results = [run(2, n_jobs), run(n_jobs, n_jobs)]
    for r in results:
        print(f"{n_jobs} jobs, at most {r['limit']} at once: {r['seconds']} s, peak {r['peak_rss_mb']} MB "
              f"in {r['peak_trainers']} trainer(s) and their workers (a worker alone: {r['one_worker_rss_mb']} MB), "
              f"states {r['states']}")
    queued, at_once = results
    print(json.dumps({"cores": os.cpu_count(), "jobs": n_jobs, "queued": queued, "all_at_once": at_once,
                      "time_ratio": round(queued["seconds"] / at_once["seconds"], 2),
                      "memory_ratio": round(queued["peak_rss_mb"] / at_once["peak_rss_mb"], 2)}))


if __name__ == "__main__":
    main()
