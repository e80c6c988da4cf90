"""AppTest helpers: the app as a user opens it, with a workspace of the test's own."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dlcore import jobs
from dlcore.models import ModelSpec, TrainConfig
from dlcore.training import run_job

ROOT = Path(__file__).resolve().parents[2]


def charts_by_title(at: AppTest) -> dict[str, dict]:
    """The page's Plotly figures as JSON specs, by title."""
    import json

    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {(s["layout"].get("title") or {}).get("text", ""): s for s in specs}


def open_page(page: str | None = None, timeout: float = 60) -> AppTest:
    """Run app.py (navigation, sidebar) and switch to ``app_pages/<page>.py``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.run()
    if page:
        at.switch_page(f"app_pages/{page}.py")
        at.run()
    return at


@pytest.fixture(scope="session")
def trained_home(session_home: Path) -> Path:
    """A workspace holding one finished classification job and one regression job (trained in-process)."""
    for data in ("iris", "diabetes"):
        cfg = TrainConfig(data=data, model=ModelSpec(units=(8,)), epochs=3, learning_rate=0.01)
        status = run_job(jobs.create(cfg, session_home))
        assert status["state"] == "done", status
    return session_home
