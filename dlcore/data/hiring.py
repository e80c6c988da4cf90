"""A generated hiring table whose historical labels are biased against one group, with a proxy of the group.

Ground truth for the fairness audit, as ``causes`` is for explanations. Candidates are ``female`` or ``male``
(half each). Whether a candidate is qualified depends on experience, a test score, an interview score and the
degree only, the same way for both groups. The recorded label ``hired`` is the qualified label after a biased
history: ``FLIP`` of the qualified women were turned down. ``sex`` is kept out of the model's inputs (a
sensitive column), but ``club`` carries it: most clubs are joined by one sex only (``CLUB_SHARES``), as the
women's chess club on a CV did for a screening model that penalised it. A model trained on these labels
learns the bias through ``club``; the audit should find the disparity and name ``club`` as the proxy.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from dlcore.data.dataset import Dataset

SENSITIVE = "sex"
PROXY = "club"
FLIP = 0.4  # share of qualified women recorded as not hired
ROWS = 3000
CLUBS = {  # club -> (share among women, share among men)
    "women's chess club": (0.35, 0.0), "netball": (0.30, 0.0), "rugby": (0.0, 0.35), "football": (0.0, 0.30),
    "chess club": (0.10, 0.10), "none": (0.25, 0.25),
}
DEGREES = ("none", "bachelor", "master")


def make_hiring(n: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """``n`` generated candidates: sex, experience_years, test_score, interview_score, degree, club, hired."""
    rng = np.random.default_rng(seed)
    female = rng.uniform(size=n) < 0.5
    experience = np.round(np.clip(rng.gamma(2.0, 3.0, n), 0, 30), 1)
    test = np.round(rng.normal(70, 10, n), 0)
    interview = np.round(rng.normal(0, 1, n), 2)
    degree = rng.choice(len(DEGREES), n, p=[0.3, 0.5, 0.2])
    merit = 0.25 * (experience - 6) + 0.12 * (test - 70) + 0.9 * interview + 0.6 * (degree - 1)
    qualified = rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-(merit - 0.3)))
    hired = qualified & ~(female & (rng.uniform(size=n) < FLIP))
    names = list(CLUBS)
    women, men = (np.array([CLUBS[c][k] for c in names]) for k in (0, 1))
    club = np.where(female, rng.choice(names, n, p=women), rng.choice(names, n, p=men))
    return pd.DataFrame({
        SENSITIVE: np.where(female, "female", "male"), "experience_years": experience, "test_score": test,
        "interview_score": interview, "degree": np.asarray(DEGREES)[degree], PROXY: club,
        "hired": np.where(hired, "yes", "no"),
    })


def load_hiring(validation_split: float, seed: int) -> Dataset:
    """The hiring table as an upload would become a Dataset: ``sex`` sensitive and out of the inputs."""
    from dataclasses import replace

    from dlcore.data.readers import RawUpload
    from dlcore.data.upload import Choices, to_dataset

    raw = RawUpload("hiring.csv", "table", frame=make_hiring())
    choices = Choices(target="hired", ordinal={"degree": DEGREES}, sensitive=(SENSITIVE,))
    ds = to_dataset(raw, choices, "hiring", validation_split, seed)
    description = (f"{ROWS:,} generated job candidates; target hired (yes/no). The historical labels are biased: "
                   f"{FLIP:.0%} of the qualified women were recorded as not hired. {SENSITIVE!r} is sensitive and "
                   f"not a model input; {PROXY!r} carries it (most clubs are joined by one sex). Ground truth for "
                   "the fairness audit.")
    return replace(ds, description=description)
