"""A user trains a tiny model in Chromium: curves appear, the job finishes, no console errors; then explains it
with Grad-CAM."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ROOT, real_errors, running_app

pytestmark = pytest.mark.browser


def test_every_page_opens_without_an_exception(page, server) -> None:
    page.goto(server, wait_until="networkidle")
    page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=60_000)
    links = page.eval_on_selector_all('[data-testid="stSidebarNav"] a', "els => els.map(e => e.href)")
    assert len(links) >= 4
    for href in links:
        page.goto(href, wait_until="networkidle")
        page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=60_000)
        page.wait_for_timeout(1500)
        assert page.query_selector('[data-testid="stException"]') is None, href
    assert real_errors(page.console_errors) == []


def test_train_two_epochs_and_see_the_curves(page, server) -> None:
    page.goto(f"{server}/train", wait_until="networkidle")
    page.wait_for_selector("text=Train", timeout=60_000)
    epochs = page.get_by_label("Epochs")
    epochs.fill("2")
    page.get_by_role("button", name="Train").click()
    page.wait_for_selector('[data-testid="stPlotlyChart"]', timeout=120_000)
    page.wait_for_selector("text=Done: finished 2 epoch(s)", timeout=120_000)
    # curves, confusion matrix, scores: the results are drawn in the rerun after the job ends
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length >= 3",
                           timeout=60_000)
    assert page.query_selector('[data-testid="stException"]') is None
    page.screenshot(path=str(page.context.browser and "/tmp/train-done.png"), full_page=True)
    assert real_errors(page.console_errors) == []
    # the CNN just trained, explained with Grad-CAM beside SHAP and LIME
    page.goto(f"{server}/explain", wait_until="networkidle")
    box = page.locator('[data-testid="stMultiSelect"] input').first
    box.wait_for(timeout=120_000)
    box.fill("Grad-CAM")
    box.press("Enter")
    page.wait_for_selector("text=GRADCAM (gradcam-", timeout=180_000)
    assert page.query_selector('[data-testid="stException"]') is None
    assert real_errors(page.console_errors) == []


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
