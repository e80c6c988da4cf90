"""The command line contract: JSON on the last line, one-line errors, the same job folders and store."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def dlcore(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DLCORE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "dlcore", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_datasets_lists_the_builtins(home) -> None:
    out = dlcore(home, "datasets", "--json")
    assert out.returncode == 0
    names = [d["name"] for d in last_json(out.stdout)["datasets"]]
    assert {"digits", "shapes", "iris", "wine", "breast_cancer", "diabetes"} <= set(names)
    table = dlcore(home, "datasets")
    assert "digits" in table.stdout and "regression" in table.stdout


def test_train_json_contract_and_models_listing(home) -> None:
    out = dlcore(home, "train", "--data", "iris", "--arch", "mlp", "--epochs", "3", "--lr", "0.01", "--json")
    assert out.returncode == 0, out.stderr
    result = last_json(out.stdout)
    assert set(result) >= {"model_id", "path", "metrics", "epochs", "seconds"}
    assert result["epochs"] == 3 and Path(result["path"]).is_file()
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(result["metrics"])
    job = home / "jobs" / result["job_id"]
    assert (job / "config.json").is_file() and len((job / "metrics.jsonl").read_text().splitlines()) == 3
    assert out.stderr.strip() == ""  # --json: no progress bar, no TensorFlow chatter
    listed = last_json(dlcore(home, "models", "--json").stdout)["models"]
    assert [m["model_id"] for m in listed] == [result["model_id"]]


@pytest.mark.parametrize("args,expected", [
    (("train", "--data", "nope"), "unknown data set 'nope'"),
    (("train", "--data", "iris", "--arch", "cnn", "--epochs", "1"), "choose mlp"),
    (("train", "--data", "iris", "--lr", "-1"), "learning rate must be > 0"),
])
def test_errors_are_one_line_on_stderr_with_exit_2(home, args: tuple[str, ...], expected: str) -> None:
    out = dlcore(home, *args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], out.stderr
    assert "Traceback" not in out.stderr + out.stdout
