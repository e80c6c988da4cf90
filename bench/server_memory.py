"""The server's memory while jobs run through the app: the app started as a user starts it (``streamlit run
app.py``, as the browser tests do), N tiny training jobs (iris, 1 epoch) started one after another from the Train
page in Chromium, each waited for until it is done; the server process's resident memory (``VmRSS`` from
``/proc/<pid>/status``) read before the first job and after each. Jobs train in worker processes of their own, so
the server should stay flat.

Run: ``python bench/server_memory.py [N_JOBS]`` from the project root (default 10). The last line is one JSON object.
"""
from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser.app_driver import choose, open_page, set_number, settled  # noqa: E402
from tests.browser.conftest import CHROMIUM, running_app  # noqa: E402

WAIT = 300_000  # ms


def server_pid(url: str) -> int:
    """The pid of the ``streamlit run`` process listening on ``url``'s port."""
    port = url.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(args) and port.encode() in args:
            return int(entry.name)
    raise RuntimeError(f"no streamlit process on port {port}")


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024


def done_when_shown(page, seen: set[str]) -> str:
    """Wait until the page shows a job not in ``seen`` done (the one Train just started); its id."""
    page.wait_for_function("ids => { const t = document.body.innerText; const m = t.match(/Job (j-[\\w-]+) ·/);"
                           " return m && !ids.includes(m[1]) && t.includes('Done: finished'); }", arg=sorted(seen),
                           timeout=WAIT)
    settled(page, WAIT)
    job_id = re.search(r"Job (j-[\w-]+) ·", page.inner_text('[data-testid="stMain"]')).group(1)
    seen.add(job_id)
    return job_id


def main(n_jobs: int) -> dict:
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="server-memory-"))
    with running_app(home) as url, sync_playwright() as p:
        pid = server_pid(url)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url, wait_until="networkidle")
        settled(page, WAIT)
        open_page(page, "Train", WAIT)
        choose(page, "Data set", "iris")
        set_number(page, "Epochs", 1)
        samples, t0 = [round(rss_mb(pid), 1)], time.perf_counter()  # the Train page drawn once: its imports done
        seen: set[str] = set()
        for k in range(n_jobs):
            page.get_by_role("button", name="Train").click()
            done_when_shown(page, seen)
            samples.append(round(rss_mb(pid), 1))
            print(f"job {k + 1}: server {samples[-1]} MB", flush=True)
        browser.close()
    started = len(list((home / "jobs").glob("j-*")))  # more than n_jobs when a press started two
    return {"jobs": n_jobs, "jobs_started": started, "server_rss_mb": samples, "before_first_mb": samples[0],
            "after_first_mb": samples[1],
            "after_last_mb": samples[-1], "last_over_first_job": round(samples[-1] / samples[1], 3),
            "seconds": round(time.perf_counter() - t0, 1)}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)))
