"""Shortcut and leak warnings: each check fires on a table built to have the problem and stays silent without it.

Tables are written as CSV and loaded with ``load_file``, the way uploads become a Dataset; model scores are given
as numbers (no Keras).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlcore.data import load_dataset
from dlcore.data.dataset import Dataset
from dlcore.data.preprocess import Preprocessing
from dlcore.data.upload import Choices, load_file
from dlcore.fairness.shortcuts import KINDS, Shortcut, find_shortcuts, one_feature_scores

N = 1500


def upload(tmp_path: Path, frame: pd.DataFrame, target: str, name: str = "table", **choices) -> Dataset:
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    return load_file(path, target=target, choices=Choices(**choices) if choices else None)


def noise(rng: np.random.Generator, n: int = N) -> dict[str, np.ndarray]:
    return {"humidity": rng.normal(60, 10, n).round(1), "wind": rng.normal(10, 3, n).round(2)}


def kinds(found: tuple[Shortcut, ...], feature: str | None = None) -> set[str]:
    return {s.kind for s in found if feature is None or s.feature == feature}


@pytest.fixture(scope="module")
def weather(tmp_path_factory) -> Dataset:
    """Daily weather, sorted by date, where the year decides the target (the issue's case)."""
    rng = np.random.default_rng(0)
    dates = pd.date_range("2015-01-01", periods=N, freq="D")
    p = np.where(dates.year.to_numpy() >= 2017, 0.9, 0.1)
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), **noise(rng),
                          "rain": np.where(rng.random(N) < p, "yes", "no")})
    return upload(tmp_path_factory.mktemp("weather"), frame, "rain")


@pytest.fixture(scope="module")
def one_signal(tmp_path_factory) -> Dataset:
    """One column carries the target (with 25% of labels flipped); the others are noise."""
    rng = np.random.default_rng(1)
    signal = rng.normal(size=N)
    y = (signal > 0) ^ (rng.random(N) < 0.25)
    frame = pd.DataFrame({"signal": signal.round(3), **noise(rng), "target": np.where(y, "a", "b")})
    return upload(tmp_path_factory.mktemp("signal"), frame, "target")


def test_the_date_column_reaches_the_model_as_date_parts(weather):
    assert weather.feature_names[:4] == ("date.year", "date.month", "date.day", "date.weekday")
    assert weather.preprocessing.column_inputs()["date"] == (0, 1, 2, 3)


def test_date_part_fires_when_the_date_is_most_attributed(weather):
    found = find_shortcuts(weather, model_score=0.92, importance={"date": 0.5, "humidity": 0.1, "wind": 0.05})
    (warning,) = [s for s in found if s.kind == "date_part"]
    assert warning.feature == "date"
    assert "`date.year`" in warning.message and "later years" in warning.message
    assert "split by time" in warning.message and "Data page" in warning.message


def test_date_part_is_silent_when_the_date_is_not_on_top_or_no_importance_is_given(weather):
    assert "date_part" not in kinds(find_shortcuts(weather, 0.92, {"humidity": 0.5, "wind": 0.3, "date": 0.01}))
    assert "date_part" not in kinds(find_shortcuts(weather, 0.92, None))


def test_importance_given_per_model_input_counts_for_its_column(weather):
    found = find_shortcuts(weather, 0.92, {"date.year": 0.4, "date.month": 0.1, "humidity": 0.2})
    assert "date_part" in kinds(found, "date")


def test_one_feature_scores_keys_are_original_columns(weather):
    scores = one_feature_scores(weather)
    assert set(scores) == {"date", "humidity", "wind"}
    assert scores["date"] > 0.85  # the year alone gives the 90% the labels allow
    assert scores["humidity"] < 0.65 and scores["wind"] < 0.65


def test_one_feature_fires_when_the_model_does_hardly_better(one_signal):
    scores = one_feature_scores(one_signal)
    assert scores["signal"] > 0.65
    found = find_shortcuts(one_signal, model_score=scores["signal"] + 0.01)
    (warning,) = [s for s in found if s.kind == "one_feature"]
    assert warning.feature == "signal" and warning.score == scores["signal"]
    assert warning.model_score == pytest.approx(scores["signal"] + 0.01)
    assert f"{scores['signal']:.2f}" in warning.message and f"{scores['signal'] + 0.01:.2f}" in warning.message
    assert "`signal` alone" in warning.message and "Data page" in warning.message


def test_one_feature_is_silent_when_the_model_does_much_better_or_has_no_score(one_signal):
    score = one_feature_scores(one_signal)["signal"]
    assert "one_feature" not in kinds(find_shortcuts(one_signal, model_score=score + 0.2))
    assert "one_feature" not in kinds(find_shortcuts(one_signal, model_score=None))
    assert kinds(find_shortcuts(one_signal, model_score=score + 0.2)) == set()


def test_copies_target_fires_on_a_noisy_copy_of_the_classes(tmp_path):
    rng = np.random.default_rng(2)
    survived = rng.random(N) < 0.4
    alive = survived ^ (rng.random(N) < 0.004)  # 0.4% disagree: not one to one, so the upload keeps it
    frame = pd.DataFrame({"alive": np.where(alive, "yes", "no"), **noise(rng), "survived": survived.astype(int)})
    ds = upload(tmp_path, frame, "survived")
    assert "alive" in ds.preprocessing.column_inputs()
    found = find_shortcuts(ds, model_score=0.99)
    (warning,) = [s for s in found if s.kind == "copies_target"]
    assert warning.feature == "alive" and warning.score >= 0.99
    assert "leak" in warning.message and "leave it out" in warning.message
    assert found[0] is warning  # copies come first
    assert kinds(found, "humidity") == set() and kinds(found, "wind") == set()


def test_copies_target_fires_on_a_rescaled_target_with_noise(tmp_path):
    rng = np.random.default_rng(3)
    price = rng.normal(100, 20, N)
    cents = price * 100 + rng.normal(0, 50, N)  # correlation ~0.9997: below the read-time one-to-one cut
    frame = pd.DataFrame({"cents": cents.round(1), **noise(rng), "price": price.round(3)})
    ds = upload(tmp_path, frame, "price")
    assert ds.task == "regression" and "cents" in ds.preprocessing.column_inputs()
    found = find_shortcuts(ds, model_score=0.995)
    assert kinds(found, "cents") == {"copies_target"}
    assert "R^2" in found[0].message


def test_causes_gets_no_copy_and_no_id_warning():
    ds = load_dataset("causes")
    found = find_shortcuts(ds, model_score=0.9, importance={"f1": 0.5, "f4": 0.4, "f8": 0.3, "f0": 0.01})
    assert not kinds(found) & {"copies_target", "id_like", "row_order", "date_part"}


def ticket_table(sort: bool) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    ticket = 1000 + np.cumsum(rng.integers(1, 6, N))  # a running counter with gaps: not dropped as a row number
    if not sort:
        ticket = rng.permutation(ticket)
    return pd.DataFrame({"ticket": ticket, "fare": rng.normal(30, 8, N).round(2), **noise(rng),
                         "survived": (rng.random(N) < 0.4).astype(int)})


def test_a_running_counter_on_top_is_row_order(tmp_path):
    ds = upload(tmp_path, ticket_table(sort=True), "survived")
    assert "ticket" in ds.preprocessing.column_inputs()
    found = find_shortcuts(ds, model_score=0.7, importance={"ticket": 0.6, "fare": 0.1})
    assert kinds(found, "ticket") & {"row_order", "id_like"}
    (warning,) = [s for s in found if s.feature == "ticket" and s.kind in ("row_order", "id_like")]
    assert "Data page" in warning.message


def test_a_shuffled_counter_on_top_is_id_like_not_row_order(tmp_path):
    ds = upload(tmp_path, ticket_table(sort=False), "survived")
    found = find_shortcuts(ds, model_score=0.7, importance={"ticket": 0.6, "fare": 0.1})
    assert kinds(found, "ticket") == {"id_like"}


def test_row_order_and_id_like_are_silent_for_an_ordinary_column_on_top(tmp_path):
    ds = upload(tmp_path, ticket_table(sort=True), "survived")
    found = find_shortcuts(ds, model_score=0.7, importance={"fare": 0.6, "humidity": 0.1, "ticket": 0.05})
    assert not kinds(found) & {"row_order", "id_like", "date_part"}


def test_a_column_named_like_an_id_on_top_is_id_like(tmp_path):
    frame = ticket_table(sort=False).rename(columns={"ticket": "customer_id"})
    ds = upload(tmp_path, frame, "survived", exclude=())  # the user chose to keep the ID column
    assert "customer_id" in ds.preprocessing.column_inputs()
    found = find_shortcuts(ds, model_score=0.7, importance={"customer_id": 0.6, "fare": 0.1})
    assert kinds(found, "customer_id") == {"id_like"}
    assert "named like an ID" in next(s.message for s in found if s.kind == "id_like")


def test_a_column_named_like_a_date_part_is_date_part(tmp_path):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"year": rng.integers(2000, 2020, N), **noise(rng), "sold": (rng.random(N) < 0.5).astype(int)})
    ds = upload(tmp_path, frame, "sold")
    assert kinds(find_shortcuts(ds, 0.6, {"year": 0.5, "wind": 0.1}), "year") == {"date_part"}
    assert "date_part" not in kinds(find_shortcuts(ds, 0.6, {"wind": 0.5, "year": 0.1}))


def test_plain_arrays_fall_back_to_one_input_per_feature():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    y = ((x[:, 2] > 0) ^ (rng.random(400) < 0.1)).astype(np.int64)  # c decides 90% of the labels
    ds = Dataset("arrays", "classification", "tabular", x[:300], y[:300], x[300:], y[300:], ("a", "b", "c"),
                 ("no", "yes"), Preprocessing.identity())
    scores = one_feature_scores(ds)
    assert set(scores) == {"a", "b", "c"} and scores["c"] > 0.8 > max(scores["a"], scores["b"])
    assert kinds(find_shortcuts(ds, model_score=scores["c"]), "c") == {"one_feature"}
    assert kinds(find_shortcuts(ds, model_score=0.99)) == set()


def test_images_get_no_checks():
    ds = load_dataset("digits")
    assert one_feature_scores(ds) == {}
    assert find_shortcuts(ds, model_score=0.9, importance={"pixel_0_0": 1.0}) == ()


def test_scores_are_seeded_and_kinds_are_known(one_signal):
    assert one_feature_scores(one_signal, seed=3) == one_feature_scores(one_signal, seed=3)
    found = find_shortcuts(one_signal, model_score=0.5, importance={"signal": 1.0})
    assert found and all(s.kind in KINDS for s in found)


def test_thirty_columns_only_the_one_that_is_the_target_is_named(tmp_path):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2000, 30)).round(3)
    frame = pd.DataFrame(x, columns=[f"c{j}" for j in range(30)]).assign(t=(x[:, 0] > 0).astype(int))
    ds = upload(tmp_path, frame, "t")
    found = find_shortcuts(ds, model_score=0.9, importance={f"c{j}": 1 / (j + 1) for j in range(30)})
    assert {s.feature for s in found} == {"c0"}
    assert "copies_target" in {s.kind for s in found}
