"""How long the first explanation takes on a freshly started server, with and without the background warm-up.

A fresh ``DLCORE_HOME`` gets one MLP trained on the built-in ``diabetes`` table (10 numeric features,
regression; ``python -m dlcore train``). Then, per setting, a fresh ``streamlit run app.py`` (headless, free
port) is opened in Debian's Chromium with Playwright, as a user does: the home page first (until it has
rendered), then the Explain page; timed from opening the Explain page until the SHAP waterfall is drawn, and
until LIME's weights are. Settings: the warm-up on (the default) and off (``DLCORE_WARM_UP=0``); ``--direct``
opens the Explain page straight away instead of the home page first; ``--dwell S`` stays S seconds on the
home page first, as a user reading it; ``--click`` then opens Explain by its sidebar link, as a user does (in the
same session), instead of by its address (which loads the whole app again).

Each browser run also reports TensorFlow's import time, measured just before in a fresh process, and the
waterfall's time less it (the goal: 3 s). Where the time goes is measured in fresh processes, step by step,
without and with the warm-up first (its imports and its numba compiling apart): importing TensorFlow, loading
the model and its data, the first prediction, SHAP and LIME as the page asks for them (every class, two more
seeds, the trust figures; first and second call), and shap's Exact explainer on the same row (the numba path
the exact values no longer take for small tables; first and second call).

Run: ``python bench/first_explanation.py`` from the project root. The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("DLCORE_CHROMIUM", "/usr/bin/chromium")
WATERFALL = "document.querySelector('g.waterfalllayer path')"
LIME = "document.querySelectorAll('.js-plotly-plot').length >= 3"  # outputs, SHAP, then LIME


def train_model(home: Path) -> str:
    """One MLP on diabetes in ``home``; its model id."""
    env = {**os.environ, "DLCORE_HOME": str(home)}
    out = subprocess.run([sys.executable, "-m", "dlcore", "train", "--data", "diabetes", "--arch", "mlp",
                          "--epochs", "3", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return str(json.loads(out.stdout.strip().splitlines()[-1])["model_id"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(home: Path, warm: bool) -> Iterator[str]:
    """A fresh ``streamlit run app.py`` on a free port; yields its URL once it answers its health check."""
    port = _free_port()
    env = {**os.environ, "DLCORE_HOME": str(home), "DLCORE_WARM_UP": "1" if warm else "0"}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def tf_import_s() -> float:
    """Seconds ``import tensorflow`` takes in a fresh process now (the goal allows it on top of 3 s)."""
    code = "import time; t = time.perf_counter(); import tensorflow; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return float(out.stdout.strip().splitlines()[-1])


def time_explain(home: Path, warm: bool, direct: bool, dwell: float = 0.0, click: bool = False) -> dict[str, float]:
    """Seconds from opening the Explain page to the SHAP waterfall and to LIME's weights, on a fresh server,
    with TensorFlow's import time measured just before in a fresh process, and the waterfall's time less it."""
    from playwright.sync_api import sync_playwright

    tf_s = tf_import_s()

    with server(home, warm) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        result: dict[str, float] = {}
        if not direct:
            t = time.perf_counter()
            page.goto(url, wait_until="domcontentloaded")
            page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=120_000)
            page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=120_000)
            result["home_s"] = round(time.perf_counter() - t, 2)
            page.wait_for_timeout(dwell * 1000)  # a user reading the home page
        t0 = time.perf_counter()
        if click and not direct:  # as a user does: the sidebar's link, in the same session
            page.click('[data-testid="stSidebarNav"] a:has-text("Explain")')
        else:  # a bookmark: the whole app loads again, a new session
            page.goto(f"{url}/explain", wait_until="domcontentloaded")
        page.wait_for_function(WATERFALL, timeout=240_000, polling=50)
        result["shap_s"] = round(time.perf_counter() - t0, 2)
        page.wait_for_function(LIME, timeout=240_000, polling=100)
        result["lime_s"] = round(time.perf_counter() - t0, 2)
        browser.close()
    result["tf_import_s"] = round(tf_s, 2)
    result["shap_beyond_tf_import_s"] = round(result["shap_s"] - tf_s, 2)
    return result


BREAKDOWN = """
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
t = {}
s = time.perf_counter()
from dlcore.explain import warm_up
from dlcore.explain.service import Request, explain_record, predictions
from dlcore.store import ModelStore
t["import dlcore.explain"] = time.perf_counter() - s
if sys.argv[2] == "warm":
    w = warm_up(); t["warm-up: imports"] = w.import_seconds; t["warm-up: numba compile"] = w.compile_seconds
s = time.perf_counter(); import tensorflow; t["import tensorflow"] = time.perf_counter() - s
s = time.perf_counter()
record = ModelStore(sys.argv[1]).get(sys.argv[3])
model, ds = ModelStore(sys.argv[1]).load(sys.argv[3]), record.meta.training_dataset()
t["load model and data"] = time.perf_counter() - s
x = ds.x_val[:1]
s = time.perf_counter(); predictions(model, x); t["first prediction"] = time.perf_counter() - s
for method in ("shap", "lime"):  # as the Explain page asks: every class, two more seeds, the trust figures
    request = Request(method, seed=0, target="all", stability=True)
    for name in ("first", "second"):
        s = time.perf_counter(); got = explain_record(record, model, ds, x, request, rows=[0])
        t[f"{method.upper()} as the page asks ({got.attribution.algorithm}), {name} call"] = time.perf_counter() - s
import shap
from dlcore.explain.plan import BatchedPredict, summarize_background
masker = shap.maskers.Independent(summarize_background(ds.x_train, 100, 0), max_samples=100)
for name in ("first", "second"):  # the same Shapley values from shap's Exact explainer, which compiles with numba
    s = time.perf_counter(); shap.explainers.Exact(BatchedPredict(model), masker)(x, silent=True)
    t[f"shap's Exact explainer, {name} call"] = time.perf_counter() - s
print(json.dumps({k: round(v, 2) for k, v in t.items()}))
"""


def breakdown(home: Path, model_id: str, warm: bool) -> dict[str, float]:
    """Step times in one fresh process (``warm``: ``dlcore.explain.warm_up`` first, alone)."""
    out = subprocess.run([sys.executable, "-c", BREAKDOWN, str(home), "warm" if warm else "cold", model_id], cwd=ROOT,
                         capture_output=True, text=True, check=True, env={**os.environ, "DLCORE_HOME": str(home)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--direct", action="store_true", help="open the Explain page first, not the home page")
    parser.add_argument("--repeats", type=int, default=1, help="fresh servers per setting")
    parser.add_argument("--dwell", type=float, default=0.0, help="seconds on the home page before opening Explain")
    parser.add_argument("--no-steps", action="store_true", help="skip the step-by-step times in one process")
    parser.add_argument("--click", action="store_true",
                        help="open Explain from the home page's sidebar link (same session) instead of its address")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dlcore_first_") as tmp:
        home = Path(tmp)
        model_id = train_model(home)
        steps = {} if args.no_steps else {"cold": breakdown(home, model_id, False),
                                          "warm": breakdown(home, model_id, True)}
        for name, t in steps.items():
            print(f"steps in one fresh process ({name}): " + ", ".join(f"{k} {v:.2f} s" for k, v in t.items()))
        runs: dict[str, list[dict[str, float]]] = {"warm-up on": [], "warm-up off": []}
        for _ in range(args.repeats):
            for setting in runs:
                runs[setting].append(time_explain(home, setting == "warm-up on", args.direct, args.dwell, args.click))
                print(f"{setting}: {runs[setting][-1]}", flush=True)
    print(json.dumps({"data": "diabetes (10 features)", "direct": args.direct, "click": args.click,
                      "dwell_s": args.dwell, "steps": steps,
                      "runs": runs}))


if __name__ == "__main__":
    main()
