"""Helpers for the generative tests: tiny generative jobs run in-process in a given workspace."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dlcore.models.spec import ModelSpec, TrainConfig


def write_image_zip(path: Path, data: str = "digits", classes: tuple[int, ...] = (0, 1), per_class: int = 40) -> Path:
    """A ZIP of PNGs of a built-in image data set's training images, one folder per class named after it,
    as a user would upload images."""
    import io
    import zipfile

    import numpy as np
    from PIL import Image

    from dlcore.data import load_builtin

    ds = load_builtin(data)
    with zipfile.ZipFile(path, "w") as zf:
        for k in classes:
            for i, image in enumerate(ds.x_train[ds.y_train == k][:per_class]):
                buffer = io.BytesIO()
                Image.fromarray((image[..., 0] * 255).astype(np.uint8)).save(buffer, "PNG")
                zf.writestr(f"{ds.class_names[k]}/{i}.png", buffer.getvalue())
    return path


def run_generative_job(home: Path, arch: str, epochs: int = 2, data: str = "digits", **spec: Any) -> dict[str, Any]:
    """Train a small VAE or GAN (default: on digits) through the job mechanism; the reference classifier it
    is judged by (trained the first time) gets 2 epochs instead of 40, as only the plumbing is under test."""
    from dlcore import jobs
    from dlcore.generative import reference
    from dlcore.training import run_job

    layers = {"vae": {"filters": (8, 16), "units": (32,)}, "gan": {"filters": (8, 16), "units": ()}}[arch]
    config = TrainConfig(data=data, model=ModelSpec(arch=arch, **{**layers, **spec}), epochs=epochs,
                         batch_size=64, learning_rate=2e-3, name=f"tiny {arch}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reference, "EPOCHS", 2)
        mp.setenv("DLCORE_HOME", str(home))
        status = run_job(jobs.create(config, home))
    assert status["state"] == "done", status
    return status
