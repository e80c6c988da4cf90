"""Driving the app in Chromium as a user does: the sidebar's links (so that the session keeps its state), select
boxes and number inputs found by their labels, waits on the app's own state instead of fixed sleeps, and
full-page screenshots. Shared by the browser tests and the benches that run the app (bench/sessions.py,
bench/server_memory.py)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

NOT_RUNNING = "notRunning"


def settled(page: Any, timeout: float = 120_000) -> None:
    """Wait until the page's script run is over (Streamlit marks ``stApp`` with its state)."""
    page.wait_for_function(
        "() => { const a = document.querySelector('[data-testid=\"stApp\"]');"
        f" return a && a.dataset.testScriptState === '{NOT_RUNNING}'; }}", timeout=timeout)


def open_page(page: Any, title: str, timeout: float = 120_000) -> None:
    """Click the sidebar's link to ``title`` (the session and its state stay) and wait for the page's title."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has=page.get_by_text(title, exact=True)).click()
    page.wait_for_selector(f'[data-testid="stMainBlockContainer"] h1:has-text("{heading(title)}")', timeout=timeout)
    settled(page, timeout)


def heading(title: str) -> str:
    """The page's own title for a navigation title (the home page's differs)."""
    return {"Home": "Interpretable deep learning"}.get(title, title)


def choose(page: Any, label: str, option: str | re.Pattern[str], timeout: float = 60_000) -> None:
    """Pick ``option`` (its text, or a pattern) in the select box labelled ``label``."""
    page.get_by_role("combobox", name=label, exact=True).click(timeout=timeout)
    page.get_by_role("option", name=option).first.click(timeout=timeout)
    settled(page, timeout)


def set_number(page: Any, label: str, value: float) -> None:
    """Type ``value`` into the number input labelled ``label`` (inside a form, it is sent with the form)."""
    box = page.get_by_role("spinbutton", name=label, exact=True)
    box.fill(str(value))
    box.press("Tab")


def exception_text(page: Any) -> str | None:
    """The text of the first exception box on the page, or None."""
    box = page.query_selector('[data-testid="stException"]')
    return box.inner_text() if box is not None else None


def shot(page: Any, folder: Path, name: str) -> Path:
    """A screenshot ``folder/name.png`` of the whole page: Streamlit scrolls inside its main block, not the
    document, so the window is made as tall as that block for the picture, then set back."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 0")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height), 12_000))})
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path
