"""Shared fixtures: every test session writes into its own temporary DLCORE_HOME."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def pytest_configure(config: pytest.Config) -> None:
    """Import TensorFlow once, before any test, with its native start-up lines (the CUDA stub, absl's
    pre-initialisation warning, the failed cuInit on machines without a GPU) dropped: no environment variable
    silences them, and they would otherwise flood the output of every test that imports it. Errors after
    start-up still reach stderr."""
    from dlcore.cli import quiet_import_tensorflow

    quiet_import_tensorflow()


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace shared by the whole session (for expensive models trained once)."""
    return tmp_path_factory.mktemp("dlcore_home")


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh workspace for one test, also set as DLCORE_HOME for code that reads the environment."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("DLCORE_HOME", str(folder))
    return folder
