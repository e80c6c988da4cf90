"""A model file can pass every configuration check and still declare layers or inputs so large that building
or checking it exhausts the server's memory. The import loads and checks it first in a child process capped at
``DLCORE_IMPORT_MEMORY_MB`` (set low here, so no test allocates gigabytes) and ``DLCORE_IMPORT_SECONDS``; a
child that runs out means a refusal, and this process never loads the file nor grows."""
from __future__ import annotations

import resource
import threading
from pathlib import Path

import keras
import numpy as np
import pytest

from dlcore import jobs
from dlcore.errors import ModelError, UnsafeModelError
from dlcore.importer import import_model
from dlcore.store import ModelStore
from tests.unit.test_safe_import import good_file as good_file  # a fixture: pytest finds it by this name
from tests.unit.test_safe_import import layer, refused, rewrite

pytestmark = pytest.mark.slow
LIMIT_MB = 3072  # TensorFlow itself takes about 2 GiB of address space in the checking process


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024


class PeakRss:
    """This process's resident memory sampled every 5 ms while the block runs: ``grew`` is the peak minus
    the start, in MiB."""

    def __enter__(self) -> PeakRss:
        self.start, self.peak, self._stop = _rss_mb(), 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_mb())
            self._stop.wait(0.005)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.grew = max(self.peak, _rss_mb()) - self.start


def _enlarge(config: dict, inputs: list, units: int | None = None) -> None:
    """A config whose input is ``inputs`` and whose first Dense has ``units`` (weights file unchanged)."""
    entry = next(e for e in config["config"]["layers"] if e["class_name"] == "InputLayer")
    entry["config"]["batch_shape"] = [None, *inputs]
    dense, output = layer(config, "dense"), layer(config, "output")
    dense["build_config"]["input_shape"] = [None, *inputs]
    if units is not None:
        dense["config"]["units"] = units
    output["build_config"]["input_shape"] = [None, *inputs[:-1], dense["config"]["units"]]


@pytest.fixture()
def capped(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("DLCORE_IMPORT_MEMORY_MB", str(LIMIT_MB))
    return LIMIT_MB


@pytest.mark.parametrize("inputs, units, allocation", [
    ([10**5], 10**6, "a tensor of shape (100000,1000000) could not be allocated"),  # 400 GB of Dense kernel
    ([10**5], 10**4, "a tensor of shape (100000,10000) could not be allocated"),  # 4 GB
    ([5000, 6500, 6], None, "Unable to allocate 1.45 GiB"),  # a giant input (same weights): the check's zeros
], ids=["400GB-dense", "4GB-dense", "giant-input"])
def test_a_config_that_needs_more_memory_than_the_limit_is_refused_without_the_server_growing(
        good_file: Path, tmp_path: Path, home: Path, capped: int, inputs: list, units: int | None,
        allocation: str) -> None:
    path = rewrite(good_file, tmp_path / "hostile.keras", lambda config: _enlarge(config, inputs, units))
    with PeakRss() as rss:
        message = refused(path, home, "refused hostile.keras: the model needs more memory than the import limit "
                          f"allows (DLCORE_IMPORT_MEMORY_MB={capped} MiB; ", allocation,
                          "raise DLCORE_IMPORT_MEMORY_MB")
    assert "\n" not in message
    assert rss.grew < 150, f"this process grew by {rss.grew:.0f} MiB"
    children_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert children_peak_mb < capped


def test_a_normal_import_works_under_the_same_limit_and_loads_nothing_here_first(
        good_file: Path, home: Path, capped: int, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    run_limited = jobs.run_limited

    def spy(args: list[str], memory_mb: int, timeout: float, **env: str) -> jobs.LimitedRun:
        calls.append([*args, str(memory_mb), str(timeout), env["CUDA_VISIBLE_DEVICES"]])
        return run_limited(args, memory_mb, timeout, **env)

    monkeypatch.setattr(jobs, "run_limited", spy)
    record = import_model(good_file, home, class_names=["a", "b", "c"])
    assert [c[0] for c in calls] == ["check-import"] and calls[0][-3:] == [str(capped), "120.0", ""]
    assert record.meta.class_names == ("a", "b", "c") and record.meta.input_shape == (6,)
    x = np.random.default_rng(1).normal(size=(3, 6)).astype("float32")
    original = keras.saving.load_model(good_file, compile=False, safe_mode=True)
    np.testing.assert_allclose(ModelStore(home).load(record.model_id).predict_on_batch(x),
                               original.predict_on_batch(x), rtol=1e-6)


def test_the_childs_refusals_arrive_as_they_were_raised(good_file: Path, tmp_path: Path, home: Path,
                                                        capped: int) -> None:
    def mismatch(config: dict) -> None:
        _enlarge(config, [6], 9)  # fits in memory; the weights file holds an 8-unit kernel

    path = rewrite(good_file, tmp_path / "mismatch.keras", mismatch)
    with pytest.raises(ModelError, match="mismatch.keras passed the safety checks but Keras could not load it") as info:
        import_model(path, home)
    assert type(info.value) is ModelError and ModelStore(home).list() == []
    with pytest.raises(ModelError, match="4 class names given, but the model has 3 output"):
        import_model(good_file, home, class_names=["a", "b", "c", "d"])


def test_running_out_of_time_is_a_refusal(good_file: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLCORE_IMPORT_SECONDS", "0.5")  # TensorFlow alone takes longer to start
    refused(good_file, home, "refused good.keras: loading and checking the model took longer than the import limit "
            "allows (DLCORE_IMPORT_SECONDS=0.5 s); if you trust the file, raise DLCORE_IMPORT_SECONDS")


def test_a_limit_too_low_for_tensorflow_itself_says_so(good_file: Path, home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLCORE_IMPORT_MEMORY_MB", "1000")
    with pytest.raises(ModelError, match=r"the import check could not start \(exit code 1: .*Error.*\); TensorFlow "
                                         r"itself may not fit in DLCORE_IMPORT_MEMORY_MB=1000 MiB: raise it") as info:
        import_model(good_file, home)
    assert not isinstance(info.value, UnsafeModelError) and ModelStore(home).list() == []


@pytest.mark.parametrize("name, value", [("DLCORE_IMPORT_MEMORY_MB", "lots"), ("DLCORE_IMPORT_SECONDS", "-5"),
                                         ("DLCORE_IMPORT_SECONDS", "nan")])
def test_bad_limits_are_named(good_file: Path, home: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                              value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ModelError, match=f"{name}='{value}' is not a positive number; set it to one, or unset it"):
        import_model(good_file, home)


def test_run_limited_caps_the_child_and_kills_it_at_the_time_limit() -> None:
    fine = jobs.run_limited(["--version"], 256, 30)
    assert fine.returncode == 0 and fine.stdout.startswith("dlcore ") and not fine.timed_out
    starved = jobs.run_limited(["datasets", "--json"], 64, 30)  # numpy alone needs more address space
    assert starved.returncode == 1 and ("MemoryError" in starved.stderr or "failed to map" in starved.stderr)
    slow = jobs.run_limited(["datasets", "--json"], 4096, 0.05)
    assert slow.timed_out and slow.returncode is None
