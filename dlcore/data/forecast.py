"""Forecasting a series: a table with a date/time column and value columns becomes windows for regression.

``understand(raw, spec)`` sorts the rows by time (counting those out of order), reports gaps (the usual
interval, and how many intervals are longer and the longest), checks the value columns are numbers and counts
the windows; ``to_dataset`` builds them. A window is ``window`` steps of the value columns, scaled with means
and standard deviations fitted on the training period only; its target is the target column ``horizon`` steps
after the window's last step, scaled the same way (``to_units`` turns predictions back). The split is by time,
never shuffled: the last ``validation_split`` share of windows validates, and the ``horizon`` windows before
them are dropped, so training windows end before the first validation target. ``baselines`` scores the last
value and the seasonal value (one season, or the fewest whole seasons at least ``horizon``, before the target).

The Dataset's inputs are the scaled windows themselves, so its ``Preprocessing`` is the identity on them; the
scaling and the window's layout are kept in its params under ``"forecast"``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dlcore.data.columns import PARSE_SHARE, infer_column
from dlcore.data.dataset import Dataset
from dlcore.data.preprocess import Preprocessing, as_dates, as_number
from dlcore.data.readers import RawUpload
from dlcore.errors import DataError

MAX_CELLS = 50_000_000  # windows x window x value columns held in memory
VAL_TIMES = 5_000  # times of the last validation targets kept with the data, for the forecast plot
CALENDAR = {pd.Timedelta(hours=1): (24, "hourly data: a day"), pd.Timedelta(days=1): (7, "daily data: a week"),
            pd.Timedelta(weeks=1): (52, "weekly data: a year")}


@dataclass(frozen=True)
class ForecastSpec:
    """How a series becomes windows: the time column, the value columns (default: every numeric column), the
    target column (default: the last value column), window length and horizon in steps, and the season in
    steps for the seasonal baseline (0: inferred)."""

    time: str
    window: int = 24
    horizon: int = 1
    target: str | None = None
    values: tuple[str, ...] = ()
    season: int = 0

    def __post_init__(self) -> None:
        if not str(self.time).strip():
            raise DataError("name the date/time column of the series (--time COL)")
        if int(self.window) < 1 or int(self.horizon) < 1 or int(self.season) < 0:
            raise DataError(f"window ({self.window}) and horizon ({self.horizon}) must be at least 1 step, the "
                            f"season ({self.season}) at least 0 (0: inferred)")

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "window": int(self.window), "horizon": int(self.horizon), "target": self.target,
                "values": list(self.values), "season": int(self.season)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ForecastSpec:
        return cls(time=str(data["time"]), window=int(data.get("window", 24)), horizon=int(data.get("horizon", 1)),
                   target=data.get("target"), values=tuple(str(v) for v in data.get("values") or ()),
                   season=int(data.get("season") or 0))


@dataclass(frozen=True)
class Gaps:
    """The time steps of a sorted series: the usual interval, the longer ones, and the rows out of order."""

    interval: pd.Timedelta
    n_longer: int
    longest: pd.Timedelta
    out_of_order: int
    duplicates: int

    def to_dict(self) -> dict[str, Any]:
        return {"interval": duration(self.interval), "longer": self.n_longer, "longest": duration(self.longest),
                "out_of_order": self.out_of_order, "duplicates": self.duplicates}

    def warnings(self, time: str) -> list[str]:
        out = []
        if self.out_of_order:
            out.append(f"{self.out_of_order} row(s) were out of time order: sorted by {time!r}")
        if self.duplicates:
            out.append(f"{self.duplicates} row(s) repeat a time of {time!r}: kept, in file order")
        if self.n_longer:
            out.append(f"{self.n_longer} gap(s) in the series: intervals longer than the usual "
                       f"{duration(self.interval)} (the longest {duration(self.longest)}); windows span them as if "
                       "the steps were regular, so fill in the missing times for an even series")
        return out


@dataclass(frozen=True, eq=False)
class ForecastPreview:
    """What was understood of a series, before anything is fitted (``dlcore validate --time``)."""

    raw: RawUpload
    spec: ForecastSpec  # with the target and value columns resolved
    times: pd.DatetimeIndex  # sorted
    values: np.ndarray  # (steps, value columns) float64, in time order, missing values interpolated
    gaps: Gaps
    season: int
    season_reason: str
    n_train: int
    n_val: int
    warnings: tuple[str, ...] = ()
    kind: str = "table"
    modality: str = "sequence"
    task: str = "regression"
    sensitive: tuple[str, ...] = field(default=())

    @property
    def target(self) -> str:
        return str(self.spec.target)

    @property
    def n_rows(self) -> int:
        return len(self.times)

    @property
    def n_windows(self) -> int:
        return len(self.times) - self.spec.window - self.spec.horizon + 1

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.raw.filename, "kind": self.kind, "modality": self.modality, "task": self.task,
                "target": self.target, "rows_read": self.raw.n_rows, "rows": self.n_rows, "time": self.spec.time,
                "features": list(self.spec.values), "window": self.spec.window, "horizon": self.spec.horizon,
                "windows": self.n_windows, "train_windows": self.n_train, "val_windows": self.n_val,
                "gaps": self.gaps.to_dict(), "season": self.season, "season_reason": self.season_reason,
                "classes": {}, "columns": [], "sensitive": [], "notes": list(self.raw.notes),
                "warnings": [*self.raw.skipped, *self.warnings]}


def duration(delta: pd.Timedelta) -> str:
    """A time interval in words: ``1 day``, ``3 days``, ``6 hours``, ``90 seconds``."""
    seconds = delta.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds:g} seconds"


def _times(frame: pd.DataFrame, spec: ForecastSpec) -> tuple[pd.Series, list[str]]:
    if spec.time not in frame.columns:
        dates = [n for n in frame.columns if infer_column(n, frame[n]).kind == "date"]
        hint = f"the date columns are {', '.join(repr(d) for d in dates)}" if dates else "the table has no date column"
        raise DataError(f"no column {spec.time!r} to use as the time; {hint}")
    info = infer_column(spec.time, frame[spec.time])
    if info.kind != "date":
        dates = [n for n in frame.columns if infer_column(n, frame[n]).kind == "date"]
        hint = f": {', '.join(repr(d) for d in dates)}" if dates else " (this table has none)"
        raise DataError(f"column {spec.time!r} does not hold dates or times (it reads as {info.kind}); choose the "
                        f"date/time column{hint}")
    times = as_dates(frame[spec.time], info.date_format or "mixed")
    present = frame[spec.time].notna() & (frame[spec.time].astype(str).str.strip() != "")
    if times.notna().sum() < PARSE_SHARE * max(1, int(present.sum())) or not times.notna().any():
        example = frame[spec.time][present & times.isna()]
        shown = f" (e.g. {example.iloc[0]!r})" if len(example) else ""
        raise DataError(f"column {spec.time!r} does not hold dates or times{shown}; choose the date/time column")
    dropped = int(times.isna().sum())
    warnings = [f"{dropped} row(s) without a readable time in {spec.time!r} left out"] if dropped else []
    return times, warnings


def _value_columns(frame: pd.DataFrame, spec: ForecastSpec) -> tuple[tuple[str, ...], str]:
    others = [n for n in frame.columns if n != spec.time]
    values = tuple(spec.values) or numeric_columns(frame, spec.time)
    target = spec.target.strip() if spec.target else None
    if target is not None and target not in values:
        values = (*values, target)
    for name in values:
        if name not in frame.columns or name == spec.time:
            raise DataError(f"no value column {name!r}; the columns besides the time are "
                            + ", ".join(repr(n) for n in others[:12]))
    if not values:
        raise DataError(f"no numeric column besides the time {spec.time!r}; a series needs a column of numbers")
    return values, target or values[-1]


def numeric_columns(frame: pd.DataFrame, time: str) -> tuple[str, ...]:
    """The columns besides ``time`` whose values are (nearly all) numbers: the default value columns."""
    out = []
    for name in frame.columns:
        column = frame[name]
        present = column.notna() & (column.astype(str).str.strip() != "")
        if name != time and present.any() and np.isfinite(as_number(column[present])).mean() >= PARSE_SHARE:
            out.append(name)
    return tuple(out)


def _numbers(column: pd.Series, name: str) -> tuple[np.ndarray, int]:
    x = as_number(column)
    present = column.notna() & (column.astype(str).str.strip() != "")
    bad = present.to_numpy() & np.isnan(x)
    if bad.sum() > (1 - PARSE_SHARE) * max(1, int(present.sum())):
        raise DataError(f"value column {name!r} holds text, not numbers (e.g. {column[bad].iloc[0]!r}); leave it "
                        "out of the value columns or fix its values")
    if np.isnan(x).all():
        raise DataError(f"value column {name!r} has no numbers; leave it out of the value columns")
    missing = int(np.isnan(x).sum())
    if missing:
        x = pd.Series(x).interpolate(limit_direction="both").to_numpy()
    return x, missing


def gaps_of(file_times: pd.Series) -> tuple[np.ndarray, Gaps]:
    """The stable order that sorts ``file_times`` and what the sorted steps look like."""
    t = file_times.to_numpy(dtype="datetime64[ns]")
    order = np.argsort(t, kind="stable")
    out_of_order = int((np.diff(t.astype(np.int64)) < 0).sum())
    steps = np.diff(t[order].astype(np.int64))
    duplicates = int((steps == 0).sum())
    positive = steps[steps > 0]
    if not len(positive):
        raise DataError("the series needs at least two different times")
    values, counts = np.unique(positive, return_counts=True)
    interval = int(values[np.argmax(counts)])
    longer = positive[positive > interval]
    return order, Gaps(pd.Timedelta(interval, "ns"), int(len(longer)), pd.Timedelta(int(positive.max()), "ns"),
                       out_of_order, duplicates)


def split_windows(n_windows: int, horizon: int, validation_split: float) -> tuple[int, int]:
    """Training and validation window counts: the last share validates, ``horizon`` windows between are dropped."""
    if not 0.0 < validation_split < 1.0:
        raise DataError(f"validation split must be between 0 and 1, got {validation_split}")
    n_val = max(1, int(round(n_windows * validation_split)))
    return n_windows - n_val - horizon, n_val


def seasonal_lag(season: int, horizon: int) -> int:
    """The seasonal baseline's lag: the fewest whole seasons that reach at least ``horizon`` steps back."""
    return season * max(1, -(-horizon // season))


def infer_season(target: np.ndarray, interval: pd.Timedelta, chosen: int = 0) -> tuple[int, str]:
    """The season in steps and why: chosen, from the calendar (daily data: 7), or the autocorrelation peak."""
    if chosen:
        return chosen, "chosen"
    if interval in CALENDAR:
        return CALENDAR[interval]
    x = target - target.mean()
    lags = range(2, max(3, min(len(x) // 3, 1000)))
    denom = float((x * x).sum()) or 1.0
    acf = np.array([float((x[:-lag] * x[lag:]).sum()) / denom for lag in lags])
    best = int(np.argmax(acf)) if len(acf) else 0
    return (lags[best], f"autocorrelation peak ({acf[best]:.2f} at {lags[best]} steps)") if len(acf) else (1, "none")


def understand(raw: RawUpload, spec: ForecastSpec, validation_split: float = 0.2) -> ForecastPreview:
    """What a series holds and how many windows it makes, checked down to the split by time."""
    frame = raw.frame
    if frame is None:
        raise DataError(f"forecasting reads a CSV table with a date/time column; {raw.filename!r} is {raw.kind}")
    times, warnings = _times(frame, spec)
    values, target = _value_columns(frame, spec)
    keep = times.notna().to_numpy()
    order, gaps = gaps_of(times[keep])
    rows = frame.loc[keep].iloc[order]
    columns = []
    for name in values:
        x, missing = _numbers(rows[name].reset_index(drop=True), name)
        columns.append(x)
        if missing:
            warnings.append(f"{missing} missing value(s) in {name!r} filled in by linear interpolation over time")
    matrix = np.column_stack(columns)
    n_windows = len(matrix) - spec.window - spec.horizon + 1
    if n_windows < 1:
        raise DataError(f"a window of {spec.window} steps and a horizon of {spec.horizon} need at least "
                        f"{spec.window + spec.horizon} rows and the series has {len(matrix)}; shorten the window "
                        "or the horizon")
    n_train, n_val = split_windows(n_windows, spec.horizon, validation_split)
    if n_train < 2:
        raise DataError(f"the series makes {n_windows} window(s), too few to leave training windows before the "
                        f"{n_val} validation one(s) and a gap of {spec.horizon}; shorten the window or the horizon, "
                        "or lower the validation split")
    if n_windows * spec.window * len(values) > MAX_CELLS:
        raise DataError(f"{n_windows} windows of {spec.window} steps x {len(values)} columns are too many numbers "
                        f"(at most {MAX_CELLS:,}); shorten the window or use fewer value columns")
    target_index = values.index(target)
    train_rows = n_train + spec.window + spec.horizon - 1
    season, reason = infer_season(matrix[:train_rows, target_index], gaps.interval, spec.season)
    resolved = ForecastSpec(spec.time, spec.window, spec.horizon, target, values, spec.season)
    return ForecastPreview(raw, resolved, pd.DatetimeIndex(times[keep].iloc[order]), matrix, gaps, season, reason,
                           n_train, n_val, tuple(warnings + gaps.warnings(spec.time)))


def windows(z: np.ndarray, window: int, horizon: int, target_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Every window ``(n, window, features)`` of the rows ``z`` and the target ``horizon`` steps after each."""
    n = len(z) - window - horizon + 1
    x = np.lib.stride_tricks.sliding_window_view(z, window, axis=0)[:n].transpose(0, 2, 1)
    return np.ascontiguousarray(x, dtype=np.float32), z[window - 1 + horizon:, target_index][:n].astype(np.float32)


def to_dataset(raw: RawUpload, spec: ForecastSpec, name: str = "", validation_split: float = 0.2) -> Dataset:
    """The series as a regression Dataset of windows, split by time (no seed: nothing is drawn at random)."""
    p = understand(raw, spec, validation_split)
    s = p.spec
    train_rows = p.n_train + s.window + s.horizon - 1  # the rows the training windows and targets touch
    mean = p.values[:train_rows].mean(axis=0)
    std = p.values[:train_rows].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    target_index = s.values.index(str(s.target))
    x, y = windows((p.values - mean) / std, s.window, s.horizon, target_index)
    start = p.n_windows - p.n_val
    val_times = p.times[s.window - 1 + s.horizon + start:][-VAL_TIMES:]
    params = {"forecast": {**s.to_dict(), "target_index": target_index, "mean": [float(m) for m in mean],
                           "std": [float(v) for v in std], "season": p.season, "season_reason": p.season_reason,
                           "interval": duration(p.gaps.interval), "val_times": [t.isoformat() for t in val_times]}}
    features = tuple(f"{c}[t-{k}]" for k in range(s.window - 1, -1, -1) for c in s.values)
    return Dataset(
        name=name or Path(raw.filename).stem, task="regression", modality="sequence",
        x_train=x[:p.n_train], y_train=y[:p.n_train], x_val=x[start:], y_val=y[start:], feature_names=features,
        preprocessing=Preprocessing("identity", params),
        description=f"Forecast of {s.target!r} {s.horizon} step(s) ahead from windows of {s.window} steps of "
                    f"{', '.join(s.values)} in {raw.filename} ({p.n_rows} times every {duration(p.gaps.interval)}): "
                    f"{p.n_train} training windows, then a gap of {s.horizon}, then the last {p.n_val} for "
                    f"validation; season {p.season} steps ({p.season_reason}).")


def params(ds: Dataset) -> Mapping[str, Any]:
    """The forecast's layout and scaling kept with a Dataset (or a model's preprocessing dict)."""
    prep = ds.preprocessing.params if isinstance(ds, Dataset) else Preprocessing.from_dict(ds).params
    if "forecast" not in prep:
        raise DataError(f"{getattr(ds, 'name', 'this data')!r} is not a forecast of a series; load it with a time "
                        "column (--time COL)")
    return prep["forecast"]


def to_units(values: np.ndarray, ds: Dataset) -> np.ndarray:
    """Scaled target values (targets or predictions) back to the target column's units."""
    p = params(ds)
    j = int(p["target_index"])
    return np.asarray(values, dtype=np.float64).reshape(-1) * p["std"][j] + p["mean"][j]


def baseline_forecasts(ds: Dataset) -> dict[str, np.ndarray]:
    """The baselines' forecasts of the validation targets, in units: the last value of each window, and the
    seasonal value when the window reaches that far back."""
    p = params(ds)
    j, window, horizon = int(p["target_index"]), int(p["window"]), int(p["horizon"])
    out = {"last value": to_units(ds.x_val[:, -1, j], ds)}
    lag = seasonal_lag(int(p["season"]), horizon)
    if lag <= window - 1 + horizon:
        out["seasonal"] = to_units(ds.x_val[:, window - 1 + horizon - lag, j], ds)
    return out


def baselines(ds: Dataset) -> dict[str, float]:
    """Each baseline's MAE on the validation windows, in the target's units."""
    truth = to_units(ds.y_val, ds)
    return {name: float(np.mean(np.abs(f - truth))) for name, f in baseline_forecasts(ds).items()}


@dataclass(frozen=True, eq=False)
class ForecastResult:
    """A model's forecast over the validation period beside the truth and the baselines, in units."""

    times: tuple[str, ...]
    actual: np.ndarray
    forecast: np.ndarray
    baselines: Mapping[str, np.ndarray]
    target: str
    horizon: int

    @property
    def mae(self) -> float:
        return float(np.mean(np.abs(self.forecast - self.actual)))

    def baseline_mae(self) -> dict[str, float]:
        return {k: float(np.mean(np.abs(v - self.actual))) for k, v in self.baselines.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"mae": self.mae, "baselines": self.baseline_mae(), "beats_last_value": self.mae
                < self.baseline_mae()["last value"], "target": self.target, "horizon": self.horizon}


def result(ds: Dataset, predicted: np.ndarray) -> ForecastResult:
    """The forecast of the validation windows (the model's scaled outputs ``predicted``) against the truth."""
    p = params(ds)
    last = slice(ds.n_val - len(p["val_times"]), None)  # the windows whose times were kept (the last ones)
    base = {k: v[last] for k, v in baseline_forecasts(ds).items()}
    return ForecastResult(tuple(p["val_times"]), to_units(ds.y_val, ds)[last], to_units(predicted, ds)[last], base,
                          str(p["target"]), int(p["horizon"]))


def predict(model: Any, ds: Dataset, batch_size: int = 256) -> ForecastResult:
    """A trained model's forecast of the validation windows (``result`` of its predictions)."""
    return result(ds, np.asarray(model.predict(ds.x_val, batch_size=batch_size, verbose=0)))


__all__ = ["ForecastPreview", "ForecastResult", "ForecastSpec", "Gaps", "baselines", "infer_season",
           "numeric_columns", "predict", "result", "to_dataset", "to_units", "understand"]
