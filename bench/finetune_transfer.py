"""Does transfer learning help? Fine-tune the shipped base against two baselines, on the same new data.

    python bench/finetune_transfer.py [--seeds 3] [--limit 100] [--epochs 10]

For each seed, on ``shapes_outline`` (outlines of the four shapes the base saw filled), with the same
``--limit`` training rows, the same epochs and batch size, scored on the same validation split (400 images):

- before: the shipped base (``assets/base_shapes_cnn.keras``) as it is, no training on the new data;
- after:  the base fine-tuned (first conv block frozen) on the small subset;
- scratch: the same architecture (cnn, filters 8,16, dense 32) trained from random weights on that subset.

Everything runs through the same training jobs as the app (``dlcore.training.run_job``).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from statistics import mean
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "assets" / "base_shapes_cnn.keras"
DATA = "shapes_outline"


def transfer(seed: int, limit: int, epochs: int, root: str, freeze: int = 4) -> dict[str, float]:
    """The three validation accuracies for one seed (fine-tune and scratch jobs run in ``root``)."""
    from dlcore import jobs
    from dlcore.finetune import finetune_config, shipped_bases
    from dlcore.models.spec import TrainConfig
    from dlcore.store import ModelStore
    from dlcore.training import run_job

    meta = next(b.meta for b in shipped_bases() if Path(b.path).resolve() == BASE.resolve())
    common: dict[str, Any] = {"epochs": epochs, "batch_size": 16, "seed": seed, "train_limit": limit,
                              "distribute": "one"}
    tuned = finetune_config(str(BASE), DATA, base_meta=meta, freeze=freeze, **common)
    assert meta.config is not None, "the shipped base records the config it was trained with"
    scratch = TrainConfig(data=DATA, model=meta.config.model, **common)
    out = {}
    for label, config in (("tuned", tuned), ("scratch", scratch)):
        status = run_job(jobs.create(config, root))
        if status.get("state") != "done":
            raise RuntimeError(f"{label} job failed: {status.get('message')}")
        out[label] = ModelStore(root).get(status["model_id"]).meta.evaluation
    return {"before": out["tuned"]["before"]["accuracy"], "after": out["tuned"]["accuracy"],
            "scratch": out["scratch"]["accuracy"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for seed in range(args.seeds):
            rows.append(transfer(seed, args.limit, args.epochs, root))
            r = rows[-1]
            print(f"seed {seed}: before {r['before']:.3f}  after {r['after']:.3f}  scratch {r['scratch']:.3f}")
    m = {k: mean(r[k] for r in rows) for k in ("before", "after", "scratch")}
    print(f"mean of {args.seeds} seed(s), {args.limit} training rows, {args.epochs} epochs: validation accuracy "
          f"before {m['before']:.3f}, fine-tuned {m['after']:.3f}, from scratch {m['scratch']:.3f} "
          f"(fine-tuned / scratch = {m['after'] / m['scratch']:.2f}x)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices between jobs
    main()
