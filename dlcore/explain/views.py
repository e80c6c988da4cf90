"""What the pages' explanation views show, computed here so the pages only draw it: the global view's seeded
sample of validation rows and its features ordered by mean |attribution|, and the comparison of one row's
explanations before and after fine-tuning (the class shown and how far the two rankings agree)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcore.explain.attribution import Attribution
from dlcore.explain.service import Request
from dlcore.explain.trust import stability

GLOBAL_BACKGROUND = 50  # background rows of the global view (it explains many rows at once)


def global_rows(n_val: int, n: int, seed: int) -> np.ndarray:
    """``n`` distinct validation rows drawn with ``seed``, in increasing order."""
    if not 0 < int(n) <= int(n_val):
        raise ValueError(f"cannot draw {n} of {n_val} validation rows")
    return np.sort(np.random.default_rng(seed).choice(int(n_val), int(n), replace=False))


def global_request(seed: int) -> Request:
    """The global view's request: SHAP for every output over ``GLOBAL_BACKGROUND`` background rows."""
    return Request("shap", seed=int(seed), target="all", background_size=GLOBAL_BACKGROUND)


def feature_order(attr: Attribution, cls: int | None = None) -> list[str]:
    """The feature names, largest mean |attribution| for class ``cls`` over the rows first (ties keep their order)."""
    order = np.argsort(-np.abs(attr.flat(cls)).mean(axis=0), kind="stable")
    return [attr.feature_names[int(j)] for j in order]


def before_after_method(ds: Any) -> str:
    """The method the before/after view explains with: LIME for texts, SHAP otherwise."""
    return "lime" if ds.modality == "text" else "shap"


@dataclass(frozen=True)
class BeforeAfter:
    """One validation row explained before and after fine-tuning: the class shown (the row's true class for
    a classifier, the output for a regressor), each model's output for it, and the rank agreement of the
    two explanations (1: the same ranking)."""

    row: int
    cls: int
    class_name: str | None
    before: float
    after: float
    agreement: float

    @property
    def what(self) -> str:
        """What the explanations are for, for people."""
        return f"its true class {self.class_name}" if self.class_name is not None else "the model's output"


def compare_row(before: Attribution, after: Attribution, ds: Any, row: int) -> BeforeAfter:
    """Row ``row`` of the same inputs explained (for every output) for the base and the tuned model."""
    cls = int(ds.y_val[int(row)]) if ds.task == "classification" else 0
    one, two = before.row(row), after.row(row)
    name = str(ds.class_names[cls]) if ds.class_names else None
    return BeforeAfter(int(row), cls, name, float(one.predictions[0, cls]), float(two.predictions[0, cls]),
                       stability([one, two], cls))
