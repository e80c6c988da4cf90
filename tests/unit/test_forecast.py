"""Forecasting a series CSV: windows split by time, scaling from the training period, gaps and disorder reported,
baselines, bad input refused with the fix named, and models that beat the last-value baseline."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlcore.data import forecast as fc
from dlcore.data import load_dataset
from dlcore.data.readers import read_bytes
from dlcore.data.stored import DatasetStore
from dlcore.data.upload import Choices, to_dataset, understand
from dlcore.errors import DataError


def daily(n: int = 400, seed: int = 0, noise: float = 0.5) -> pd.DataFrame:
    """A daily series: trend + weekly season + seeded noise, and a second column that is pure noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    sales = 10 + 0.01 * t + 3 * np.sin(2 * np.pi * t / 7) + rng.normal(0, noise, n)
    return pd.DataFrame({"date": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
                         "temp": rng.normal(20, 2, n).round(3), "sales": sales.round(4)})


def raw_of(frame: pd.DataFrame, name: str = "series.csv"):
    return read_bytes(frame.to_csv(index=False).encode(), name)


def test_windows_are_split_by_time_with_a_horizon_gap_and_scaled_on_the_training_period() -> None:
    frame = daily(120)
    spec = fc.ForecastSpec("date", window=10, horizon=3, target="sales")
    ds = fc.to_dataset(raw_of(frame), spec, validation_split=0.25)
    n_windows = 120 - 10 - 3 + 1
    n_val = round(n_windows * 0.25)
    assert (ds.task, ds.modality, ds.x_train.shape[1:]) == ("regression", "sequence", (10, 2))
    assert ds.n_val == n_val and ds.n_train == n_windows - n_val - 3
    p = fc.params(ds)
    train_rows = ds.n_train + 10 + 3 - 1
    values = frame[["temp", "sales"]].to_numpy()
    np.testing.assert_allclose(p["mean"], values[:train_rows].mean(axis=0))
    np.testing.assert_allclose(p["std"], values[:train_rows].std(axis=0))
    # window i holds rows i..i+9; its target is sales at row i+9+3; validation starts at window n_windows - n_val
    first_val = n_windows - n_val
    np.testing.assert_allclose(fc.to_units(ds.x_val[0, :, 1], ds), values[first_val:first_val + 10, 1], rtol=1e-5)
    np.testing.assert_allclose(fc.to_units(ds.y_val, ds), values[first_val + 12:, 1], rtol=1e-5)
    np.testing.assert_allclose(fc.to_units(ds.y_train, ds), values[12:12 + ds.n_train, 1], rtol=1e-5)
    last_train_target = 12 + ds.n_train - 1
    assert last_train_target < first_val + 12 - 3  # every training target comes before the validation targets
    assert p["val_times"][0] == f"{pd.Timestamp(frame['date'][first_val + 12]).isoformat()}+00:00"
    assert "gap of 3" in ds.description and "season 7 steps (daily data: a week)" in ds.description


def test_unsorted_rows_are_sorted_and_gaps_reported() -> None:
    frame = daily(200)
    holes = frame.drop(index=[50, 51, 52, 120])  # a 4-day gap and a 2-day gap
    shuffled = holes.sample(frac=1.0, random_state=0)
    p = fc.understand(raw_of(shuffled), fc.ForecastSpec("date", window=14))
    out_of_order = int((pd.to_datetime(shuffled["date"]).diff().dt.days < 0).sum())
    assert p.gaps.out_of_order == out_of_order > 50
    assert (p.gaps.n_longer, fc.duration(p.gaps.interval), fc.duration(p.gaps.longest)) == (2, "1 day", "4 days")
    assert any(f"{out_of_order} row(s) were out of time order" in w for w in p.warnings)
    assert any("2 gap(s) in the series" in w and "the longest 4 days" in w for w in p.warnings)
    sorted_ds = fc.to_dataset(raw_of(holes), fc.ForecastSpec("date", window=14))
    shuffled_ds = fc.to_dataset(raw_of(shuffled), fc.ForecastSpec("date", window=14))
    np.testing.assert_array_equal(sorted_ds.x_train, shuffled_ds.x_train)
    assert fc.understand(raw_of(holes), fc.ForecastSpec("date", window=14)).gaps.out_of_order == 0


def test_baselines_score_the_last_value_and_the_value_one_season_before() -> None:
    t = np.arange(140)
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=140, freq="D").strftime("%Y-%m-%d"),
                          "v": np.tile([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 20) + 0 * t})
    ds = fc.to_dataset(raw_of(frame), fc.ForecastSpec("date", window=8, horizon=1))
    scores = fc.baselines(ds)
    assert scores["seasonal"] == pytest.approx(0.0, abs=1e-5)  # a pure weekly pattern repeats exactly
    assert scores["last value"] == pytest.approx(12 / 7, rel=0.15)  # +1 six days a week, -6 once: 12/7 on average
    short = fc.to_dataset(raw_of(frame), fc.ForecastSpec("date", window=3, horizon=1))
    assert set(fc.baselines(short)) == {"last value"}  # 7 steps back is outside a window of 3: no seasonal score


def test_the_season_is_chosen_from_the_calendar_or_the_autocorrelation() -> None:
    t = np.arange(300)
    x = np.sin(2 * np.pi * t / 5)
    assert fc.infer_season(x, pd.Timedelta(days=1)) == (7, "daily data: a week")
    assert fc.infer_season(x, pd.Timedelta(hours=1)) == (24, "hourly data: a day")
    season, why = fc.infer_season(x, pd.Timedelta(days=2))
    assert season == 5 and why == "autocorrelation peak (0.98 at 5 steps)"
    assert fc.infer_season(x, pd.Timedelta(days=1), chosen=12) == (12, "chosen")
    assert fc.seasonal_lag(7, 1) == 7 and fc.seasonal_lag(7, 8) == 14 and fc.seasonal_lag(3, 3) == 3


@pytest.mark.parametrize("spec,frame,message", [
    (fc.ForecastSpec("date", window=200), daily(150), "a window of 200 steps and a horizon of 1 need at least 201 "
     "rows and the series has 150; shorten the window or the horizon"),
    (fc.ForecastSpec("date", window=140, horizon=5), daily(150), "too few to leave training windows"),
    (fc.ForecastSpec("date", window=7, target="note"), daily(60).assign(note="high"),
     "value column 'note' holds text, not numbers (e.g. 'high'); leave it out of the value columns"),
    (fc.ForecastSpec("sales", window=7), daily(60), "column 'sales' does not hold dates or times (it reads as "
     "numeric); choose the date/time column: 'date'"),
    (fc.ForecastSpec("when", window=7), daily(60), "no column 'when' to use as the time; the date columns are 'date'"),
    (fc.ForecastSpec("date", window=7, values=("rain",)), daily(60), "no value column 'rain'"),
], ids=["window-longer-than-series", "no-room-for-training", "text-value-column", "time-not-dates", "no-time",
        "no-value-column"])
def test_bad_series_are_refused_with_the_fix(spec: fc.ForecastSpec, frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        fc.understand(raw_of(frame), spec)


def test_a_text_value_column_is_left_out_by_default_and_missing_numbers_are_interpolated() -> None:
    frame = daily(60).assign(note="high")
    frame.loc[[10, 11], "sales"] = np.nan
    p = fc.understand(raw_of(frame), fc.ForecastSpec("date", window=7))
    assert p.spec.values == ("temp", "sales") and p.spec.target == "sales"
    assert "2 missing value(s) in 'sales' filled in by linear interpolation over time" in p.warnings
    expected = np.linspace(frame["sales"][9], frame["sales"][12], 4)[1:3]
    np.testing.assert_allclose(p.values[10:12, 1], expected)


def test_rows_with_an_empty_time_are_left_out_and_said() -> None:
    frame = daily(60)
    frame.loc[[3, 4], "date"] = ""
    p = fc.understand(raw_of(frame), fc.ForecastSpec("date", window=7))
    assert p.n_rows == 58 and "2 row(s) without a readable time in 'date' left out" in p.warnings
    assert p.gaps.n_longer == 1 and fc.duration(p.gaps.longest) == "3 days"


def test_a_text_column_with_empty_texts_leaves_those_rows_out() -> None:
    rng = np.random.default_rng(0)
    words = "the a movie plot acting great awful fun long short story music".split()
    texts = [" ".join(rng.choice(words, 8)) for _ in range(40)]
    for i in range(0, 40, 4):
        texts[i] = " " if i % 8 else ""
    raw = raw_of(pd.DataFrame({"review": texts, "label": ["pos", "neg"] * 20}), "texts.csv")
    p = understand(raw)
    assert p.modality == "text" and p.n_rows == 30
    assert p.warnings == ("10 row(s) with an empty text in 'review' left out",)
    ds = to_dataset(raw)
    assert ds.n_train + ds.n_val == 30 and "" not in set(ds.x_train) | set(ds.x_val)


def test_choices_keep_the_forecast_and_old_stored_choices_still_load(home: Path) -> None:
    spec = fc.ForecastSpec("date", window=14, horizon=2, values=("sales",), season=7)
    choices = Choices(forecast=spec)
    assert Choices.from_dict(json.loads(json.dumps(choices.to_dict()))) == choices
    assert Choices.from_dict({"target": "y", "exclude": None}).forecast is None  # written before forecasting
    frame = daily(100)
    store = DatasetStore()
    store.save("shop", frame.to_csv(index=False).encode(), "shop.csv", choices)
    assert store.get("shop").summary.modality == "sequence"
    kept = load_dataset("shop")
    direct = fc.to_dataset(raw_of(frame), spec)
    np.testing.assert_array_equal(kept.x_val, direct.x_val)
    assert kept.input_shape == (14, 1)
    with pytest.raises(DataError, match="not a series with a time column"):
        load_dataset("iris", forecast=spec)


def test_cli_validate_reports_windows_gaps_and_season(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from dlcore.__main__ import main

    path = tmp_path / "series.csv"
    daily(100).drop(index=[30]).sample(frac=1.0, random_state=1).to_csv(path, index=False)
    assert main(["validate", str(path), "--time", "date", "--window", "7", "--horizon", "2", "--json"]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (r["windows"], r["val_windows"], r["train_windows"]) == (91, 18, 71)
    assert r["gaps"]["longer"] == 1 and r["gaps"]["longest"] == "2 days" and r["season"] == 7
    assert main(["validate", str(path), "--time", "date", "--window", "500"]) == 2
    assert "need at least 501 rows" in capsys.readouterr().err


@pytest.mark.slow
def test_an_rnn_trained_by_the_cli_beats_the_last_value_baseline(home: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    from dlcore.__main__ import main

    path = tmp_path / "shop.csv"
    daily(300)[["date", "sales"]].to_csv(path, index=False)
    code = main(["train", "--data", str(path), "--time", "date", "--window", "14", "--arch", "rnn",
                 "--seq-units", "16", "--units", "16", "--epochs", "12", "--lr", "0.01", "--json"])
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    f = r["forecast"]
    print(f"rnn: validation MAE {f['mae']:.3f}, baselines {f['baselines']}")  # the README's figure (-s shows it)
    assert code == 0 and f["beats_last_value"] and f["mae"] < 0.6 * f["baselines"]["last value"], f
    config = json.loads((home / "models" / r["model_id"] / "meta.json").read_text())["config"]
    assert config["forecast"]["window"] == 14 and config["forecast"]["time"] == "date"
    from streamlit.testing.v1 import AppTest  # the Models page redraws the forecast from the file and the model

    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app_pages" / "models.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert f"forecast_{r['model_id']}" in {c.key for c in at.get("plotly_chart")}
    assert any(f"validation MAE {f['mae']:.4g}" in c.value for c in at.caption)


@pytest.mark.slow
def test_a_transformer_beats_the_last_value_baseline() -> None:
    import keras

    from dlcore.models import build_model, compile_model
    from dlcore.models.spec import ModelSpec, TrainConfig

    ds = fc.to_dataset(raw_of(daily(300)[["date", "sales"]]), fc.ForecastSpec("date", window=14))
    spec = ModelSpec(arch="transformer", seq_units=(16,), units=(16,), heads=2)
    keras.utils.set_random_seed(0)
    model = build_model(spec, ds)
    compile_model(model, TrainConfig(data=ds.name, model=spec, learning_rate=3e-3), ds.task)
    model.fit(ds.x_train, ds.y_train, epochs=15, batch_size=32, verbose=0)
    result = fc.predict(model, ds)
    last = result.baseline_mae()["last value"]
    print(f"transformer: validation MAE {result.mae:.3f}, baselines {result.baseline_mae()}")
    assert result.mae < 0.6 * last, (result.mae, result.baseline_mae())
    assert len(result.times) == ds.n_val == len(result.forecast)


def test_the_forecast_plot_draws_the_series_the_forecast_the_baselines_and_their_errors() -> None:
    from dlcore import plots

    ds = fc.to_dataset(raw_of(daily(120)), fc.ForecastSpec("date", window=14))
    truth = ds.y_val.copy()
    result = fc.result(ds, truth + 0.1)  # a forecast 0.1 std above the truth
    fig = plots.forecast_plot(result.times, result.actual, result.forecast, result.baselines, result.target)
    names = [t.name for t in fig.data]
    assert names[0] == "actual" and names[1].startswith("model (MAE ")
    assert {n.split(" (")[0] for n in names[1:] if "error" not in n} == {"model", "last value", "seasonal"}
    model_error = next(t for t in fig.data if t.name == "model error")
    std = fc.params(ds)["std"][fc.params(ds)["target_index"]]
    np.testing.assert_allclose(model_error.y, 0.1 * std, rtol=1e-4)
    assert result.mae == pytest.approx(0.1 * std, rel=1e-4) and list(fig.data[0].x) == list(result.times)
    assert result.baseline_mae() == pytest.approx(fc.baselines(ds))


@pytest.mark.slow
def test_the_data_page_reads_a_series_to_forecast_and_keeps_it(home: Path) -> None:
    from streamlit.testing.v1 import AppTest

    frame = daily(120).drop(index=[40, 41]).sample(frac=1.0, random_state=0)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app_pages" / "data.py"), default_timeout=90)
    at.run()
    at.file_uploader(key="upload").set_value(("shop.csv", frame.to_csv(index=False).encode(), "text/csv")).run()
    key = next(w.key for w in at.toggle if w.key.startswith("fc_on_"))
    at.toggle(key=key).set_value(True).run()
    at.number_input(key=key.replace("fc_on_", "fc_window_")).set_value(14).run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Times"] == "118" and metrics["Windows"] == "104" and metrics["Every"] == "1 day"
    warnings = [w.value for w in at.warning]
    assert any("out of time order" in w for w in warnings) and any("1 gap(s) in the series" in w for w in warnings)
    at.text_input[0].set_value("shop").run()
    at.button[0].click().run()
    kept = load_dataset("shop")
    assert kept.modality == "sequence" and kept.input_shape == (14, 2) and fc.params(kept)["target"] == "sales"
