"""Train the pretrained base shipped for fine-tuning, with the project's own training job.

    python assets/make_base.py            # writes assets/base_shapes_cnn.keras and .meta.json

A small CNN (conv 8 and 16 filters, dense 32) trained for 8 epochs on the built-in ``shapes`` data set
(filled circles, squares, triangles and crosses), seed 0, on the CPU. Its natural new data is
``shapes_outline``: the same four shapes drawn as outlines, which the base has never seen.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

NAME = "base_shapes_cnn"
KEPT = ("schema", "name", "arch", "config", "dataset", "task", "modality", "input_shape", "class_names",
        "preprocessing", "metrics", "params", "versions", "created")  # of the stored record's meta.json


def main(out_dir: Path) -> Path:
    """Train the base in a scratch workspace and copy the model and its metadata to ``out_dir``."""
    import keras

    from dlcore import jobs
    from dlcore.models.spec import ModelSpec, TrainConfig
    from dlcore.store import ModelStore
    from dlcore.training import run_job
    from dlcore.workspace import atomic_write_json

    config = TrainConfig(data="shapes", model=ModelSpec(arch="cnn", filters=(8, 16), units=(32,)),
                         epochs=8, batch_size=32, learning_rate=1e-3, seed=0, name="CNN base trained on shapes",
                         distribute="one")
    with tempfile.TemporaryDirectory() as scratch:
        status = run_job(jobs.create(config, scratch))
        if status.get("state") != "done":
            raise SystemExit(f"training the base failed: {status.get('message')}")
        record = ModelStore(scratch).get(status["model_id"])
        target = out_dir / f"{NAME}.keras"
        # Saved again without the optimizer's state, which fine-tuning does not use: a third of the size.
        keras.saving.load_model(record.model_file, compile=False, safe_mode=True).save(target)
        stored = record.meta.to_dict()
        atomic_write_json(out_dir / f"{NAME}.meta.json",
                          {**{k: stored[k] for k in KEPT if k in stored}, "made_by": "python assets/make_base.py"})
    print(f"{target} ({target.stat().st_size / 1024:.0f} KiB): validation accuracy "
          f"{record.meta.metrics.get('val_accuracy', float('nan')):.3f} on shapes")
    return target


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here.parent))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main(here)
