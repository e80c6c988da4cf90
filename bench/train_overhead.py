"""Epoch time of a job's training code against a plain ``model.fit`` of the same model, data and settings.

Runs both alternately ``--repeats`` times in one process and prints the ratio of median epoch times
(job / plain) on the last line. The job path includes everything a real job does per epoch: the job
folder's metrics and status files, the BackupAndRestore checkpoint, TensorBoard logs, TerminateOnNaN and
the stop-file check. The first epoch of each run (tracing) is left out.

    python bench/train_overhead.py [--data shapes] [--arch cnn] [--epochs 6] [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402

from dlcore import jobs  # noqa: E402
from dlcore.data import load_dataset  # noqa: E402
from dlcore.models import ModelSpec, TrainConfig, build_model, compile_model  # noqa: E402
from dlcore.training import fit  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch (identical in both runs, so it cancels out)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.times.append(time.perf_counter() - self._t0)


def job_run(config: TrainConfig, dataset, root: Path) -> float:
    timer = EpochTimer()
    fit(config, dataset, jobs.create(config, root), extra_callbacks=[timer])
    return statistics.median(timer.times[1:])


def plain_run(config: TrainConfig, dataset) -> float:
    keras.utils.set_random_seed(config.seed)
    model = build_model(config.model, dataset)
    compile_model(model, config, dataset.task)
    timer = EpochTimer()
    model.fit(dataset.x_train, dataset.y_train, validation_data=(dataset.x_val, dataset.y_val),
              epochs=config.epochs, batch_size=config.batch_size, verbose=0, callbacks=[timer])
    return statistics.median(timer.times[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="shapes")
    p.add_argument("--arch", default="cnn")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    config = TrainConfig(data=args.data, model=ModelSpec(arch=args.arch), epochs=args.epochs,
                         batch_size=args.batch_size)
    dataset = load_dataset(args.data)
    job_times, plain_times = [], []
    with tempfile.TemporaryDirectory() as root:
        for i in range(args.repeats):
            job_times.append(job_run(config, dataset, Path(root)))
            plain_times.append(plain_run(config, dataset))
            print(f"repeat {i + 1}: job {job_times[-1] * 1000:.1f} ms/epoch, "
                  f"plain fit {plain_times[-1] * 1000:.1f} ms/epoch")
    ratio = statistics.median(job_times) / statistics.median(plain_times)
    print(f"{args.arch} on {args.data}, {args.epochs} epochs x {args.repeats} repeats, batch {args.batch_size}, "
          f"{keras.config.backend()} on {os.cpu_count()} CPU cores")
    print(f"train_overhead ratio (job / plain fit, median epoch time): {ratio:.3f}")


if __name__ == "__main__":
    main()
