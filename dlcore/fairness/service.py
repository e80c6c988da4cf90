"""The fairness audit of a stored model: its predictions on the validation rows (or on a file's rows) by group,
the data's own group rates, proxies, explanation disparity, shortcuts and leaks, in one typed result; and
post-processing a model with group thresholds into a model of its own."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from dlcore.data.dataset import Dataset
from dlcore.errors import FairnessError
from dlcore.fairness.audit import FairnessReport, audit
from dlcore.fairness.disparity import Disparity, explained_disparity, pick_rows
from dlcore.fairness.groups import DataGroups, as_groups, combine, data_groups
from dlcore.fairness.proxies import Proxy, find_proxies, proxy_warnings
from dlcore.fairness.shortcuts import Shortcut, find_shortcuts, one_feature_scores
from dlcore.record import ModelMeta

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ShortcutCheck:
    """Shortcuts and leaks of a model of a table, with or without sensitive columns."""

    shortcuts: tuple[Shortcut, ...]
    model_score: float | None
    importance: dict[str, float] | None  # mean |SHAP| per original column over up to ``disparity.ROWS`` rows
    one_feature: dict[str, float]  # each column's one-feature score (``shortcuts.one_feature_scores``)


@dataclass(frozen=True)
class Audit:
    """Everything the fairness view shows for one model and its sensitive columns."""

    report: FairnessReport
    data: tuple[DataGroups, ...]  # each sensitive column in the training labels, before any model
    proxies: dict[str, tuple[Proxy, ...]]  # sensitive column -> proxies, strongest first
    disparity: Disparity | None
    shortcuts: tuple[Shortcut, ...]
    warnings: tuple[str, ...]  # every warning, in plain words
    rows: int
    source: str
    model_score: float | None  # validation accuracy (classifier) or R^2 (regressor)
    one_feature: dict[str, float] = field(default_factory=dict)  # ``shortcuts.one_feature_scores``

    def shortcut_check(self) -> ShortcutCheck:
        """Its shortcuts and leaks, as ``check_shortcuts`` gives them (without explaining again)."""
        importance = self.disparity.importance() if self.disparity is not None else None
        return ShortcutCheck(self.shortcuts, self.model_score, importance, self.one_feature)

    def to_dict(self) -> dict[str, Any]:
        """``dlcore fairness --json``: the DESIGN contract keys (groups, the disparities, proxies, warnings)
        and the rest of the audit."""
        first = next(iter(self.proxies.values()), ())
        return {**self.report.to_dict(), "proxies": {p.feature: p.score for p in first},
                "proxies_by_column": {c: [vars(p) for p in ps] for c, ps in self.proxies.items()},
                "warnings": list(self.warnings), "shortcuts": [s.to_dict() for s in self.shortcuts],
                "disparity": None if self.disparity is None else vars(self.disparity),
                "data": [_data_dict(d) for d in self.data], "rows": self.rows, "source": self.source,
                "model_score": self.model_score}


def _data_dict(d: DataGroups) -> dict[str, Any]:
    return {"column": d.column, "classes": list(d.classes), "warnings": list(d.warnings),
            "groups": {g.group: {"n": g.n, "share": g.share, "label_rates": list(g.label_rates)} for g in d.groups}}


def sensitive_groups(ds: Dataset, sensitive: Sequence[str], bins: int = 0) -> tuple[dict[str, np.ndarray],
                                                                                   dict[str, np.ndarray]]:
    """Training and validation group labels of each sensitive column of ``ds`` (``as_groups``)."""
    if not sensitive:
        sensitive = ds.sensitive
    if not sensitive:
        what = "table" if ds.modality == "tabular" else f"{ds.modality} data set"
        raise FairnessError(f"{ds.name!r} has no sensitive column. Mark one on the Data page or with --sensitive "
                            f"COL when training; this {what} can only be audited with a table that has a group "
                            "column (--data FILE)")
    missing = [c for c in sensitive if c not in ds.sensitive_val]
    if missing:
        have = ", ".join(ds.sensitive) or "none"
        raise FairnessError(f"{ds.name!r} keeps no sensitive column {missing[0]!r} (it keeps: {have}); mark it on "
                            "the Data page, train with --sensitive, or give a file that has it (--data FILE)")
    train, val = {}, {}
    for c in sensitive:
        both = as_groups(np.concatenate([ds.sensitive_train[c], ds.sensitive_val[c]]), c, bins)
        train[c], val[c] = both[:ds.n_train], both[ds.n_train:]
    return train, val


def predict(record: ModelMeta, model: Any, x: np.ndarray, groups: dict[str, np.ndarray] | None = None,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(labels or values, scores)``: what the model decides for inputs ``x``; a post-processed model applies
    its group thresholds to its score for the positive class (it needs ``groups``)."""
    from dlcore.explain.service import predictions

    out = predictions(model, x)
    if record.task != "classification":
        return out[:, 0].astype(np.float64), out[:, 0]
    labels = np.argmax(out, axis=1) if out.shape[1] > 1 else (out[:, 0] > 0.5).astype(int)
    post = record.postprocessing
    if post is None:
        return labels, out
    from dlcore.fairness.mitigation import apply_thresholds

    if groups is None or any(c not in groups for c in post.sensitive):
        raise FairnessError(f"this model decides by group ({', '.join(post.sensitive)}); give those columns")
    g = combine([groups[c] for c in post.sensitive])
    chosen = apply_thresholds(post, out[:, post.positive], g, seed)
    other = 1 - post.positive if out.shape[1] == 2 else np.argmax(np.where(
        np.arange(out.shape[1]) == post.positive, -np.inf, out), axis=1)
    return np.where(chosen == 1, post.positive, other), out


def decision_groups(record: ModelMeta, ds: Dataset) -> dict[str, np.ndarray] | None:
    """The validation rows' groups a post-processed model decides by (its own columns and bands); None for
    any other model."""
    post = record.postprocessing
    return None if post is None else sensitive_groups(ds, post.sensitive, post.bins)[1]


def model_score(task: str, y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score, r2_score

    return float(accuracy_score(y, pred) if task == "classification" else r2_score(y, pred))


def run_audit(record: ModelMeta, model: Any, ds: Dataset, sensitive: Sequence[str] = (), *, bins: int = 0,
              positive: int | None = None, explain: bool = True, seed: int = 0, progress: Progress | None = None,
              source: str = "") -> Audit:
    """Audit ``model`` on the validation rows of ``ds`` across its sensitive columns (default: all it keeps).

    ``explain``: also compute SHAP on a few hundred validation rows for the explanation disparity and to rank
    the proxies and shortcuts by the model's own attributions (the slow part).
    """
    step = progress or (lambda f, text: None)
    train, val = sensitive_groups(ds, sensitive, bins)
    names = tuple(train)
    step(0.05, "predicting")
    pred, _ = predict(record, model, ds.x_val, decision_groups(record, ds), seed)
    report = audit(ds.y_val, pred, val, ds.task, ds.class_names, positive)
    score = model_score(ds.task, ds.y_val, pred)
    data = tuple(data_groups(np.concatenate([train[c], val[c]]), ds.labels(), c, ds.class_names) for c in names)
    dis = None
    if explain and ds.modality == "tabular":
        g = combine([val[c] for c in names])
        target = 0 if ds.task != "classification" else ds.class_names.index(report.positive or ds.class_names[0])
        dis = explained_disparity(ds, model, pick_rows(g, seed=seed), g, target, seed,
                                  progress=lambda f, text: step(0.1 + 0.7 * f, f"explaining: {text}"))
    step(0.85, "looking for proxies and shortcuts")
    importance = dis.importance() if dis is not None else None
    proxies = {c: find_proxies(ds, train[c], val[c], seed, importance) for c in names}
    shortcuts = find_shortcuts(ds, score, importance, seed)
    inputs = set(ds.preprocessing.column_inputs())
    warnings = [*(w for d in data for w in d.warnings), *report.warnings,
                *(w for c in names for w in proxy_warnings(proxies[c], c, c in inputs)),
                *(s.message for s in shortcuts)]
    step(1.0, "done")
    return Audit(report, data, proxies, dis, shortcuts, tuple(warnings), ds.n_val,
                 source or f"validation split of {ds.name!r}", score, one_feature_scores(ds, seed))


def check_shortcuts(record: ModelMeta, model: Any, ds: Dataset, *, explain: bool = True, seed: int = 0,
                    progress: Progress | None = None) -> ShortcutCheck:
    """Shortcuts and leaks of any model of a table: one-feature models against it, and its most attributed
    columns checked for IDs, row order and date parts."""
    step = progress or (lambda f, text: None)
    pred, _ = predict(record, model, ds.x_val, decision_groups(record, ds), seed)
    score = model_score(ds.task, ds.y_val, pred)
    importance = None
    if explain and ds.modality == "tabular":
        everyone = np.full(ds.n_val, "all", dtype=str)
        target = 0 if ds.task != "classification" else (1 if len(ds.class_names) == 2 else 0)
        dis = explained_disparity(ds, model, pick_rows(everyone, seed=seed), everyone, target, seed,
                                  progress=lambda f, text: step(0.9 * f, f"explaining: {text}"))
        importance = dis.importance()
    found = find_shortcuts(ds, score, importance, seed)
    step(1.0, "done")
    return ShortcutCheck(found, score, importance, one_feature_scores(ds, seed))


def file_dataset(record: ModelMeta, path: str, sensitive: Sequence[str], seed: int = 0,
                 target: str | None = None) -> Dataset:
    """The rows of a table the model was not given with its data (``--data FILE``), as a Dataset made with the
    model's own preprocessing and classes: its sensitive columns kept, every row audited (the validation
    part), half of them also used to fit the proxy trees (the training part, which holds every row)."""
    from dlcore.data.readers import read_path
    from dlcore.data.split import split_indices
    prep = record.preprocessing_steps()
    if prep.kind != "tabular":
        raise FairnessError("--data FILE audits models of tables; this model takes "
                            f"{record.modality} inputs: give a table of the model's own data set instead")
    frame = read_path(path).frame
    if frame is None:
        raise FairnessError(f"{path} is not a table; give a CSV with the model's columns and the sensitive ones")
    target = target or _file_target(record, frame, [*prep.column_inputs(), *sensitive])
    need = [*prep.column_inputs(), target, *sensitive]
    absent = [c for c in need if c not in frame.columns]
    if absent:
        raise FairnessError(f"{path} has no column {absent[0]!r}; it needs the model's columns, the target "
                            f"{target!r} and the sensitive column(s)")
    labels = frame[target].astype(str).str.strip()
    if record.task == "classification":
        known = labels.isin(record.class_names)
        frame, labels = frame[known.to_numpy()], labels[known]
        y = labels.map({c: i for i, c in enumerate(record.class_names)}).to_numpy(dtype=np.int64)
        if len(y) == 0:
            raise FairnessError(f"no row of {path} has one of the model's classes ({', '.join(record.class_names)}) "
                                f"in {target!r}; name the target column (--target COL)")
    else:
        y = frame[target].to_numpy(dtype=np.float64)
    x = prep.transform(frame)
    half, _ = split_indices(len(y), 0.5, seed, None)
    groups = {c: frame[c].astype(object).where(frame[c].notna(), None).to_numpy(dtype=object) for c in sensitive}
    return Dataset(name=str(path), task=record.task, modality="tabular", x_train=x[half], y_train=y[half],  # type: ignore[arg-type]
                   x_val=x, y_val=y, feature_names=tuple(prep.output_names()), class_names=record.class_names,
                   preprocessing=prep, sensitive_train={c: v[half] for c, v in groups.items()},
                   sensitive_val=groups)


def _file_target(record: ModelMeta, frame: Any, taken: Sequence[str]) -> str:
    """The target column of a file: the one trained on, else the column whose values are the model's classes."""
    from dlcore.data.upload import default_target

    if record.config is not None and record.config.target:
        return record.config.target
    if record.task == "classification":
        classes = set(record.class_names)
        for name in frame.columns:
            values = set(frame[name].dropna().astype(str).str.strip())
            if name not in taken and values and values <= classes:
                return str(name)
    return default_target(frame)


def postprocess(record: ModelMeta, model: Any, ds: Dataset, sensitive: Sequence[str], constraint: str, *,
                bins: int = 0, positive: int | None = None, seed: int = 0) -> tuple[Any, ModelMeta]:
    """Fit Fairlearn's ThresholdOptimizer on the model's training-row scores and return the model with the
    record of a post-processed copy (``PostProcessing``: the rules, and validation accuracy and disparities
    before and after). The caller stores it as a model of its own."""
    from dlcore.explain.service import predictions
    from dlcore.fairness.mitigation import fit_thresholds

    if record.task != "classification":
        raise FairnessError("group thresholds are for classifiers; this model is a regressor")
    if record.postprocessing is not None:
        raise FairnessError("this model is post-processed already; post-process the model it came from "
                            f"({record.postprocessing.base_model})")
    train, val = sensitive_groups(ds, sensitive, bins)
    names = tuple(train)
    k = len(ds.class_names)
    positive = (1 if k == 2 else 0) if positive is None else int(positive)
    before = audit(ds.y_val, predict(record, model, ds.x_val)[0], val, ds.task, ds.class_names, positive)
    scores = predictions(model, ds.x_train)[:, positive]
    post = fit_thresholds(scores, ds.y_train == positive, combine([train[c] for c in names]), constraint, names,
                          positive, bins)
    post = replace(post, base_model=record.model_id)
    meta = replace(record, postprocessing=post, model_id="",
                   name=f"{record.name or record.model_id} + {constraint.replace('_', ' ')} thresholds")
    after = audit(ds.y_val, predict(meta, model, ds.x_val, decision_groups(meta, ds), seed)[0], val, ds.task,
                  ds.class_names, positive)
    post = replace(post, before=_figures(before), after=_figures(after))
    return model, replace(meta, postprocessing=post)


def _figures(report: FairnessReport) -> dict[str, float | None]:
    return {"accuracy": report.overall.accuracy,
            "demographic_parity_difference": report.demographic_parity_difference,
            "equalized_odds_difference": report.equalized_odds_difference}
