"""A CSV above the streaming threshold trains from chunks: same preprocessing, same rows, same errors as in memory."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlcore.data.stream import StreamSettings, is_validation, streams
from dlcore.errors import DataError

ROWS = 24_000
SETTINGS = StreamSettings(min_bytes=1, sample_rows=5_000, val_rows=100_000, chunk_rows=4_000, shuffle_rows=3_000)
ENV = {"DLCORE_STREAM_MB": "0.5", "DLCORE_STREAM_SAMPLE_ROWS": "5000", "DLCORE_STREAM_CHUNK_ROWS": "4000",
       "DLCORE_STREAM_SHUFFLE_ROWS": "3000"}


def write_table(path: Path, n: int, seed: int = 0) -> Path:
    """10 numbers, 2 categories (one with gaps), a binary target that depends on both."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 10))
    colour = rng.choice(["red", "green", "blue", "grey"], size=n).astype(object)
    colour[rng.random(n) < 0.05] = None
    city = rng.choice([f"c{i}" for i in range(6)], size=n)
    logit = x[:, :4] @ np.array([1.5, -1.0, 1.0, 0.5]) + np.where(colour == "red", 1.5, 0.0) - (city == "c3") * 1.5
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(10)]).round(4)
    frame["colour"], frame["city"], frame["target"] = colour, city, (logit + rng.logistic(size=n) * 0.5 > 0).astype(int)
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_table(tmp_path_factory.mktemp("stream") / "big.csv", ROWS)


@pytest.fixture(scope="session")
def streamed(table: Path):
    from dlcore.data.streamed import load_streamed

    return load_streamed(table, settings=SETTINGS)


def training_rows(table: Path, ds) -> pd.DataFrame:
    """The rows the stream should train on, found with pandas on the whole file."""
    frame = pd.read_csv(table)
    frame = frame[~is_validation(np.arange(len(frame)), ds.stream.seed, ds.stream.val_share)]
    return frame[frame["target"].notna()]


def test_a_path_above_the_threshold_streams_and_uploads_stay_capped(table: Path, home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from dlcore.data import load_dataset
    from dlcore.data.readers import read_bytes

    assert load_dataset(str(table)).stream is None  # 1.9 MB: far below the default threshold
    for var, value in ENV.items():
        monkeypatch.setenv(var, value)
    ds = load_dataset(str(table))
    assert ds.stream is not None and ds.stream.n_rows == ROWS and ds.n_train == 5_000
    assert ds.epoch_rows == ds.stream.n_train > 0.75 * ROWS and ds.epoch_rows + ds.n_val == ROWS
    zip_like = table.parent / "archive.csv"
    zip_like.write_bytes(b"PK\x03\x04" + b"0" * 600_000)
    assert not streams(zip_like)  # only tables stream
    monkeypatch.setenv("DLCORE_MAX_UPLOAD_MB", "0.5")
    with pytest.raises(DataError, match="above the 0.5 MB upload cap"):
        read_bytes(table.read_bytes(), "big.csv")  # an upload is refused as before, never streamed


def test_preprocessing_equals_the_in_memory_fit_on_the_same_rows(table: Path) -> None:
    from dlcore.data.preprocess import fit_tabular
    from dlcore.data.readers import read_path
    from dlcore.data.streamed import load_streamed
    from dlcore.data.upload import understand

    whole = load_streamed(table, settings=StreamSettings(min_bytes=1, sample_rows=ROWS, chunk_rows=4_000))
    assert whole.n_train == whole.epoch_rows  # the sample holds every training row
    preview = understand(read_path(table))  # the in-memory path's reading of the whole file
    rows = training_rows(table, whole)
    used = [c for c in preview.columns if c.use]
    expected = fit_tabular(rows[[c.name for c in used]], {c.name: str(c.use) for c in used}).params["columns"]
    got = whole.preprocessing.params["columns"]
    assert [(c["name"], c["kind"], c.get("categories")) for c in got] == \
        [(c["name"], c["kind"], c.get("categories")) for c in expected]
    for g, e in zip(got, expected):
        for key in ("fill", "mean", "scale"):
            if key in e:
                assert g[key] == pytest.approx(e[key], rel=1e-6, abs=1e-9), (g["name"], key)


def test_a_sampled_fit_is_close_to_the_in_memory_loader(table: Path, streamed) -> None:
    from dlcore.data.upload import load_file

    memory = load_file(table).preprocessing.params["columns"]  # its own stratified split, every training row
    sampled = streamed.preprocessing.params["columns"]
    assert [(c["name"], c.get("categories")) for c in sampled] == [(c["name"], c.get("categories")) for c in memory]
    for s, m in zip(sampled, memory):
        if s["kind"] == "numeric":  # 5,000 rows: the mean's standard error is 0.014 standard deviations
            assert abs(s["mean"] - m["mean"]) < 0.06 * m["scale"], s["name"]
            assert s["scale"] == pytest.approx(m["scale"], rel=0.05), s["name"]


def test_batches_are_the_in_memory_transform_of_the_training_rows(table: Path, streamed) -> None:
    stream = streamed.stream
    rows = training_rows(table, streamed)
    x = streamed.preprocessing.transform(rows[list(stream.features)])
    y = rows["target"].to_numpy()
    assert stream.n_train == len(rows)
    plain = list(stream.batches(256, shuffle=False))
    assert len(plain) == stream.steps(256) == math.ceil(len(rows) / 256)
    np.testing.assert_allclose(np.concatenate([b[0] for b in plain]), x, atol=1e-6)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in plain]), y)
    epoch0, again, epoch1 = (list(stream.batches(256, epoch=e)) for e in (0, 0, 1))
    assert len(epoch0) == stream.steps(256) and all(len(b[0]) == 256 for b in epoch0[:-1])
    x0, y0 = np.concatenate([b[0] for b in epoch0]), np.concatenate([b[1] for b in epoch0])
    np.testing.assert_array_equal(x0, np.concatenate([b[0] for b in again]))  # seeded: an epoch repeats
    assert not np.array_equal(x0, np.concatenate([b[0] for b in epoch1]))  # and each epoch reshuffles
    assert not np.array_equal(x0, x)
    order, ref = np.lexsort(x0.T), np.lexsort(x.T)  # the same rows, each once, with their own labels
    np.testing.assert_allclose(x0[order], x[ref], atol=1e-6)
    np.testing.assert_array_equal(y0[order], y[ref])


def test_a_streamed_job_trains_and_its_record_says_so(table: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dlcore import jobs
    from dlcore.explain import explain
    from dlcore.models import ModelSpec, TrainConfig
    from dlcore.store import ModelStore
    from dlcore.training import run_job

    for var, value in ENV.items():
        monkeypatch.setenv(var, value)
    config = TrainConfig(data=str(table), target="target", model=ModelSpec(arch="mlp", units=(16,)), epochs=2,
                         batch_size=256, learning_rate=3e-3, seed=0)
    status = run_job(jobs.create(config, home))
    assert status["state"] == "done", status.get("message")
    meta = ModelStore(home).get(status["model_id"]).meta
    assert meta.dataset.streamed and meta.dataset.fit_rows == 5_000
    assert meta.dataset.n_train > 0.75 * ROWS and meta.dataset.n_train + meta.dataset.n_val == ROWS
    assert all(math.isfinite(r["loss"]) for r in meta.history) and len(meta.history) == 2
    support = np.asarray(meta.evaluation["support"])
    assert meta.evaluation["accuracy"] > support.max() / support.sum() + 0.1  # well above the majority class
    assert meta.metrics["val_accuracy"] == pytest.approx(meta.evaluation["accuracy"], abs=1e-3)
    ds = meta.training_dataset()  # read again as it was trained: the same seeded rows, streamed again
    assert ds.stream is not None and ds.n_val == meta.dataset.n_val and ds.epoch_rows == meta.dataset.n_train
    model = ModelStore(home).load(status["model_id"])
    attr = explain(model, ds.x_val[:4], "ig", background=ds.x_train, baseline="mean", seed=0)
    assert attr.values.shape == (4, ds.input_shape[0]) and np.abs(attr.values).sum() > 0
    assert np.max(np.abs(attr.additivity_gap())) < 0.02  # the attributions add up to f(x) - f(mean row)


def test_bad_files_get_the_in_memory_messages(table: Path, tmp_path: Path) -> None:
    from dlcore.data.streamed import load_streamed
    from dlcore.data.upload import Choices, load_file

    text = table.read_text().splitlines(keepends=True)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("".join(text[:10_001] + ["1,2,3,4,5,6,7,8,9,10,red,c1,0,99\n"] + text[10_001:12_000]))
    with pytest.raises(DataError) as memory:
        load_file(ragged)
    with pytest.raises(DataError) as stream:
        load_streamed(ragged, settings=SETTINGS)  # the bad line is in the third chunk
    assert str(stream.value) == str(memory.value) and "line 10002 has 14 fields" in str(stream.value)
    with pytest.raises(DataError) as memory:
        load_file(table, target="income")
    with pytest.raises(DataError) as stream:
        load_streamed(table, Choices(target="income"), settings=SETTINGS)
    assert str(stream.value) == str(memory.value) and "no column 'income'" in str(stream.value)


def test_a_train_limit_picks_from_the_sample_in_memory(streamed) -> None:
    from dlcore.data.subset import limit_train

    small = limit_train(streamed, 1_000, seed=0)
    assert small.stream is None and small.n_train == 1_000 and small.n_val == streamed.n_val
    assert limit_train(streamed, 10**9) is streamed
    with pytest.raises(DataError, match="above the 5000 training rows kept in memory"):
        limit_train(streamed, 10_000)
