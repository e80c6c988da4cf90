"""The shipped Streamlit settings keep the server safe by default: this machine only, XSRF and CORS on."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_settings_file_says_this_machine_only_with_xsrf_protection() -> None:
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["address"] == "127.0.0.1"
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True


def test_streamlit_started_in_the_project_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit import config

    monkeypatch.chdir(ROOT)  # `streamlit run app.py` reads ./.streamlit/config.toml
    try:
        config.get_config_options(force_reparse=True)
        assert config.get_option("server.address") == "127.0.0.1"
        assert config.get_option("server.enableXsrfProtection") is True
    finally:
        monkeypatch.undo()
        config.get_config_options(force_reparse=True)
