"""Three browser sessions train at once: the app started as a user starts it, three Chromium contexts (separate
Streamlit sessions, as three people), each on the Train page with its own data set and epochs (iris 2, wine 3,
breast_cancer 4), Train pressed in each within a second. Every half second each page is read: the job it shows
(its select box and the job caption) must be its own, never another session's, and the queue place it shows is
kept; at the end each shows its own job done with its own epochs. Reports the wall time from the first press to
the last job done, the states each session saw, and the workers the queue allowed (``DLCORE_MAX_WORKERS``,
default one per two cores).

Run: ``python bench/sessions.py`` from the project root. The last line is one JSON object.
"""
from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dlcore.jobs import max_workers  # noqa: E402
from tests.browser.app_driver import choose, open_page, set_number, settled  # noqa: E402
from tests.browser.conftest import CHROMIUM, running_app  # noqa: E402

WAIT = 300_000  # ms
PLAN = (("iris", 2), ("wine", 3), ("breast_cancer", 4))
CAPTION = re.compile(r"Job (j-[\w-]+) · mlp on (\w+)")


def read(page) -> tuple[str, list[tuple[str, str]], str]:
    """The chosen job's label, the job captions on the page, and its progress line."""
    text = page.inner_text('[data-testid="stMain"]')
    chosen = page.get_by_role("combobox", name="Job").input_value() if "Jobs" in text else ""
    progress = next((line for line in text.splitlines() if line.startswith(("queued", "starting", "epoch ", "Done"))),
                    "")
    return chosen, CAPTION.findall(text), progress


def main() -> dict:
    from playwright.sync_api import sync_playwright

    with running_app(Path(tempfile.mkdtemp(prefix="sessions-"))) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        pages = [browser.new_context(viewport={"width": 1400, "height": 1000}).new_page() for _ in PLAN]
        for page, (data, epochs) in zip(pages, PLAN):
            page.goto(url, wait_until="networkidle")
            settled(page, WAIT)
            open_page(page, "Train", WAIT)
            choose(page, "Data set", data)
            set_number(page, "Epochs", epochs)
        t0 = time.perf_counter()
        for page in pages:
            page.get_by_role("button", name="Train").click()
        seen = {data: [] for data, _ in PLAN}
        finished: dict[str, float] = {}
        while len(finished) < len(PLAN) and time.perf_counter() - t0 < WAIT / 1000:
            for page, (data, epochs) in zip(pages, PLAN):
                chosen, captions, progress = read(page)
                others = [d for _, d in captions if d != data]
                assert not others, f"the {data} session shows another session's job: {captions}"
                assert not chosen or f"mlp on {data}" in chosen, f"the {data} session has {chosen!r} chosen"
                state = progress.split(":")[0].split(",")[0]
                if state and (not seen[data] or seen[data][-1] != state):
                    seen[data].append(state)
                if progress == f"Done: finished {epochs} epoch(s)" and data not in finished:
                    finished[data] = round(time.perf_counter() - t0, 1)
            time.sleep(0.5)
        browser.close()
    assert len(finished) == len(PLAN), f"not every session saw its job done: {finished}"
    for data, states in seen.items():
        print(f"{data}: {' -> '.join(states)}; done after {finished[data]} s", flush=True)
    return {"sessions": len(PLAN), "max_workers": max_workers(), "own_job_only": True, "done_after_s": finished,
            "wall_s": max(finished.values()), "states_seen": {d: s for d, s in seen.items()}}


if __name__ == "__main__":
    print(json.dumps(main()))
