"""A small titanic-like table for the upload tests: numbers with gaps, categories (one with gaps), a yes/no
column, and a target that depends on a category and a number."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_passengers(path: Path, n: int = 240, seed: int = 0) -> Path:
    """``n`` passengers; ``survived`` is mostly decided by ``sex`` and ``pclass``."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["male", "female"], n)
    pclass = rng.choice([1, 2, 3], n, p=[0.25, 0.25, 0.5])
    age = np.round(rng.uniform(1, 70, n), 1).astype(object)
    age[rng.choice(n, n // 10, replace=False)] = ""
    embarked = rng.choice(["S", "C", "Q"], n, p=[0.7, 0.2, 0.1]).astype(object)
    embarked[:2] = ""
    alone = rng.choice(["yes", "no"], n)
    fare = np.round(rng.gamma(2.0, 15.0, n) * (4 - pclass), 2)
    chance = 0.15 + 0.6 * (sex == "female") + 0.15 * (pclass == 1) - 0.1 * (pclass == 3)
    survived = (rng.uniform(size=n) < chance).astype(int)
    lines = ["pclass,sex,age,embarked,alone,fare,survived"]
    lines += [",".join(map(str, row)) for row in zip(pclass, sex, age, embarked, alone, fare, survived)]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
