"""The digits CNN as the Train page runs it: time from pressing Train to the first finished epoch (worker
start and TensorFlow import included), and validation accuracy after 10 epochs, seed 0.

    python bench/digits_cnn.py [--epochs 10] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dlcore import jobs  # noqa: E402
from dlcore.models import ModelSpec, TrainConfig  # noqa: E402
from dlcore.store import ModelStore  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    config = TrainConfig(data="digits", model=ModelSpec(arch="cnn"), epochs=args.epochs, seed=args.seed)
    with tempfile.TemporaryDirectory() as root:
        pressed = time.time()
        status = jobs.start(config, root)  # what the Train button does
        status = jobs.wait(status.job_id, root, timeout=900, interval=0.1)
        rows = jobs.metrics(status.job_id, root)
        if status.state != "done":
            raise SystemExit(f"job ended {status.state}: {status.message}")
        meta = ModelStore(root).get(status.model_id).meta
        first = rows[0]["time"] - pressed
        per_epoch = sorted(r["seconds"] for r in rows[1:])[len(rows[1:]) // 2]
        print(f"first epoch finished {first:.1f} s after pressing Train; median later epoch {per_epoch:.2f} s")
        print(f"digits cnn, {args.epochs} epochs, seed {args.seed}: val_accuracy {meta.metrics['val_accuracy']:.4f}")


if __name__ == "__main__":
    main()
