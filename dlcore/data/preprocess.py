"""Preprocessing that turns raw rows or images into model inputs, saved with models as plain JSON.

Fitting uses scikit-learn (imputers, scalers, encoders) on the training split only; the fitted numbers are
kept as JSON rather than a pickled estimator, because model folders can be shared and imported, and
unpickling a file runs code. ``transform`` re-applies the numbers with NumPy and pandas, which is all a
fitted imputer, scaler or encoder does. The value parsers below are shared with column inference, so what
the Data page reports and what the model receives are computed by the same code.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlcore.errors import DataError

TRUE_WORDS = ("true", "yes", "y", "t", "on", "1")
FALSE_WORDS = ("false", "no", "n", "f", "off", "0")
BOOLEAN_WORDS = {**{w: 1.0 for w in TRUE_WORDS}, **{w: 0.0 for w in FALSE_WORDS}}  # yes/no words -> 1.0 / 0.0
MISSING = "(missing)"
OTHER = "(other)"
MAX_ONE_HOT = 50  # categories kept per column; rarer ones share an "(other)" input
DATE_PARTS = ("year", "month", "day", "weekday")


@dataclass(frozen=True)
class Preprocessing:
    """A fitted, JSON-serialisable transform from raw input to model input.

    ``kind`` is ``identity``, ``image`` (params: height, width, channels, scale), ``text`` (params: column;
    texts stay strings for the model's own vectorizer) or ``tabular`` (params: columns, a list of dicts
    with ``name`` and ``kind``: ``numeric`` {fill, mean, scale}, ``boolean`` {fill}, ``categorical``
    {categories, other}, ``ordinal`` {categories, fill, mean, scale} or ``date`` {format, parts, fill, mean,
    scale}).
    """

    kind: str = "identity"
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def identity(cls) -> Preprocessing:
        return cls("identity", {})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Preprocessing:
        if not data:
            return cls.identity()
        return cls(str(data.get("kind", "identity")), dict(data.get("params", {})))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": dict(self.params)}

    def transform(self, raw: Any) -> np.ndarray:
        """Turn raw input into model input: rows as a DataFrame (or a 2-D array of numbers), images, texts."""
        if self.kind == "identity":
            return np.asarray(raw, dtype=np.float32)
        if self.kind == "image":
            return _transform_image(np.asarray(raw), self.params)
        if self.kind == "text":
            return _transform_text(raw, str(self.params["column"]))
        if self.kind == "tabular":
            if hasattr(raw, "columns"):
                return transform_frame(raw, self.params["columns"])
            return _transform_numeric(raw, self.params["columns"])
        raise DataError(f"unknown preprocessing kind {self.kind!r}; re-save the model with this version")

    def output_names(self) -> list[str]:
        """Names of the model inputs a tabular transform produces (``sex=male``, ``date.year``, ...)."""
        if self.kind != "tabular":
            return []
        return [n for c in self.params["columns"] for n in _column_outputs(c)]

    def column_inputs(self) -> dict[str, tuple[int, ...]]:
        """For a table: each original column -> the indices of the model inputs made from it (one-hot
        categories and date parts share their column); empty for anything else."""
        out: dict[str, tuple[int, ...]] = {}
        start = 0
        for col in self.params.get("columns", []) if self.kind == "tabular" else []:
            width = len(_column_outputs(col))
            out[str(col["name"])] = tuple(range(start, start + width))
            start += width
        return out


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


def as_number(values: Any) -> np.ndarray:
    """Numbers as float64; text that is not a number, and infinities, become NaN (to be imputed)."""
    import pandas as pd

    s = pd.Series(values)
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        s = pd.to_numeric(s.astype(object), errors="coerce")
    x = s.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isfinite(x), x, np.nan)


def as_bool(values: Any) -> np.ndarray:
    """True/False, yes/no, 1/0 (any case) as 1.0/0.0; anything else NaN."""
    import pandas as pd

    s = pd.Series(values)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.where(np.isin(x, (0.0, 1.0)), x, np.nan)
    words = s.astype(object).where(s.notna(), "").astype(str).str.strip().str.lower()
    return words.map(BOOLEAN_WORDS).to_numpy(dtype=np.float64, na_value=np.nan)


def as_text(values: Any) -> Any:
    """Values as stripped strings (whole numbers without ``.0``), missing as None: a pandas Series."""
    import pandas as pd

    s = pd.Series(values)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
        text = [None if v != v else (str(int(v)) if float(v).is_integer() else repr(float(v))) for v in x]
        return pd.Series(text, index=s.index, dtype=object)
    present = s.notna()
    text = s[present] if isinstance(s.dtype, pd.StringDtype) else s[present].astype(object).astype(str)
    out = pd.Series(None, index=s.index, dtype=object)
    out[present] = text.str.strip().astype(object)
    return out.where(out != "", None)


def as_dates(values: Any, fmt: str = "ISO8601") -> Any:
    """Dates and times (UTC) as a pandas Series; what does not parse becomes NaT."""
    import pandas as pd

    return pd.to_datetime(pd.Series(values).astype(object), errors="coerce", format=fmt, utc=True)


def _date_parts(values: Any, fmt: str, parts: Sequence[str]) -> np.ndarray:
    d = as_dates(values, fmt).dt
    table = {"year": d.year, "month": d.month, "day": d.day, "weekday": d.weekday, "hour": d.hour}
    return np.column_stack([table[p].to_numpy(dtype=np.float64, na_value=np.nan) for p in parts])


def _ordinal_codes(values: Any, categories: Sequence[str]) -> np.ndarray:
    index = {c: float(i) for i, c in enumerate(categories)}
    return as_text(values).map(index).to_numpy(dtype=np.float64, na_value=np.nan)[:, None]


def fit_tabular(frame: Any, kinds: Mapping[str, str], orders: Mapping[str, Sequence[str]] | None = None,
                date_formats: Mapping[str, str] | None = None) -> Preprocessing:
    """Fit a table's preprocessing on the training rows only (``frame``), in the order of ``kinds``.

    ``kinds`` maps each feature column to ``numeric``, ``boolean``, ``categorical``, ``ordinal`` (order
    from ``orders``) or ``date`` (format from ``date_formats``). Numbers, ordinal codes and date parts get
    median imputation and standard scaling; categories are one-hot encoded, missing as their own category.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    columns: list[dict[str, Any]] = []
    scaled: list[tuple[dict[str, Any], np.ndarray]] = []  # columns whose stats come from one imputer+scaler
    for name, kind in kinds.items():
        col: dict[str, Any] = {"name": name, "kind": kind}
        values = frame[name]
        if kind == "numeric":
            scaled.append((col, as_number(values)[:, None]))
        elif kind == "ordinal":
            col["categories"] = [str(c) for c in (orders or {}).get(name, ())]
            if not col["categories"] or len(set(col["categories"])) != len(col["categories"]):
                raise DataError(f"column {name!r}: give its categories in order, each once (e.g. low,medium,high)")
            scaled.append((col, _ordinal_codes(values, col["categories"])))
        elif kind == "date":
            col["format"] = (date_formats or {}).get(name, "ISO8601")
            parts = _date_parts(values, col["format"], (*DATE_PARTS, "hour"))
            col["parts"] = list(DATE_PARTS) + (["hour"] if np.nanmax(parts[:, -1], initial=0) > 0 else [])
            scaled.append((col, parts[:, : len(col["parts"])]))
        elif kind == "boolean":
            x = as_bool(values)[:, None]
            col["fill"] = float(SimpleImputer(strategy="most_frequent", keep_empty_features=True).fit(x).statistics_[0])
        elif kind == "categorical":
            text = as_text(values).fillna(MISSING).to_numpy(dtype=object)[:, None]
            enc = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_ONE_HOT + 1).fit(text)
            rare = set(getattr(enc, "infrequent_categories_", [None])[0] or ())
            col["categories"] = [str(c) for c in enc.categories_[0] if c not in rare]
            col["other"] = bool(rare)
        else:
            raise DataError(f"column {name!r}: unknown kind {kind!r}; use numeric, boolean, categorical, ordinal "
                            "or date")
        columns.append(col)
    if scaled:
        _fit_scaled(scaled)
    return Preprocessing("tabular", {"columns": columns})


def _fit_scaled(blocks: list[tuple[dict[str, Any], np.ndarray]]) -> None:
    """Median imputation and standard scaling fitted on all numeric blocks at once; stats go into the dicts."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    x = np.hstack([b for _, b in blocks])
    imputer = SimpleImputer(strategy="median", keep_empty_features=True).fit(x)
    scaler = StandardScaler().fit(imputer.transform(x))
    start = 0
    for col, block in blocks:
        stop = start + block.shape[1]
        stats = {"fill": imputer.statistics_[start:stop], "mean": scaler.mean_[start:stop],
                 "scale": scaler.scale_[start:stop]}
        for key, v in stats.items():
            col[key] = [float(a) for a in v] if col["kind"] == "date" else float(v[0])
        start = stop


def _column_outputs(col: Mapping[str, Any]) -> list[str]:
    name, kind = col["name"], col["kind"]
    if kind == "categorical":
        return [f"{name}={c}" for c in col["categories"]] + ([f"{name}={OTHER}"] if col.get("other") else [])
    if kind == "date":
        return [f"{name}.{p}" for p in col["parts"]]
    return [name]


def _transform_column(values: Any, col: Mapping[str, Any]) -> np.ndarray:
    kind = col["kind"]
    if kind == "boolean":
        x = as_bool(values)
        return np.where(np.isnan(x), col["fill"], x)[:, None]
    if kind == "categorical":
        cats = list(col["categories"]) + ([None] if col.get("other") else [])
        text = as_text(values).fillna(MISSING)
        codes = text.map({c: i for i, c in enumerate(col["categories"])})
        if col.get("other"):
            codes = codes.fillna(len(cats) - 1)  # unseen or rare values share "(other)"
        idx = codes.to_numpy(dtype=np.float64, na_value=np.nan)
        return (idx[:, None] == np.arange(len(cats))[None, :]).astype(np.float64)
    if kind == "numeric":
        x = as_number(values)[:, None]
    elif kind == "ordinal":
        x = _ordinal_codes(values, col["categories"])
    elif kind == "date":
        x = _date_parts(values, col["format"], col["parts"])
    else:
        raise DataError(f"unknown column kind {kind!r}; re-save the model with this version")
    fill, mean, scale = (np.atleast_1d(np.asarray(col[k], dtype=np.float64)) for k in ("fill", "mean", "scale"))
    return (np.where(np.isnan(x), fill, x) - mean) / scale


def unscale(block: np.ndarray, col: Mapping[str, Any]) -> np.ndarray:
    """The inverse of a scaled column's standard scaling: model inputs ``(n, k)`` of one ``numeric``, ``ordinal``
    or ``date`` column back to its numbers, codes or date parts (missing values come back as the fill)."""
    if col["kind"] not in ("numeric", "ordinal", "date"):
        raise DataError(f"column {col['name']!r} ({col['kind']}) is not scaled; only numbers, ordinals and dates are")
    mean, scale = (np.atleast_1d(np.asarray(col[k], dtype=np.float64)) for k in ("mean", "scale"))
    return np.asarray(block, dtype=np.float64).reshape(len(block), -1) * scale + mean


def transform_frame(frame: Any, columns: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Turn raw rows (a DataFrame with the training columns, extra ones ignored) into float32 model input."""
    missing = [c["name"] for c in columns if c["name"] not in frame.columns]
    if missing:
        raise DataError(f"input lacks column(s) {missing[:5]}; give every column the model was trained on")
    if not columns:
        return np.zeros((len(frame), 0), dtype=np.float32)
    return np.hstack([_transform_column(frame[c["name"]], c) for c in columns]).astype(np.float32)


def _transform_text(raw: Any, column: str) -> np.ndarray:
    values = raw[column] if hasattr(raw, "columns") else raw
    if isinstance(values, str):
        values = [values]
    return np.asarray(as_text(values).fillna("").tolist(), dtype=object)


def _transform_numeric(raw: Any, columns: list[Mapping[str, Any]]) -> np.ndarray:
    x = np.asarray(raw)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != len(columns):
        raise DataError(f"input has {x.shape[-1]} columns, the model expects {len(columns)}")
    if any(c["kind"] != "numeric" for c in columns):  # a table with categories: give it named columns
        import pandas as pd

        return transform_frame(pd.DataFrame(x, columns=[c["name"] for c in columns]), columns)
    x = x.astype(np.float64)
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
