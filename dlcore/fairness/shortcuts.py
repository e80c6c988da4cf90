"""Shortcuts and leaks in a table: a feature that alone predicts the target nearly as well as the model, a column
that copies the target, and a most attributed column that is an ID, the row order or a date part.

Each original column gets a small seeded scikit-learn model fitted on that column's model inputs alone (training
rows) and scored on the validation rows, so "one feature alone" is measured, not guessed. The attribution-based
checks look only at the most attributed columns. Thresholds are module constants.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from dlcore.data.columns import ID_NAME
from dlcore.data.dataset import Dataset
from dlcore.data.preprocess import DATE_PARTS, unscale

MAX_FIT_ROWS = 5000  # training rows (a seeded sample) each one-feature model is fitted on
TREE_DEPTH = 6  # the one-feature model: a decision tree this deep (64 leaves: fine steps, still fast)
TREE_MIN_LEAF = 10  # rows per leaf at least, so a noise column does not memorise the training rows
NEAR_MODEL = 0.02  # "nearly as well": one-feature score >= the model's score - this
ABOVE_CHANCE = 0.3  # classification: the one feature must close this share of the gap from chance to perfect
MIN_R2 = 0.5  # regression: the one feature must explain more than half of the variance
COPY_SCORE = 0.99  # one-feature accuracy or R^2 from which a column copies the target
COPY_SKILL = 0.9  # classification: a copy also closes this share of the gap from chance to perfect
TOP_COLUMNS = 3  # attribution checks look at the most attributed columns, at most this many...
TOP_SHARE = 0.5  # ...each with at least this share of the top column's importance
ID_DISTINCT = 0.95  # share of distinct rows from which whole-number values look like an ID
ROW_ORDER = 0.95  # |Spearman| between a column's inputs and the row position from which it follows the row order
MAX_ORDER_ROWS = 5000  # training rows (evenly spaced, order kept) the row-order check looks at
DATE_NAME = re.compile(r"^(.+\.)?(year|yr|month|day|weekday|day_?of_?week|week|quarter|hour)$", re.IGNORECASE)
KINDS = ("one_feature", "copies_target", "id_like", "row_order", "date_part")


@dataclass(frozen=True)
class Shortcut:
    """One warning about a shortcut or a leak, for the user.

    ``kind`` is one of ``KINDS``; ``feature`` the original column name (``date``, not ``date.year``); ``score``
    the one-feature model's validation score where one was fitted, else None; ``model_score`` the model's own
    validation score it is compared with, else None; ``message`` one plain sentence naming the numbers and the fix.
    """

    kind: str
    feature: str
    score: float | None
    model_score: float | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "feature": self.feature, "score": self.score, "model_score": self.model_score,
                "message": self.message}


def column_inputs(ds: Dataset) -> dict[str, tuple[int, ...]]:
    """Each original column -> the indices of its model inputs; one input per feature name for plain arrays;
    empty for images, texts and sequences."""
    if ds.modality != "tabular":
        return {}
    mapping = ds.preprocessing.column_inputs()
    if mapping:
        return mapping
    return {str(name): (j,) for j, name in enumerate(ds.feature_names[: ds.x_train.shape[1]])}


def _metric(task: str) -> Callable[..., float]:
    from sklearn.metrics import accuracy_score, r2_score

    return accuracy_score if task == "classification" else r2_score


def _fit_score(ds: Dataset, inputs: tuple[int, ...], rows: np.ndarray, seed: int) -> float:
    """Validation score of a small tree fitted on the given inputs of the given training rows."""
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    tree_cls = DecisionTreeClassifier if ds.task == "classification" else DecisionTreeRegressor
    tree = tree_cls(max_depth=TREE_DEPTH, min_samples_leaf=TREE_MIN_LEAF, random_state=seed)
    cols = list(inputs)
    tree.fit(np.asarray(ds.x_train[rows][:, cols], dtype=np.float32), ds.y_train[rows])
    pred = tree.predict(np.asarray(ds.x_val[:, cols], dtype=np.float32))
    return float(_metric(ds.task)(ds.y_val, pred))


def _fit_rows(ds: Dataset, seed: int) -> np.ndarray:
    n = ds.n_train
    if n <= MAX_FIT_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, MAX_FIT_ROWS, replace=False))


def one_feature_scores(ds: Dataset, seed: int = 0) -> dict[str, float]:
    """Each original column's validation score from a small scikit-learn model fitted on that column's model
    inputs alone (training rows), scored on the validation rows: accuracy for classification, R^2 for regression.

    Empty for images, texts and sequences, and when there is nothing to score: no validation rows, or a target
    with a single value.
    """
    mapping = column_inputs(ds)
    if not mapping or ds.n_val == 0 or ds.n_train == 0:
        return {}
    if np.unique(ds.y_train).size < 2 or np.unique(ds.y_val).size < 2:
        return {}
    rows = _fit_rows(ds, seed)
    return {name: _fit_score(ds, inputs, rows, seed) for name, inputs in mapping.items() if inputs}


def _chance(ds: Dataset) -> float:
    """The majority-class rate on the validation rows (the score of always answering the commonest class)."""
    _, counts = np.unique(ds.y_val, return_counts=True)
    return float(counts.max() / counts.sum()) if counts.size else 1.0


def _skill(score: float, chance: float) -> float:
    """The share of the gap from chance to perfect that ``score`` closes (classification)."""
    return (score - chance) / (1.0 - chance) if chance < 1.0 else 0.0


def _score_checks(ds: Dataset, scores: Mapping[str, float], model_score: float | None) -> list[Shortcut]:
    classification = ds.task == "classification"
    metric = "accuracy" if classification else "R^2"
    chance = _chance(ds) if classification else 0.0
    out = []
    for name, score in sorted(scores.items(), key=lambda kv: -kv[1]):
        copies = score >= COPY_SCORE and (not classification or _skill(score, chance) >= COPY_SKILL)
        if copies:
            out.append(Shortcut("copies_target", name, score, model_score,
                                f"`{name}` copies the target (alone it predicts it with {metric} {score:.3f}): "
                                "a leak that will not be there when predicting; leave it out on the Data page "
                                "and retrain."))
            continue
        if model_score is None or score < model_score - NEAR_MODEL:
            continue
        useful = _skill(score, chance) >= ABOVE_CHANCE if classification else score > MIN_R2
        if useful:
            than = "nearly as well as" if score <= model_score else "better than"
            out.append(Shortcut("one_feature", name, score, model_score,
                                f"`{name}` alone predicts the target with {metric} {score:.2f}, against the "
                                f"model's {model_score:.2f} ({than} the whole model): the model may rest on it "
                                f"alone; check that `{name}` is known when predicting, or leave it out on the Data "
                                "page and retrain to compare."))
    return out


def _top_columns(importance: Mapping[str, float], mapping: Mapping[str, tuple[int, ...]],
                 input_names: tuple[str, ...]) -> list[str]:
    """The most attributed original columns; keys that are model input names (``date.year``) count for
    their column."""
    owner = {input_names[i]: col for col, idx in mapping.items() for i in idx if i < len(input_names)}
    totals: dict[str, float] = {}
    for key, value in importance.items():
        col = key if key in mapping else owner.get(key)
        if col is not None and np.isfinite(value):
            totals[col] = totals.get(col, 0.0) + abs(float(value))
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] <= 0:
        return []
    return [c for c, v in ranked[:TOP_COLUMNS] if v >= TOP_SHARE * ranked[0][1]]


def _column_spec(ds: Dataset, name: str) -> Mapping[str, object] | None:
    if ds.preprocessing.kind != "tabular":
        return None
    return next((c for c in ds.preprocessing.params.get("columns", []) if str(c["name"]) == name), None)


def _is_date(ds: Dataset, name: str, inputs: tuple[int, ...]) -> bool:
    spec = _column_spec(ds, name)
    if spec is not None and spec.get("kind") == "date":
        return True
    parts = {ds.feature_names[i] for i in inputs if i < len(ds.feature_names)}
    dated = bool(parts) and parts <= {f"{name}.{p}" for p in (*DATE_PARTS, "hour")}
    return dated or bool(DATE_NAME.match(name))


def _raw_values(ds: Dataset, name: str, inputs: tuple[int, ...]) -> np.ndarray | None:
    """A column's values before scaling (train and validation rows), when it is one number per row, else None."""
    block = np.concatenate([ds.x_train[:, list(inputs)], ds.x_val[:, list(inputs)]]).astype(np.float64)
    spec = _column_spec(ds, name)
    if spec is None:
        return block[:, 0] if len(inputs) == 1 else None
    if spec.get("kind") != "numeric":
        return None
    return unscale(block, spec)[:, 0]


def _looks_like_id(ds: Dataset, name: str, inputs: tuple[int, ...]) -> bool:
    """Whole numbers, (nearly) every row its own value."""
    values = _raw_values(ds, name, inputs)
    if values is None or values.size == 0 or not np.all(np.isfinite(values)):
        return False
    whole = np.isclose(values, np.round(values), rtol=1e-6, atol=1e-3)
    return bool(whole.all() and np.unique(values).size >= ID_DISTINCT * values.size)


def _row_order(ds: Dataset, inputs: tuple[int, ...]) -> float:
    """The largest |Spearman| between one of a column's inputs and the row position, within the training rows."""
    from scipy.stats import rankdata

    n = ds.n_train
    rows = np.unique(np.linspace(0, n - 1, min(n, MAX_ORDER_ROWS)).astype(np.int64)) if n else np.arange(0)
    if rows.size < 3:
        return 0.0
    position = rankdata(rows)
    best = 0.0
    for i in inputs:
        ranks = rankdata(ds.x_train[rows, i])
        if np.ptp(ranks) > 0:
            best = max(best, abs(float(np.corrcoef(position, ranks)[0, 1])))
    return best


def _date_message(ds: Dataset, name: str, inputs: tuple[int, ...], score: float | None, seed: int) -> str:
    metric = "accuracy" if ds.task == "classification" else "R^2"
    text = f"`{name}` is a date or a date part and the model attributes the most to it"
    if len(inputs) > 1 and ds.n_val and ds.n_train:
        rows = _fit_rows(ds, seed)
        part, best = max(((ds.feature_names[i], _fit_score(ds, (i,), rows, seed)) for i in inputs),
                         key=lambda kv: kv[1])
        text += f" (its strongest part, `{part}`, alone predicts the target with {metric} {best:.2f})"
    elif score is not None:
        text += f" (alone it predicts the target with {metric} {score:.2f})"
    return (text + ": a model resting on the year does not carry to later years; validate on later rows than you "
            "train on (split by time), or leave it out on the Data page and retrain.")


def _attribution_checks(ds: Dataset, top: list[str], mapping: Mapping[str, tuple[int, ...]],
                        scores: Mapping[str, float], model_score: float | None, seed: int) -> list[Shortcut]:
    out = []
    for rank, name in enumerate(top):
        inputs, score = mapping[name], scores.get(name)
        where = "the most attributed column" if rank == 0 else f"among the {len(top)} most attributed columns"
        if _is_date(ds, name, inputs):
            out.append(Shortcut("date_part", name, score, model_score, _date_message(ds, name, inputs, score, seed)))
        elif ID_NAME.search(name):
            out.append(Shortcut("id_like", name, score, model_score,
                                f"`{name}` is {where} and is named like an ID: a model resting on IDs learns the "
                                "rows, not the task; leave it out on the Data page and retrain."))
        elif (rho := _row_order(ds, inputs)) >= ROW_ORDER:
            out.append(Shortcut("row_order", name, score, model_score,
                                f"`{name}` is {where} and follows the row order of the file (|Spearman| {rho:.2f} "
                                "with the row position): it may stand for when or where a row was recorded; leave "
                                "it out on the Data page, or split by time to see whether it carries to new rows."))
        elif _looks_like_id(ds, name, inputs):
            out.append(Shortcut("id_like", name, score, model_score,
                                f"`{name}` is {where} and looks like an ID (whole numbers, nearly every row its own "
                                "value): if it is a row number or ID, leave it out on the Data page and retrain."))
    return out


def find_shortcuts(ds: Dataset, model_score: float | None, importance: Mapping[str, float] | None = None,
                   seed: int = 0) -> tuple[Shortcut, ...]:
    """Warnings about shortcuts and leaks. model_score: the model's validation accuracy (classification) or R^2
    (regression), computed by the caller; importance: mean |attribution| per ORIGINAL column (may be None:
    then the attribution-based checks are skipped).

    Returns copies of the target first, then features that alone predict the target nearly as well as the model
    (strongest first), then warnings about the most attributed columns; () for images, texts and sequences.
    """
    mapping = column_inputs(ds)
    if not mapping:
        return ()
    scores = one_feature_scores(ds, seed)
    found = _score_checks(ds, scores, model_score)
    found.sort(key=lambda s: s.kind != "copies_target")
    if importance:
        top = _top_columns(importance, mapping, ds.feature_names)
        found += _attribution_checks(ds, top, mapping, scores, model_score, seed)
    return tuple(found)
