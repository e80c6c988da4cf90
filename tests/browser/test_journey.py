"""What users come for, in Chromium, one step after another in one browser session: every page opens on an empty
workspace; a CSV written here is uploaded, understood and kept; a model trains on it (live curves, then the
results); one of its predictions is explained with SHAP and LIME; the shipped base is fine-tuned on
`shapes_outline` and the tuned CNN explained with Grad-CAM; a VAE trains for two epochs and draws samples; two
models are compared. No exception box and no console error at any step; a screenshot of every step is saved to
``browser-shots/journey`` (``DLCORE_SHOTS`` changes it) for people to look at."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.browser.app_driver import choose, exception_text, open_page, set_number, settled, shot
from tests.browser.conftest import ROOT, real_errors

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LONG = 240_000  # ms: a step's wait on a slow, busy 2-core machine (it normally takes a fraction)
TABLE = "my_customers"


def customers_csv(folder: Path, n: int = 240, seed: int = 0) -> Path:
    """A small table as users upload them: an ID column (left out), numbers, a category, and a yes/no target that
    follows income and visits."""
    rng = np.random.default_rng(seed)
    income = rng.normal(50, 15, n).round(1)
    visits = rng.poisson(4, n)
    logit = 0.12 * (income - 50) + 0.6 * (visits - 4)
    frame = pd.DataFrame({"customer_id": np.arange(1000, 1000 + n), "age": rng.integers(18, 70, n),
                          "income": income, "visits": visits, "city": rng.choice(["Lyon", "Oslo", "Pune"], n),
                          "bought": np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-logit)), "yes", "no")})
    path = folder / f"{TABLE}.csv"
    frame.to_csv(path, index=False)
    return path


class Journey:
    """The page of one browser session, the screenshots folder, and a check after every step."""

    def __init__(self, page, shots: Path) -> None:
        self.page, self.shots, self.t0, self.steps = page, shots, time.perf_counter(), []
        self.visited: set[str] = set()

    def open(self, title: str) -> None:
        """Go to the page ``title`` by the sidebar, as a user does; the pages visited are kept."""
        open_page(self.page, title, LONG)
        self.visited.add(title)

    def step(self, run, *args) -> None:
        """Run one step; on a failure, a screenshot of where it stopped and the times of the steps before."""
        try:
            run(self, *args)
        except BaseException:
            shot(self.page, self.shots, f"{len(self.steps):02d}-FAILED-{run.__name__}")
            print(f"journey stopped in {run.__name__}; steps done (name, seconds): {self.steps}")
            raise

    def done(self, name: str) -> None:
        """No exception box, no console error; a screenshot; the step's time kept for the report."""
        assert exception_text(self.page) is None, f"{name}: {exception_text(self.page)}"
        assert real_errors(self.page.console_errors) == [], name
        shot(self.page, self.shots, f"{len(self.steps):02d}-{name}")
        self.steps.append((name, round(time.perf_counter() - self.t0, 1)))

    def charts(self, at_least: int, timeout: float = LONG) -> None:
        self.page.wait_for_function(f"document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length >= "
                                    f"{at_least}", timeout=timeout)


def upload_and_keep(j: Journey, csv: Path) -> None:
    page = j.page
    j.open("Data")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(csv))
    page.wait_for_selector('[data-testid="stMetric"]:has-text("Rows used")', timeout=LONG)
    settled(page, LONG)
    assert "240" in page.locator('[data-testid="stMetric"]:has-text("Rows used")').inner_text()
    assert "classification" in page.locator('[data-testid="stMetric"]:has-text("Task")').first.inner_text()
    j.charts(2)  # class balance, histograms
    j.done("data-understood")
    page.get_by_role("button", name="Keep this data set").click()
    page.wait_for_selector(f"text=Kept as {TABLE}", timeout=LONG)
    j.done("data-kept")


def train_on_upload(j: Journey) -> None:
    page = j.page
    j.open("Train")
    choose(page, "Data set", TABLE)
    page.wait_for_selector("text=classification, tabular", timeout=LONG)
    set_number(page, "Epochs", 2)
    page.get_by_role("button", name="Train").click()
    # the job's live progress (a 2-epoch job may end before its first curve is drawn)
    page.wait_for_selector("text=/starting the worker|epoch \\d+\\/2|Done: finished/", timeout=LONG)
    j.done("train-started")
    page.wait_for_selector("text=Done: finished 2 epoch(s)", timeout=LONG)
    # curves, confusion matrix, scores: the results are drawn in the rerun after the job ends
    j.charts(3)
    settled(page, LONG)
    j.done("train-done")


def explain_prediction(j: Journey) -> None:
    page = j.page
    j.open("Explain")
    assert TABLE in page.get_by_role("combobox", name="Model").input_value()  # the newest model: the one just trained
    for caption in ("exact", "lime-tabular"):  # each method's figure carries its own caption
        page.wait_for_selector(f"text=/^{caption}, .* model evaluations, seed 0/", timeout=LONG)
    page.wait_for_selector("text=How far to trust it", timeout=LONG)
    page.wait_for_function("document.body.innerText.split('Trust checks took').length >= 3", timeout=LONG)
    page.wait_for_selector("text=Global views", timeout=LONG)
    settled(page, LONG)
    j.charts(7)  # outputs, waterfall, LIME weights, two faithfulness curves, importance, beeswarm (dependence too)
    j.done("explain-table")


def finetune_shipped_base(j: Journey) -> None:
    page = j.page
    j.open("Fine-tune")
    choose(page, "New data", "shapes_outline")  # the page remembers the table chosen before
    page.wait_for_selector("text=The base, adapted to the data", timeout=LONG)
    set_number(page, "Epochs (first phase)", 2)
    set_number(page, "Use at most N training rows (0: all)", 100)
    page.get_by_role("button", name="Start fine-tuning").click()
    page.wait_for_selector("text=Done: finished 2 epoch(s)", timeout=LONG)
    page.wait_for_selector("text=Before and after fine-tuning", timeout=LONG)
    settled(page, LONG)
    j.done("finetune-done")


def gradcam_on_tuned(j: Journey) -> None:
    page = j.page
    j.open("Explain")
    choose(page, "Model", re.compile("shapes_outline|tuned", re.I))
    box = page.locator('[data-testid="stMultiSelect"] input').first
    box.fill("Grad-CAM")
    box.press("Enter")
    box.press("Escape")  # close the list of methods
    page.wait_for_selector("text=/gradcam.*model evaluations/i", timeout=LONG)
    settled(page, LONG)
    j.done("explain-gradcam")


def vae_and_samples(j: Journey) -> None:
    page = j.page
    j.open("Generate")
    if not page.get_by_role("combobox", name="Data set").is_visible():  # folded once there are generative models
        page.locator("summary", has_text="Train a new generative model").click()
    choose(page, "Data set", "digits")
    set_number(page, "Epochs", 2)
    page.get_by_role("button", name="Train").click()
    # when the job ends the form folds away (its result is in the folded part) and the new model's samples show
    page.wait_for_selector("text=Done: finished 2 epoch(s)", state="attached", timeout=LONG)
    page.wait_for_selector("text=64 samples, seed 0", timeout=LONG)
    assert "vae on digits" in page.get_by_role("combobox", name="Generative model").input_value()
    settled(page, LONG)
    j.done("generate-samples")


def compare_models(j: Journey) -> None:
    page = j.page
    j.open("Models")
    page.wait_for_selector("text=/ by epoch$/", timeout=LONG)  # the overlaid curves of the two chosen by default
    settled(page, LONG)
    assert "Choose at least two models" not in page.inner_text('[data-testid="stMain"]')
    assert page.locator('[data-testid="stDataFrame"]').count() >= 2, "the model table and the comparison table"
    j.done("models-compare")


def fairness_of_an_image_model(j: Journey) -> None:
    page = j.page
    j.open("Fairness")  # the newest model that predicts: the digits classifier that judged the VAE
    page.wait_for_selector("text=holds image data and no group column", timeout=LONG)
    j.done("fairness")


def test_the_journey_users_come_for(page, server, tmp_path: Path) -> None:
    shots = Path(os.environ.get("DLCORE_SHOTS", ROOT / "browser-shots")) / "journey"
    j = Journey(page, shots)
    page.goto(server, wait_until="networkidle")
    page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=LONG)
    settled(page, LONG)
    page.wait_for_selector("h1:has-text('Interpretable deep learning')", timeout=LONG)
    j.visited.add("Home")
    j.done("home")
    j.step(upload_and_keep, customers_csv(tmp_path))
    j.step(train_on_upload)
    j.step(explain_prediction)
    j.step(finetune_shipped_base)
    j.step(gradcam_on_tuned)
    j.step(vae_and_samples)
    j.step(compare_models)
    j.step(fairness_of_an_image_model)
    titles = page.eval_on_selector_all('[data-testid="stSidebarNav"] a',
                                       "els => els.map(e => e.innerText.trim().split('\\n').pop())")
    assert len(titles) >= 8 and j.visited == set(titles), f"pages the journey did not open: {set(titles) - j.visited}"
    print(f"journey screenshots in {shots}; seconds at the end of each step: {j.steps}")
