"""Uploads train through the real job path: the shared real tables beat their baselines, texts train a text model."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from dlcore.models import ModelSpec, TrainConfig
from dlcore.record import ModelMeta
from tests.text_support import write_reviews

ROOT = Path(__file__).resolve().parents[2]


def shared_datasets() -> Path | None:
    """``$DLCORE_SHARED_DATASETS``, else a ``shared/datasets`` folder next to the project or one level up."""
    candidates = [os.environ.get("DLCORE_SHARED_DATASETS", ""), ROOT.parent / "shared" / "datasets",
                  ROOT.parent.parent / "shared" / "datasets"]
    return next((Path(c) for c in candidates if c and (Path(c) / "titanic.csv").is_file()), None)


def train(home: Path, data: str, target: str | None, arch: str = "mlp", epochs: int = 20, batch_size: int = 32,
          learning_rate: float = 3e-3) -> ModelMeta:
    from dlcore import jobs
    from dlcore.store import ModelStore
    from dlcore.training import run_job

    config = TrainConfig(data=data, target=target, model=ModelSpec(arch=arch, units=(32, 16)), epochs=epochs,
                         batch_size=batch_size, learning_rate=learning_rate, seed=0)
    status = run_job(jobs.create(config, home))
    assert status["state"] == "done", status.get("message")
    return ModelStore(home).get(status["model_id"]).meta


# (file, target, epochs, batch size): the targets reported in the README
SHARED = [("titanic.csv", "survived", 8, 32), ("penguins.csv", "species", 8, 16), ("tips.csv", "tip", 15, 16),
          ("mpg.csv", "mpg", 15, 16), ("diamonds.csv", "price", 2, 256)]


@pytest.mark.slow
@pytest.mark.parametrize("file,target,epochs,batch_size", SHARED, ids=[s[0] for s in SHARED])
def test_shared_tables_train_better_than_the_baseline(home: Path, file: str, target: str, epochs: int,
                                                      batch_size: int) -> None:
    folder = shared_datasets()
    if folder is None:
        pytest.skip("the shared real tables (shared/datasets/*.csv) are not on this machine; "
                    "set DLCORE_SHARED_DATASETS to their folder to run this check")
    meta = train(home, str(folder / file), target, epochs=epochs, batch_size=batch_size, learning_rate=1e-2)
    ev = meta.evaluation
    if ev["kind"] == "classification":
        support = np.asarray(ev["support"])
        majority = support.max() / support.sum()  # always answering the most common class
        assert ev["accuracy"] > majority + 0.05, (ev["accuracy"], majority)
    else:
        assert ev["mae"] < 0.9 * ev["baseline_mae"], (ev["mae"], ev["baseline_mae"])  # vs always the mean


def test_text_csv_trains_a_text_model_that_reloads_safely(home: Path, tmp_path: Path) -> None:
    from dlcore.data import load_dataset
    from dlcore.store import ModelStore

    path = write_reviews(tmp_path / "reviews.csv")
    ds = load_dataset(str(path))
    assert (ds.modality, ds.class_names, ds.input_shape) == ("text", ("down", "up"), ())
    meta = train(home, str(path), None, arch="text", epochs=8)
    assert meta.evaluation["accuracy"] >= 0.9 and meta.preprocessing == {"kind": "text", "params": {"column": "review"}}
    model = ModelStore(home).load(meta.model_id)
    proba = model.predict(np.array(["a good lovely film", "a dull boring plot"], dtype=object), verbose=0)
    assert proba[0, 1] > 0.5 > proba[1, 1]


def test_train_command_takes_a_file_and_a_target(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import json

    from dlcore.__main__ import main

    lines = ["size,colour,weight"] + [f"{i % 10},{'red' if i % 2 else 'blue'},{(i % 10) * 2.5 + (i % 2)}"
                                      for i in range(60)]
    (tmp_path / "parcels.csv").write_text("\n".join(lines), encoding="utf-8")
    code = main(["train", "--data", str(tmp_path / "parcels.csv"), "--target", "weight", "--epochs", "1", "--json"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and result["epochs"] == 1 and {"mae", "val_mae"} <= set(result["metrics"])
    meta = json.loads((home / "models" / result["model_id"] / "meta.json").read_text())
    assert meta["config"]["data"] == str(tmp_path / "parcels.csv") and meta["config"]["target"] == "weight"
    assert meta["feature_names"] == ["size", "colour=blue", "colour=red"] and meta["task"] == "regression"
