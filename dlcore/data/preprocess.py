"""Preprocessing that turns raw rows or images into model inputs, saved with models as plain JSON.

Fitting uses scikit-learn; the fitted numbers are kept as JSON rather than a pickled estimator, because
model folders can be shared and imported, and unpickling a file runs code. ``transform`` re-applies the
numbers with NumPy, which is all a fitted imputer + scaler does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from dlcore.errors import DataError


@dataclass(frozen=True)
class Preprocessing:
    """A fitted, JSON-serialisable transform from raw input to model input.

    ``kind`` is ``identity``, ``image`` (params: height, width, channels, scale) or ``tabular``
    (params: columns, a list of ``{"name", "kind": "numeric", "fill", "mean", "scale"}``).
    """

    kind: str = "identity"
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def identity(cls) -> "Preprocessing":
        return cls("identity", {})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Preprocessing":
        if not data:
            return cls.identity()
        return cls(str(data.get("kind", "identity")), dict(data.get("params", {})))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": dict(self.params)}

    def transform(self, raw: Any) -> np.ndarray:
        """Turn raw input (rows as a DataFrame / 2-D array, or images) into float32 model input."""
        if self.kind == "identity":
            return np.asarray(raw, dtype=np.float32)
        if self.kind == "image":
            return _transform_image(np.asarray(raw), self.params)
        if self.kind == "tabular":
            return _transform_numeric(raw, self.params["columns"])
        raise DataError(f"unknown preprocessing kind {self.kind!r}; re-save the model with this version")


def fit_numeric(x_train: np.ndarray, names: list[str]) -> Preprocessing:
    """Fit median imputation and standard scaling on the training rows only."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(x_train, dtype=np.float64)
    x = np.where(np.isfinite(x), x, np.nan)
    imputer = SimpleImputer(strategy="median", keep_empty_features=True).fit(x)
    scaler = StandardScaler().fit(imputer.transform(x))
    columns = [
        {"name": n, "kind": "numeric", "fill": float(f), "mean": float(m), "scale": float(s)}
        for n, f, m, s in zip(names, imputer.statistics_, scaler.mean_, scaler.scale_)
    ]
    return Preprocessing("tabular", {"columns": columns})


def _transform_numeric(raw: Any, columns: list[Mapping[str, Any]]) -> np.ndarray:
    names = [c["name"] for c in columns]
    if hasattr(raw, "columns"):
        missing = [n for n in names if n not in raw.columns]
        if missing:
            raise DataError(f"input lacks column(s) {missing[:5]}; give every column the model was trained on")
        raw = raw[names].to_numpy()
    x = np.asarray(raw, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.shape[1] != len(columns):
        raise DataError(f"input has {x.shape[1]} columns, the model expects {len(columns)}")
    fill = np.array([c["fill"] for c in columns])
    mean = np.array([c["mean"] for c in columns])
    scale = np.array([c["scale"] for c in columns])
    x = np.where(np.isfinite(x), x, fill)
    return ((x - mean) / scale).astype(np.float32)


def _transform_image(images: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    h, w, c = int(params["height"]), int(params["width"]), int(params["channels"])
    x = images.astype(np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        x = x[..., None]
    if x.shape[1:3] != (h, w):
        from skimage.transform import resize

        x = np.stack([resize(img, (h, w, img.shape[-1]), anti_aliasing=True, preserve_range=True) for img in x])
    if x.shape[-1] != c:
        x = x.mean(axis=-1, keepdims=True) if c == 1 else np.repeat(x[..., :1], c, axis=-1)
    return np.clip(x * float(params.get("scale", 1.0)), 0.0, 1.0).astype(np.float32)
