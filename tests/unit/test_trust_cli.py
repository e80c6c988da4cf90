"""``python -m dlcore trust``: the JSON contract, people's report, one-line errors; on the ``causes`` table,
whose true causes are known, a trained MLP's explanation beats random orders and chance, and the same MLP with
its causes' weights zeroed gets no attribution on them."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dlcore.__main__ import main
from dlcore.explain.verdict import LEVELS

CONTRACT = ("verdict", "reasons", "deletion_auc", "deletion_random_auc", "insertion_auc", "insertion_random_auc",
            "randomisation", "randomisation_pass", "agreement", "stability", "ground_truth")


@pytest.fixture(scope="module")
def trust_home(session_home: Path) -> Path:
    """A workspace of these tests' own inside the session's (other tests count the models in theirs)."""
    return session_home / "trust_cli"


@pytest.fixture(scope="module")
def stored(trust_home: Path) -> dict[str, str]:
    """A causes MLP trained through the job runner, and a copy of it blind to the causes (their weights zeroed)."""
    from dlcore import jobs
    from dlcore.data.builtin import CAUSE_FEATURES, CAUSES
    from dlcore.models import ModelSpec, TrainConfig
    from dlcore.store import ModelStore
    from dlcore.training import run_job

    config = TrainConfig(data="causes", model=ModelSpec(units=(16,)), epochs=4, learning_rate=0.01)
    status = run_job(jobs.create(config, trust_home))
    assert status["state"] == "done" and status["metrics"]["val_accuracy"] > 0.8
    store = ModelStore(trust_home)
    model = store.load(status["model_id"])
    first = next(layer for layer in model.layers if layer.weights)
    kernel = np.array(first.kernel)
    kernel[[CAUSE_FEATURES.index(c) for c in CAUSES]] = 0.0
    first.kernel.assign(kernel)
    blind = store.save(model, store.get(status["model_id"]).meta).model_id
    return {"trained": status["model_id"], "blind": blind}


@pytest.fixture()
def in_home(trust_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DLCORE_HOME", str(trust_home))
    return trust_home


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_shap_json_contract_on_a_trained_model(stored, in_home, capsys) -> None:
    out = _json(capsys, ["trust", "--model", stored["trained"], "--index", "3", "--method", "shap", "--json"])
    assert list(out)[:len(CONTRACT) - 1] == list(CONTRACT[:-1]) and set(CONTRACT) <= set(out)
    assert out["model_id"] == stored["trained"] and out["index"] == 3 and out["method"] == "shap"
    for key in ("deletion_auc", "deletion_random_auc", "insertion_auc", "insertion_random_auc"):
        assert isinstance(out[key], float) and 0.0 <= out[key] <= 1.0, key
    assert out["deletion_auc"] < out["deletion_random_auc"] - 0.1  # faithful: the output falls faster
    assert out["insertion_auc"] > out["insertion_random_auc"] + 0.1
    assert len(out["randomisation"]) == 2 == len(out["randomisation_detail"]["layers"])  # dense + output
    assert all(-1.0 <= r <= 1.0 for r in out["randomisation"]) and isinstance(out["randomisation_pass"], bool)
    assert out["agreement_matrix"]["names"] == ["SHAP", "LIME"] and 0.5 < out["agreement"] <= 1.0
    assert 0.5 < out["stability"] <= 1.0
    truth = out["ground_truth"]
    assert truth["kind"] == "causes" and truth["expected_share"] == pytest.approx(0.3)
    assert truth["share"] > truth["expected_share"] + 0.3 and truth["beats"] is True
    assert out["verdict"] in LEVELS and out["reasons"] and all(isinstance(r, str) and r for r in out["reasons"])
    assert out["not_applicable"] == {} and out["trust_model_rows"] > 0 and out["explanation_model_rows"] > 0


def test_a_model_blind_to_the_causes_gets_none_of_the_attribution(stored, in_home, capsys) -> None:
    out = _json(capsys, ["trust", "--model", stored["blind"], "--index", "3", "--method", "shap", "--json",
                         "--no-compare", "--no-randomise"])
    truth = out["ground_truth"]
    assert truth["share"] == pytest.approx(0.0, abs=1e-9) and truth["precision_at_k"] == 0.0
    assert truth["beats"] is False
    assert out["verdict"] != "reliable" and any("true causes" in r for r in out["reasons"])
    assert out["randomisation"] is None and out["agreement"] is None
    assert set(out["not_applicable"]) == {"agreement", "randomisation"}


def test_people_get_the_verdict_first_and_errors_are_one_line(stored, in_home, capsys) -> None:
    assert main(["trust", "--model", stored["trained"], "--index", "5", "--method", "lime", "--no-compare",
                 "--no-randomise"]) == 0
    got = capsys.readouterr()
    lines = got.out.strip().splitlines()
    assert any(lines[0].startswith(level.upper() + ":") for level in LEVELS)
    assert lines[1].startswith("- ") and "figure" in got.out and "deletion AUC" in got.out
    assert "share on the causes" in got.out and "not run: randomisation: not asked for" in got.out
    assert "trust checks: about" in got.err and "explanation: LIME" in got.err
    assert main(["trust", "--model", stored["trained"], "--index", "400", "--method", "shap"]) == 2
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert err.startswith("error:") and "choose 0 to 399" in err
    assert main(["trust", "--model", "nope", "--index", "0", "--method", "shap"]) == 2
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert "no model 'nope'" in err and "python -m dlcore models" in err
