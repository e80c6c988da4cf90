"""Screenshots for the README: trains a few small models into a fresh workspace, starts the app, and saves
one picture per page into docs/. Needs Debian's chromium and the playwright package.

    python docs/shots.py
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = [  # oldest first: the pages show the newest by default
    ["--data", "digits", "--arch", "vae", "--epochs", "15"],
    ["--data", "wine", "--arch", "mlp", "--epochs", "30"],
    ["--data", "digits", "--arch", "cnn", "--epochs", "10"],
]
PAGES = {"train": "train", "explain": "explain", "generate": "generate", "models": "models"}
CHARTS = {"explain": 8, "train": 3, "models": 3, "generate": 1, "fairness": 4}  # figures to wait for
LATER = ["--data", "hiring", "--arch", "mlp", "--epochs", "8", "--lr", "0.005"]  # newest, for the Fairness page


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="dlcore-shots-"))
    env = {**os.environ, "DLCORE_HOME": str(home)}
    for args in MODELS:
        subprocess.run([sys.executable, "-m", "dlcore", "train", *args, "--json"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                               "--server.port", str(port), "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            for name, path in PAGES.items():
                _shoot(page, port, name, path)
            subprocess.run([sys.executable, "-m", "dlcore", "train", *LATER, "--json"], cwd=ROOT, env=env,
                           check=True, stdout=subprocess.DEVNULL)
            _shoot(page, port, "fairness", "fairness")
            browser.close()
    finally:
        server.terminate()
        server.wait(10)


def _shoot(page, port: int, name: str, path: str) -> None:
    page.goto(f"http://127.0.0.1:{port}/{path}", wait_until="networkidle")
    page.wait_for_function(
        "n => document.querySelectorAll("
        "'[data-testid=\"stPlotlyChart\"], [data-testid=\"stImage\"]').length >= n",
        arg=CHARTS.get(name, 0), timeout=180_000)
    page.wait_for_timeout(3000)
    page.screenshot(path=str(ROOT / "docs" / f"{name}.png"))


if __name__ == "__main__":
    main()
