"""Helpers for the generative tests: tiny generative jobs run in-process in a given workspace."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dlcore.models.spec import ModelSpec, TrainConfig


def run_generative_job(home: Path, arch: str, epochs: int = 2, **spec: Any) -> dict[str, Any]:
    """Train a small VAE or GAN on digits through the job mechanism; the reference classifier it is judged
    by (trained the first time) gets 2 epochs instead of 40, as only the plumbing is under test here."""
    from dlcore import jobs
    from dlcore.generative import reference
    from dlcore.training import run_job

    layers = {"vae": {"filters": (8, 16), "units": (32,)}, "gan": {"filters": (8, 16), "units": ()}}[arch]
    config = TrainConfig(data="digits", model=ModelSpec(arch=arch, **{**layers, **spec}), epochs=epochs,
                         batch_size=64, learning_rate=2e-3, name=f"tiny {arch}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reference, "EPOCHS", 2)
        mp.setenv("DLCORE_HOME", str(home))
        status = run_job(jobs.create(config, home))
    assert status["state"] == "done", status
    return status
