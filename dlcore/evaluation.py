"""Held-out evaluation of a trained model: confusion matrix and per-class scores, or residuals."""
from __future__ import annotations

from typing import Any

import numpy as np

from dlcore.data.dataset import Dataset

MAX_POINTS = 5000  # predicted-vs-true points kept for plots; more only slow the page down


def predict(model: Any, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Model outputs for ``x`` as float64 (large batches: this is inference, not training)."""
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)


def evaluate(model: Any, dataset: Dataset) -> dict[str, Any]:
    """Scores on the validation split, as JSON-friendly lists (stored in the model's metadata)."""
    out = predict(model, dataset.x_val)
    if dataset.task == "classification":
        return classification_report(dataset.y_val, out, dataset.class_names)
    return regression_report(dataset.y_val, out.reshape(-1))


def classification_report(y_true: np.ndarray, proba: np.ndarray, class_names: tuple[str, ...]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = list(range(len(class_names)))
    y_pred = proba.argmax(axis=1)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "kind": "classification",
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "class_names": list(class_names),
        "precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist(),
    }


def regression_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    keep = slice(0, MAX_POINTS)
    return {
        "kind": "regression",
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "r2": float(r2_score(y_true, y_pred)),
        "baseline_mae": float(np.abs(y_true - y_true.mean()).mean()),
        "y_true": np.asarray(y_true, dtype=float)[keep].tolist(),
        "y_pred": np.asarray(y_pred, dtype=float)[keep].tolist(),
    }
