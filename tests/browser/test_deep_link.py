"""A deep link on a fresh server gets the app's navigation. Training in the browser, explaining (Grad-CAM
included) and every page opening are walked by test_journey.py."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ROOT, running_app

pytestmark = pytest.mark.browser


def test_a_deep_link_on_a_fresh_server_still_gets_the_app_navigation(browser, tmp_path) -> None:
    with running_app(tmp_path) as url:  # first visit of this server process goes straight to /models
        pg = browser.new_page()
        pg.goto(f"{url}/models", wait_until="networkidle")
        pg.wait_for_selector("text=Training device", timeout=60_000)  # app.py's sidebar ran
        nav = pg.eval_on_selector_all('[data-testid="stSidebarNav"] a',
                                      "els => els.map(e => e.innerText.trim().split('\\n').pop())")
        titles = re.findall(r'st\.Page\([^)]*title="([^"]+)"', (ROOT / "app.py").read_text())
        assert nav == titles and len(titles) >= 6  # app.py's own navigation, not file names
        pg.wait_for_selector("h1:has-text('Models')", timeout=60_000)  # the page itself, under app.py
        pg.close()
