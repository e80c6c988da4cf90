"""``python -m dlcore explain``: one JSON object on the last line, people's table otherwise, one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dlcore.__main__ import main


@pytest.fixture(scope="session")
def cli_home(session_home: Path) -> Path:
    """A workspace of these tests' own inside the session's (other tests count the models in theirs)."""
    return session_home / "explain_cli"


@pytest.fixture(scope="session")
def stored(cli_home: Path) -> dict[str, str]:
    """An iris MLP and a digits CNN trained through the job runner into the store."""
    from dlcore import jobs
    from dlcore.models import ModelSpec, TrainConfig
    from dlcore.training import run_job

    ids = {}
    for data, spec in (("iris", ModelSpec(units=(8,))), ("digits", ModelSpec(arch="cnn", filters=(4,), units=(8,)))):
        status = run_job(jobs.create(TrainConfig(data=data, model=spec, epochs=2), cli_home))
        assert status["state"] == "done"
        ids[data] = status["model_id"]
    return ids


@pytest.fixture()
def in_home(cli_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DLCORE_HOME", str(cli_home))
    return cli_home


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_shap_json_for_a_table_row(stored, in_home, capsys) -> None:
    out = _json(capsys, ["explain", "--model", stored["iris"], "--method", "shap", "--index", "3", "--json"])
    assert out["algorithm"] == "exact" and out["index"] == 3 and out["seed"] == 0
    assert len(out["values"]) == 4 and out["class"] in out["class_names"]
    assert abs(out["additivity_gap"]) < 1e-6
    assert out["base_value"] + sum(out["values"]) == pytest.approx(out["prediction"], abs=1e-6)
    assert out["class_index"] == int(np.argmax(out["probabilities"]))
    assert out["trust"]["background_size"] == out["background_size"] > 0
    strongest = out["feature_names"][int(np.argmax(np.abs(out["values"])))]
    assert [f["feature"] for f in out["top_features"]][:1] == [strongest]


def test_lime_json_for_an_image_and_the_seed_matters(stored, in_home, capsys) -> None:
    argv = ["explain", "--model", stored["digits"], "--method", "lime", "--index", "5", "--json"]
    first, again = _json(capsys, argv), _json(capsys, argv)
    other = _json(capsys, [*argv, "--seed", "9", "--stability"])
    assert first["algorithm"] == "lime-image" and np.asarray(first["values"]).shape == (8, 8, 1)
    assert first["values"] == again["values"] and first["values"] != other["values"]
    assert 0 <= first["local_fit_r2"] <= 1 and first["trust"]["local_fit"] == pytest.approx(first["local_fit_r2"])
    assert first["trust"]["stability"] is None
    assert other["trust"]["stability_seeds"] == [9, 10, 11] and 0 < other["trust"]["stability"] < 1


def test_gradient_methods_from_the_command_line(stored, in_home, capsys) -> None:
    base = ["explain", "--model", stored["digits"], "--index", "2", "--json"]
    ig = _json(capsys, [*base, "--method", "ig", "--steps", "32", "--baseline", "blur"])
    assert ig["method"] == "ig" and ig["algorithm"] == "ig-32-blur" and np.asarray(ig["values"]).shape == (8, 8, 1)
    assert abs(ig["additivity_gap"]) < 0.05  # completeness: values add up to f(x) - f(baseline)
    cam = _json(capsys, [*base, "--method", "gradcam"])
    assert cam["method"] == "gradcam" and min(np.ravel(cam["values"])) >= 0 and "additivity_gap" not in cam
    table = _json(capsys, ["explain", "--model", stored["iris"], "--index", "1", "--method", "occlusion", "--json"])
    assert table["algorithm"] == "occlusion-features" and len(table["values"]) == 4
    assert main(["explain", "--model", stored["iris"], "--method", "gradcam"]) == 2
    err = capsys.readouterr().err.strip()
    assert "gradcam needs a convolutional layer" in err and len(err.splitlines()) == 1


def test_people_get_a_table_and_errors_are_one_line(stored, in_home, capsys) -> None:
    assert main(["explain", "--model", stored["iris"], "--method", "lime", "--target", "1", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "LIME (lime-tabular)" in out and "feature" in out and "rule" in out and "LIME local fit" in out
    assert main(["explain", "--model", stored["iris"], "--index", "999"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "choose 0 to 29" in err and len(err.splitlines()) == 1
    assert main(["explain", "--model", "nope", "--method", "shap"]) == 2
    assert "python -m dlcore models" in capsys.readouterr().err


def test_an_imported_model_is_explained_with_the_data_set_named(stored, cli_home, home, tmp_path, capsys) -> None:
    from dlcore.importer import import_model
    from dlcore.store import ModelStore

    copy = tmp_path / "digits_cnn.keras"
    copy.write_bytes(ModelStore(cli_home).get(stored["digits"]).model_file.read_bytes())
    model_id = import_model(copy, home).model_id  # a file: no training data recorded
    assert main(["explain", "--model", model_id]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "imported without its training data" in line and "--data NAME|FILE" in line
    assert main(["explain", "--model", model_id, "--data", "iris"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "'iris' gives inputs shaped (4,) and the model takes (8, 8, 1)" in line
    out = _json(capsys, ["explain", "--model", model_id, "--data", "digits", "--method", "lime", "--samples", "300",
                         "--index", "2", "--json"])
    assert out["algorithm"] == "lime-image" and out["true"] in [str(d) for d in range(10)] and len(out["values"]) == 8
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    named = import_model(copy, home, class_names=words).model_id  # outputs named by the model, as many as digits'
    again = _json(capsys, ["explain", "--model", named, "--data", "digits", "--method", "lime", "--samples", "300",
                           "--index", "2", "--json"])
    assert again["class_names"] == words and again["class"] == words[again["class_index"]]  # the model's own names
    assert again["true"] == out["true"] and again["values"] == out["values"]  # true classes in the data set's
