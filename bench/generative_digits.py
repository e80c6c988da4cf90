"""Proof for the generative models on digits, and their training cost against a plain Keras ``fit``.

Trains a VAE (30 epochs) and an unconditional GAN (60 epochs by default) through the job mechanism,
exactly as ``python -m dlcore train --data digits --arch vae|gan`` does, and checks the quality report
each is stored with against the targets: the project's own digits classifier labels the samples with
mean confidence >= 0.8 (VAE) / 0.9 (GAN), all 10 classes appear, class entropy >= 0.9 ln 10, and the
memorisation check passes. Then times a few epochs of the job's ``fit`` (with its callbacks: progress
files, backups, TensorBoard, the sample grid) against a plain ``model.fit`` of the same model, side by
side and interleaved, and prints the ratio.

    python bench/generative_digits.py [--vae-epochs 30] [--gan-epochs 60] [--seed 0]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from dlcore.models.spec import ModelSpec, TrainConfig  # noqa: E402

TARGETS = {"vae": 0.8, "gan": 0.9}  # mean confidence of the reference classifier on samples


def configs(args: argparse.Namespace) -> dict[str, TrainConfig]:
    """The two jobs, with the command line's defaults for these architectures."""
    vae = ModelSpec(arch="vae", filters=(32, 64), units=(128,), latent_dim=8, beta=0.5)
    gan = ModelSpec(arch="gan", filters=(32, 64), units=(), latent_dim=32, label_smoothing=0.1)
    return {"vae": TrainConfig(data="digits", model=vae, epochs=args.vae_epochs, learning_rate=1e-3, seed=args.seed),
            "gan": TrainConfig(data="digits", model=gan, epochs=args.gan_epochs, learning_rate=1e-3, seed=args.seed)}


def check(arch: str, report: dict) -> list[tuple[str, bool]]:
    memo = report["memorisation"]
    return [(f"mean confidence {report['mean_confidence']:.3f} >= {TARGETS[arch]}",
             report["mean_confidence"] >= TARGETS[arch]),
            (f"classes present {report['classes_present']}/10", report["classes_present"] == 10),
            (f"class entropy {report['class_entropy']:.3f} >= 0.9 ln 10 = {0.9 * math.log(10):.3f}",
             report["class_entropy"] >= 0.9 * math.log(10)),
            (f"memorisation: {memo['copy_fraction']:.1%} copies (max {memo['max_copy_fraction']:.0%}), median "
             f"nearest-training distance {memo['near_ratio']:.2f}x training-to-training (max {memo['max_near_ratio']})",
             memo["passed"])]


def prove(arch: str, config: TrainConfig, home: Path) -> bool:
    from dlcore import jobs
    from dlcore.store import ModelStore
    from dlcore.training import run_job

    t0 = time.perf_counter()
    status = run_job(jobs.create(config, home))
    if status.get("state") != "done":
        print(f"{arch}: job {status.get('state')}: {status.get('message')}")
        return False
    report = ModelStore(home).get(status["model_id"]).meta.evaluation
    print(f"\n{arch.upper()}: {config.epochs} epochs, job {time.perf_counter() - t0:.0f} s in all (with evaluation); "
          f"{report['n_samples']} samples judged by {report['classifier_id']} "
          f"(validation accuracy {report['classifier_accuracy']:.3f}, {report['real_confidence']:.3f} mean confidence "
          "on real images)")
    print(f"  Frechet distance {report['frechet_distance']:.2f} (held-out real images: {report['frechet_floor']:.2f}), "
          f"kernel distance {report['kernel_distance']:.3f} (real: {report['kernel_floor']:.3f})")
    print(f"  predicted classes of the samples: {report['class_counts']}")
    results = check(arch, report)
    for text, ok in results:
        print(f"  [{'PASS' if ok else 'FAIL'}] {text}")
    return all(ok for _, ok in results)


def time_ratio(arch: str, config: TrainConfig, epochs: int, home: Path) -> float:
    """Seconds per epoch of the job's fit over building the same model and a plain ``model.fit`` of it,
    interleaved twice: what the job adds is its callbacks (progress files, backups, TensorBoard, sample grid)."""
    import dataclasses

    import keras

    from dlcore import jobs
    from dlcore.data import load_dataset
    from dlcore.training import fit, make_model

    config = dataclasses.replace(config, epochs=epochs)
    ds = load_dataset("digits", seed=config.seed)
    job, plain = [], []
    for _ in range(2):  # both sides build the model inside the timing, as the job's fit does
        keras.utils.set_random_seed(config.seed)
        t0 = time.perf_counter()
        model = make_model(config, ds)
        model.fit(ds.x_train, ds.y_train, validation_data=(ds.x_val, ds.y_val), epochs=epochs,
                  batch_size=config.batch_size, verbose=0)
        plain.append((time.perf_counter() - t0) / epochs)
        t0 = time.perf_counter()
        fit(config, ds, jobs.create(config, home))
        job.append((time.perf_counter() - t0) / epochs)
    ratio = min(job) / min(plain)
    print(f"{arch.upper()}: job fit / plain keras fit, seconds per epoch over {epochs} epochs (best of 2): "
          f"{ratio:.2f}x ({min(job):.2f} s against {min(plain):.2f} s on this CPU)")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vae-epochs", type=int, default=30)
    parser.add_argument("--gan-epochs", type=int, default=60)
    parser.add_argument("--timing-epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from dlcore.cli import quiet_import_tensorflow

    quiet_import_tensorflow()
    home = Path(tempfile.mkdtemp(prefix="dlcore-bench-"))
    os.environ["DLCORE_HOME"] = str(home)  # the reference classifier is stored here too
    jobs_config = configs(args)
    passed = [prove(arch, config, home) for arch, config in jobs_config.items()]
    print()
    for arch, config in jobs_config.items():
        time_ratio(arch, config, args.timing_epochs, home)
    print(f"\n{'ALL TARGETS MET' if all(passed) else 'SOME TARGETS MISSED'} (workspace: {home})")
    return 0 if all(passed) else 1


if __name__ == "__main__":
    sys.exit(main())
