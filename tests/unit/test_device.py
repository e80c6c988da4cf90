"""Device set-up: never fails without a GPU; distribution strategies and mixed precision degrade cleanly."""
from __future__ import annotations

import keras
import pytest

from dlcore import device, jobs
from dlcore.models import ModelSpec, TrainConfig
from dlcore.training import run_job


def test_probe_without_nvidia_smi_reports_cpu(monkeypatch) -> None:
    monkeypatch.setattr(device.shutil, "which", lambda name: None)
    info = device.probe()
    assert info.kind == "cpu" and "CPU" in info.label


def test_probe_reads_gpu_names_from_nvidia_smi(monkeypatch, tmp_path) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3'\necho 'NVIDIA H100 80GB HBM3'\n")
    fake.chmod(0o755)
    monkeypatch.setattr(device.shutil, "which", lambda name: str(fake))
    info = device.probe()
    assert info.kind == "gpu" and info.names == ("NVIDIA H100 80GB HBM3",) * 2 and "H100" in info.label


def test_mixed_precision_is_not_turned_on_without_a_gpu() -> None:
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this check is about machines without a GPU")
    info = device.configure(mixed_precision=True)
    assert info.kind == "cpu" and info.mixed_precision is False
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.parametrize("kind", ["one", "mirrored"])
def test_training_under_each_local_strategy(home, kind: str) -> None:
    cfg = TrainConfig(data="iris", model=ModelSpec(units=(8,)), epochs=2, distribute=kind, learning_rate=0.01)
    status = run_job(jobs.create(cfg, home))
    assert status["state"] == "done", status
    assert len(jobs.metrics(jobs.list_jobs(home)[0].job_id, home)) == 2
