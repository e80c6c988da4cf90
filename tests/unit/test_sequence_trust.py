"""Sequences (steps, features) are explained, deleted step by step in the trust figures, and checked by the
randomisation and agreement checks: a recurrent classifier whose class is a bump in steps 10-15 of 30."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

STEPS, WINDOW = 30, slice(10, 16)


def bump_window(path: Path, n: int = 320, seed: int = 0) -> Path:
    """Noisy 2-feature sequences of 30 steps; class 1 (a quarter of them) has a bump of +2 in feature 0 over
    steps 10-15, so the training mean there (+0.5) reads as no bump."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 4 == 0).astype(int)
    x = rng.normal(0.0, 0.3, size=(n, STEPS, 2)).astype(np.float32)
    x[y == 1, WINDOW, 0] += 2.0
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    import keras

    from dlcore.data.upload import load_file
    from dlcore.models import ModelSpec, TrainConfig, build_model, compile_model

    ds = load_file(str(bump_window(tmp_path_factory.mktemp("bumps") / "bumps.npz")))
    keras.utils.set_random_seed(0)
    spec = ModelSpec(arch="rnn", cell="gru", seq_units=(12,), units=(8,))
    model = build_model(spec, ds)
    compile_model(model, TrainConfig(data="bumps", model=spec, learning_rate=1e-2), ds.task)
    model.fit(ds.x_train, ds.y_train, epochs=10, batch_size=32, verbose=0)
    accuracy = float((model.predict_on_batch(ds.x_val).argmax(axis=1) == ds.y_val).mean())
    bumps = np.flatnonzero(ds.y_val == 1)[:3]
    return {"ds": ds, "model": model, "accuracy": accuracy, "rows": bumps}


def window_share(values: np.ndarray) -> float:
    """The share of |attribution| that lies on the planted steps 10-15 (6 of 30 steps: 20% by chance)."""
    per_step = np.abs(values).reshape(STEPS, -1).sum(axis=1)
    return float(per_step[WINDOW].sum() / per_step.sum())


def test_the_model_learns_the_window(trained) -> None:
    assert trained["accuracy"] >= 0.9, trained["accuracy"]


@pytest.mark.parametrize("method", ["shap", "lime"])
def test_shap_and_lime_put_half_the_attribution_on_the_window(trained, method) -> None:
    from dlcore.explain import explain

    ds, x = trained["ds"], trained["ds"].x_val[trained["rows"]]
    attr = explain(trained["model"], x, method, ds.x_train, seed=0, num_samples=1000, nsamples=100)
    shares = [window_share(attr.class_values()[i]) for i in range(len(x))]
    print(method, attr.algorithm, [round(s, 3) for s in shares])
    assert min(shares) >= 0.5, shares  # against 6 / 30 = 0.2 of the steps


def test_deletion_removes_whole_steps_filled_with_the_training_mean(trained) -> None:
    from dlcore.explain.faithfulness import deletion, insertion

    ds, model = trained["ds"], trained["model"]
    x = ds.x_val[trained["rows"][:1]]
    values = np.zeros(x.shape[1:])
    values[WINDOW, 1] = -1.0  # the sign does not matter: steps are ranked by the sum of |attribution|
    d = deletion(model, x, values, 1, background=ds.x_train, steps=31, random_orders=10)
    assert d.parts == STEPS and d.baseline == "mean"
    assert d.curve[0] > 0.9 and d.curve[6] < 0.5 and d.auc < 0.5 * d.random_auc  # six steps out: the bump is gone
    i = insertion(model, x, values, 1, background=ds.x_train, steps=31, random_orders=10)
    assert i.curve[0] < 0.5 and i.curve[6] > 0.9 and i.auc > i.random_auc
    flipped = np.zeros(x.shape[1:])
    flipped[:10] = 1.0  # an attribution off the window: removing its steps first keeps the class
    worse = deletion(model, x, flipped, 1, background=ds.x_train, steps=31, random_orders=10)
    assert worse.curve[10] > 0.9 and worse.auc > 0.9 * worse.random_auc > 4 * d.auc


def test_trust_checks_run_on_a_recurrent_model(trained) -> None:
    from dlcore.explain import explain
    from dlcore.explain.report import check

    ds, model = trained["ds"], trained["model"]
    x = ds.x_val[trained["rows"][:1]]
    options = {"nsamples": 50}
    attr = explain(model, x, "shap", ds.x_train, seed=0, **options)
    lime = explain(model, x, "lime", ds.x_train, seed=0, num_samples=500, target=int(attr.targets[0]))

    def explain_fn(m, rows):
        return explain(m, rows, "shap", ds.x_train, seed=0, target=int(attr.targets[0]), **options).class_values()[0]

    window = np.zeros(STEPS, dtype=bool)
    window[WINDOW] = True
    report = check(model, attr, background=ds.x_train, others={"LIME": lime}, explain_fn=explain_fn, mask=window)
    truth = report.ground_truth
    assert truth is not None and truth.kind == "window" and truth.expected_share == pytest.approx(0.2)
    assert truth.share >= 0.5  # the bump's steps, scored as a window of steps, not as an image mask
    print(report.to_dict()["not_applicable"], report.deletion.auc, report.deletion.random_auc,
          report.randomisation.passes, report.agreement_figure())
    assert report.deletion.parts == STEPS and report.deletion.baseline == "mean"
    assert report.deletion.auc < 0.5 * report.deletion.random_auc and report.randomisation.passes
    assert report.randomisation is not None and report.agreement is not None
    assert report.agreement_figure() > 0.3
