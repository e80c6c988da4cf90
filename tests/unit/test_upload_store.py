"""Kept uploads (save, list after a restart, load by name, delete), the data resolver, and ``dlcore validate``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlcore.__main__ import main
from dlcore.data import load_dataset
from dlcore.data.stored import DatasetStore
from dlcore.data.upload import Choices
from dlcore.errors import DataError

ROOT = Path(__file__).resolve().parents[2]


def table(n: int = 40) -> bytes:
    lines = ["colour,size,weight,kind"] + [
        f"{'red' if i % 3 else 'blue'},{i % 9},{i * 1.5},{'big' if i % 2 else 'small'}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def test_save_list_load_and_delete(home: Path) -> None:
    store = DatasetStore(home)
    saved = store.save("shop", table(), "shop.csv", Choices(target="kind", exclude=("weight",)))
    assert (home / "datasets" / "shop" / "original.csv").read_bytes() == table()
    meta = json.loads((home / "datasets" / "shop" / "dataset.json").read_text())
    assert meta["choices"]["target"] == "kind" and meta["choices"]["exclude"] == ["weight"]
    assert meta["summary"]["rows"] == 40 and meta["summary"]["classes"] == {"big": 20, "small": 20}
    assert saved.name == "shop"
    again = DatasetStore(home)  # a restart: a new store over the same folder
    assert again.names() == ["shop"]
    listed = again.get("shop")  # the typed view of dataset.json the pages and `datasets` read
    assert (listed.filename, listed.summary.rows, listed.summary.target) == ("shop.csv", 40, "kind")
    assert (listed.summary.task, listed.summary.kind, listed.summary.modality) == ("classification", "table", "tabular")
    assert listed.created == meta["created"]
    ds = load_dataset("shop", seed=2)
    assert ds.name == "shop" and ds.class_names == ("big", "small")
    assert ds.feature_names == ("colour=blue", "colour=red", "size")  # the stored choice left weight out
    other = load_dataset("shop", target="colour")
    assert other.class_names == ("blue", "red")
    again.delete("shop")
    assert again.names() == [] and not (home / "datasets" / "shop").exists()
    with pytest.raises(DataError, match="unknown data set 'shop'"):
        load_dataset("shop")


def test_bad_names_and_bad_files_are_not_kept(home: Path) -> None:
    store = DatasetStore(home)
    bad = [("../x", "invalid data set name"), ("", "invalid data set name"), ("iris", "built-in data set")]
    for name, match in bad:
        with pytest.raises(DataError, match=match):
            store.save(name, table(), "t.csv")
    with pytest.raises(DataError, match="no column 'nope'"):
        store.save("ok", table(), "t.csv", Choices(target="nope"))
    assert store.names() == [] and not (home / "datasets" / "ok").exists()
    store.save("ok", table(), "t.csv", Choices(target="kind"))
    with pytest.raises(DataError, match="a data set named 'ok' exists"):
        store.save("ok", table(), "t.csv")
    (home / "datasets" / "half").mkdir()  # a save that died before its description: not listed
    (home / "datasets" / "half" / "original.csv").write_bytes(table())
    assert store.names() == ["ok"]


def test_load_dataset_takes_a_file_path(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "shop.csv"
    path.write_bytes(table())
    ds = load_dataset(str(path), target="kind", validation_split=0.25)
    assert ds.name == "shop" and ds.n_val == 10 and ds.task == "classification"
    with pytest.raises(DataError, match="or the path of a CSV, ZIP or NPZ file"):
        load_dataset(str(tmp_path / "missing.csv"))


def test_validate_command_prints_what_was_understood(tmp_path: Path, home: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "shop.csv"
    path.write_bytes(table())
    assert main(["validate", str(path), "--target", "kind"]) == 0
    out = capsys.readouterr().out
    assert "target: kind (classification): big 20, small 20" in out
    assert "colour  categorical  0        one-hot (2 categories)" in out
    assert main(["validate", str(path), "--target", "weight", "--json", "--save", "shop"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["task"] == "regression" and result["rows"] == 40 and result["saved"] == "shop"
    assert DatasetStore(home).get("shop").choices.target == "weight"


def test_validate_command_fails_with_one_line_and_exit_code_2(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_bytes(b"a,b,label\n1,2,x\n3,4,y,5\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "dlcore", "validate", str(path)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "error: line 3 has 4 fields where the header has 3 (delimiter ','); quote values that contain the "
        "delimiter, or fix that line"]


def test_datasets_command_lists_uploads(home: Path, capsys: pytest.CaptureFixture) -> None:
    DatasetStore(home).save("shop", table(), "shop.csv", Choices(target="kind"))
    assert main(["datasets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["datasets"]
    assert rows[-1]["name"] == "shop" and "40 rows, target 'kind'" in rows[-1]["description"]
    assert np.isin(["digits", "iris"], [r["name"] for r in rows]).all()
