"""The result object between explainers and figures: ``Attribution`` (frozen, NumPy arrays, no model)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dlcore.errors import ExplainError

GAP_METHODS = ("shap", "ig")  # methods whose values should add up to the prediction minus the base value


@dataclass(frozen=True, eq=False)
class Attribution:
    """What an explanation of ``n`` model inputs says, and how it was made.

    Attributes:
        values: ``(n, *input_shape)`` for one explained class per row (``targets``), or
            ``(n, *input_shape, n_outputs)`` when every output was explained. LIME superpixel weights
            are spread back onto their pixels.
        base_values: ``(n,)`` or ``(n, n_outputs)``: SHAP's expected output over the background, or
            LIME's surrogate intercept.
        inputs: the explained model inputs, ``(n, *input_shape)``.
        predictions: model outputs for ``inputs``, ``(n, n_outputs)`` (probabilities for classifiers).
        targets: ``(n,)`` the class each row is explained for by default (the predicted one unless asked).
        method: ``shap`` or ``lime``; algorithm: ``exact``, ``permutation``, ``partition``, ``gradient``,
            ``deep``, ``lime-tabular`` or ``lime-image``.
        seed, seconds: the seed used and the wall time.
        feature_names, class_names: one name per input feature (pixels for images) and per output.
        background_size: rows the SHAP background was summarised to (LIME tabular: rows its sampling
            statistics came from; 0 for LIME on images).
        samples: per row: coalitions (exact), evaluations (permutation, partition), interpolation samples
            (gradient) or perturbed samples (LIME).
        model_rows: model evaluations (rows) actually run.
        output_range: spread of the model's outputs over the background and inputs (scale for the gaps).
        segments: LIME on images: ``(n, height, width)`` superpixel labels.
        local_fit: LIME: R² of the weighted ridge surrogate for each row's target class.
        local_pred: LIME: the surrogate's prediction at each row, for its target class.
        rules: LIME on tables: the condition each weight stands for (e.g. ``alcohol > 0.81``), per row.
        texts: LIME on texts: the explained texts; their distinct words are the features, and ``inputs``
            holds how often each word occurs in each text.
        notes: things the reader should know (a fallback taken, a sampled background).
        display: per row, per feature (in the order of ``feature_names``), the value as people read it, raw as
            uploaded (``"12.8"``, ``"female"``, ``"2012-01-01"``; see ``dlcore.explain.readable``); empty: the
            figures show ``inputs``.
    """

    values: np.ndarray
    base_values: np.ndarray
    inputs: np.ndarray
    predictions: np.ndarray
    targets: np.ndarray
    method: str
    algorithm: str
    seed: int
    seconds: float
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    background_size: int = 0
    samples: int = 0
    model_rows: int = 0
    output_range: float = 1.0
    segments: np.ndarray | None = None
    local_fit: np.ndarray | None = None
    local_pred: np.ndarray | None = None
    rules: tuple[tuple[str, ...], ...] = ()
    texts: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    display: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        n, shape = len(self.inputs), self.inputs.shape[1:]
        if self.values.shape not in ((n, *shape), (n, *shape, self.n_outputs)):
            raise ValueError(f"values shaped {self.values.shape} do not match inputs {self.inputs.shape}")
        if self.predictions.shape != (n, self.n_outputs) or self.targets.shape != (n,):
            raise ValueError("predictions must be (n, n_outputs) and targets (n,)")
        pixels = int(np.prod(shape[:-1])) if len(shape) == 3 else -1
        if len(self.feature_names) not in (int(np.prod(shape)), pixels) or len(self.class_names) != self.n_outputs:
            raise ValueError("one feature name per input value (or pixel) and one class name per output are needed")
        if self.display and (len(self.display) != n or any(len(d) != len(self.feature_names) for d in self.display)):
            raise ValueError("display needs one string per feature for every row, or none at all")

    def row(self, i: int) -> Attribution:
        """Row ``i`` alone, as a one-row Attribution (the figures draw row 0); a text keeps only its own words."""
        pick = slice(int(i), int(i) + 1)
        if not 0 <= int(i) < self.n_rows:
            raise ExplainError(f"row {i} was not explained; there are {self.n_rows} row(s)")
        arrays = {k: getattr(self, k)[pick] for k in ("values", "base_values", "inputs", "predictions", "targets")}
        optional = {k: None if getattr(self, k) is None else getattr(self, k)[pick]
                    for k in ("segments", "local_fit", "local_pred")}
        one = replace(self, **arrays, **optional, rules=self.rules[pick], texts=self.texts[pick],
                      display=self.display[pick])
        if not self.texts:
            return one
        words = np.flatnonzero(one.inputs[0] > 0)  # the other texts' words are not features of this one
        return replace(one, values=one.values[:, words], inputs=one.inputs[:, words],
                       feature_names=tuple(self.feature_names[j] for j in words),
                       display=tuple(tuple(d[j] for j in words) for d in one.display))

    @property
    def n_rows(self) -> int:
        return int(len(self.inputs))

    @property
    def n_outputs(self) -> int:
        return int(self.predictions.shape[1])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.inputs.shape[1:])

    @property
    def all_outputs(self) -> bool:
        """True when every output was explained, so any class can be shown without recomputing."""
        return self.values.ndim == self.inputs.ndim + 1

    @property
    def is_image(self) -> bool:
        return len(self.input_shape) == 3

    def classes(self, cls: int | None = None) -> np.ndarray:
        """The class shown for each row: ``cls`` for all rows, else each row's target."""
        if cls is None:
            return self.targets.astype(int)
        if not 0 <= int(cls) < self.n_outputs:
            raise ExplainError(f"class {cls} does not exist; the model has {self.n_outputs} output(s)")
        if not self.all_outputs and not np.all(self.targets == int(cls)):
            raise ExplainError(f"class {cls} was not explained; explain again with target={cls} or target='all'")
        return np.full(self.n_rows, int(cls))

    def _pick(self, array: np.ndarray, cls: int | None, per_output: bool) -> np.ndarray:
        if not per_output:
            self.classes(cls)  # validates
            return array
        return np.stack([array[i, ..., k] for i, k in enumerate(self.classes(cls))])

    def class_values(self, cls: int | None = None) -> np.ndarray:
        """Attributions for class ``cls`` (default: each row's target), shaped ``(n, *input_shape)``."""
        return self._pick(self.values, cls, self.all_outputs)

    def class_base(self, cls: int | None = None) -> np.ndarray:
        """Base value for class ``cls`` per row, ``(n,)``."""
        return self._pick(self.base_values, cls, self.base_values.ndim == 2)

    def class_prediction(self, cls: int | None = None) -> np.ndarray:
        """The model's output for class ``cls`` per row, ``(n,)``."""
        return self.predictions[np.arange(self.n_rows), self.classes(cls)]

    def _per_name(self, array: np.ndarray, reduce: str) -> np.ndarray:
        """``(n, *input_shape)`` -> ``(n, len(feature_names))``; a pixel's channels share one name."""
        if array[0].size != len(self.feature_names):
            array = getattr(array, reduce)(axis=-1)
        return array.reshape(len(array), -1)

    def flat(self, cls: int | None = None) -> np.ndarray:
        """Attributions as ``(n, n_features)``, one column per name in ``feature_names``."""
        return self._per_name(self.class_values(cls), "sum")

    def flat_inputs(self) -> np.ndarray:
        """Inputs as ``(n, n_features)`` (a pixel's channels averaged)."""
        return self._per_name(self.inputs, "mean")

    def additivity_gap(self, cls: int | None = None) -> np.ndarray | None:
        """SHAP: base + sum(values) - prediction per row (0 for exact Shapley values); Integrated Gradients
        (``ig``, whose base value is the output at the baseline): the completeness gap, the same sum; None for
        methods without such a property (LIME, occlusion, Grad-CAM, ...)."""
        if self.method not in GAP_METHODS:
            return None
        return self.class_base(cls) + self.flat(cls).sum(axis=1) - self.class_prediction(cls)

    def superpixel_weights(self, row: int = 0, cls: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """LIME on images: the superpixel ids of ``row`` and the weight of each."""
        if self.segments is None:
            raise ExplainError("only LIME explanations of images have superpixels")
        seg = self.segments[row]
        ids, first = np.unique(seg.ravel(), return_index=True)
        return ids, self.class_values(cls)[row][..., 0].ravel()[first]

    def to_frame(self, cls: int | None = None) -> Any:
        """The numbers as a long table: row, class, feature, input value, attribution (and the raw value people
        read, column ``raw``, when ``display`` is filled)."""
        import pandas as pd

        n, f = self.n_rows, len(self.feature_names)
        ks = self.classes(cls)
        flat_inputs, values = self.flat_inputs(), self.flat(cls)
        table = pd.DataFrame({
            "row": np.repeat(np.arange(n), f), "class": np.repeat([self.class_names[k] for k in ks], f),
            "feature": np.tile(np.asarray(self.feature_names, dtype=object), n),
            "input": flat_inputs.ravel(), "attribution": values.ravel(),
        })
        if self.display:
            table.insert(4, "raw", [v for d in self.display for v in d])
        return table

    def to_dict(self, cls: int | None = None) -> dict[str, Any]:
        """JSON-ready: how it was made, per-row prediction, base value, gap and the attributions (and ``raw``,
        the values people read, when ``display`` is filled)."""
        ks = self.classes(cls)
        gap = self.additivity_gap(cls)
        rows = []
        for i in range(self.n_rows):
            row: dict[str, Any] = {
                "class": self.class_names[ks[i]], "class_index": int(ks[i]),
                "prediction": float(self.class_prediction(cls)[i]), "base_value": float(self.class_base(cls)[i]),
                "probabilities": self.predictions[i].tolist(), "values": self.class_values(cls)[i].tolist(),
            }
            if gap is not None:
                row["additivity_gap"] = float(gap[i])
            if self.local_fit is not None:
                row["local_fit_r2"] = float(self.local_fit[i])
            if self.display:
                row["raw"] = list(self.display[i])
            rows.append(row)
        return {**self.describe(), "feature_names": list(self.feature_names), "rows": rows}

    def describe(self) -> dict[str, Any]:
        """How the explanation was made, in JSON-ready form."""
        return {"method": self.method, "algorithm": self.algorithm, "seed": self.seed,
                "seconds": round(self.seconds, 4), "background_size": self.background_size,
                "samples": self.samples, "model_rows": self.model_rows, "n_rows": self.n_rows,
                "input_shape": list(self.input_shape), "class_names": list(self.class_names),
                "notes": list(self.notes)}

    def top_features(self, row: int = 0, cls: int | None = None, k: int = 10) -> list[dict[str, Any]]:
        """The ``k`` features with the largest absolute attribution in ``row`` (with ``raw``, the value people
        read, when ``display`` is filled)."""
        v, x = self.flat(cls)[row], self.flat_inputs()[row]
        order = np.argsort(-np.abs(v), kind="stable")[:k]
        return [{"feature": self.feature_names[j], "value": float(v[j]), "input": float(x[j]),
                 **({"rule": self.rules[row][j]} if self.rules else {}),
                 **({"raw": self.display[row][j]} if self.display else {})} for j in order]
