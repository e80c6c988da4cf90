"""Helpers for the text-model tests: a small CSV of reviews whose verdict two words decide, and a text model
trained on it through the job runner."""
from __future__ import annotations

from pathlib import Path

import numpy as np

GOOD, BAD = "good great lovely superb fine".split(), "bad awful dull poor boring".split()
FILLER = "the film was and it a very plot acting quite".split()


def write_reviews(path: Path, n: int = 160, seed: int = 0) -> Path:
    """``n`` reviews of six filler words and two verdict words (``up`` for good, ``down`` for bad)."""
    rng = np.random.default_rng(seed)
    lines = ["review,verdict"]
    for i in range(n):
        words = [*rng.choice(FILLER, 6), *rng.choice(GOOD if i % 2 else BAD, 2)]
        rng.shuffle(words)
        lines.append(f"{' '.join(words)},{'up' if i % 2 else 'down'}")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def train_text_model(home: Path, data: str, epochs: int = 8) -> str:
    """A text model trained on ``data`` (a stored upload's name or a CSV path) in ``home``; its model id."""
    from dlcore import jobs
    from dlcore.models import ModelSpec, TrainConfig
    from dlcore.training import run_job

    config = TrainConfig(data=data, model=ModelSpec(arch="text", units=(16,)), epochs=epochs, learning_rate=3e-3,
                         seed=0, name="reviews text model")
    status = run_job(jobs.create(config, home))
    assert status["state"] == "done", status.get("message")
    return str(status["model_id"])
