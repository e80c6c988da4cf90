"""The typed record of a stored model: what its ``meta.json`` holds, with the questions callers ask of it.

``ModelMeta.from_dict`` reads every ``meta.json`` this package has written: schema 1 (the untyped dicts
written before the ``schema`` key existed) and schema 2 (this one). ``to_dict`` writes schema 2, which keeps
every key of schema 1 under the same name, so tools that read ``meta.json`` themselves keep working. Keys this
version does not know are kept in ``extra`` and written back unchanged.

The store (``dlcore.store``) reads and writes it; pages and commands ask it, never a dict of string keys.
Importing this module does not import TensorFlow.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from dlcore.errors import DlcoreError, ExplainError, ModelError
from dlcore.models.spec import GENERATIVE, TrainConfig
from dlcore.workspace import finite

SCHEMA = 2
NOT_CURVES = frozenset({"epoch", "seconds", "time"})  # per-epoch values that are bookkeeping, not curves
WRITTEN_WHEN_SET = frozenset({"streamed", "fit_rows"})  # data-summary keys kept out of meta.json at their default


def curve_names(history: Sequence[Mapping[str, Any]]) -> list[str]:
    """The keys of per-epoch history rows that are training curves (losses and metrics): numbers, and not the
    epoch, its duration or its wall-clock time. Validation curves first, then by name."""
    names = {k for row in history for k, v in row.items()
             if k not in NOT_CURVES and isinstance(v, (int, float)) and not isinstance(v, bool)}
    return sorted(names, key=lambda k: (not k.startswith("val_"), k))


@dataclass(frozen=True)
class ImportInfo:
    """Where an imported model file came from."""

    file: str = ""
    sha256: str = ""
    bytes: int = 0
    keras_version: str = ""
    model_class: str = ""


@dataclass(frozen=True)
class DataSummary:
    """The data set a model was trained on, as described when it was stored (``Dataset.summary()``)."""

    name: str = ""
    task: str = ""
    modality: str = ""
    n_train: int = 0
    n_val: int = 0
    input_shape: tuple[int, ...] = ()
    n_features: int = 0
    classes: tuple[str, ...] = ()
    description: str = ""
    streamed: bool = False  # the training rows were read from the file every epoch (``dlcore.data.stream``)
    fit_rows: int = 0  # streamed: the sampled training rows the preprocessing was fitted on (0: all of them)


BIG = 1e9  # Fairlearn's thresholds of +-inf are kept as +-BIG: scores are probabilities, JSON has no inf


@dataclass(frozen=True)
class ThresholdRule:
    """Fairlearn's interpolated thresholds for one group: with probability ``p0`` predict ``score operator0
    threshold0``, else ``score operator1 threshold1``; then, with probability ``p_ignore``, the constant
    ``prediction_constant`` instead (equalized odds)."""

    p0: float
    operator0: str
    threshold0: float
    p1: float
    operator1: str
    threshold1: float
    p_ignore: float = 0.0
    prediction_constant: float = 0.0


@dataclass(frozen=True)
class PostProcessing:
    """A trained model post-processed for fairness: group-specific thresholds on its score for ``positive``
    (Fairlearn's ``ThresholdOptimizer``), fitted on the training rows. ``before`` / ``after``: validation
    accuracy and disparities of the base model and of this one."""

    method: str
    constraint: str
    sensitive: tuple[str, ...]
    positive: int
    rules: Mapping[str, ThresholdRule]
    base_model: str = ""
    bins: int = 0
    before: Mapping[str, float | None] = field(default_factory=dict)
    after: Mapping[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "constraint": self.constraint, "sensitive": list(self.sensitive),
                "positive": self.positive, "base_model": self.base_model, "bins": self.bins,
                "rules": {g: {f.name: getattr(r, f.name) for f in fields(r)} for g, r in self.rules.items()},
                "before": dict(self.before), "after": dict(self.after)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PostProcessing:
        rules = {str(g): ThresholdRule(**_known(ThresholdRule, r)) for g, r in (data.get("rules") or {}).items()}
        return cls(method=str(data.get("method", "")), constraint=str(data.get("constraint", "")),
                   sensitive=_strs(data.get("sensitive")), positive=int(data.get("positive", 1)), rules=rules,
                   base_model=str(data.get("base_model") or ""), bins=int(data.get("bins") or 0),
                   before=dict(data.get("before") or {}), after=dict(data.get("after") or {}))


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _ints(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values or ())


def _strs(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


@dataclass(frozen=True, eq=False)
class ModelMeta:
    """A stored model's metadata.

    ``arch``: the builder's architecture name (``mlp``, ``cnn``, ``text``, ``rnn``, ``transformer``, ``vae``,
    ``gan``), ``imported`` for an imported file, or a backbone's name. ``task``: ``classification``,
    ``regression``, ``generative`` or ``unknown``. ``config``: the training job's config (None for imports).
    ``evaluation``: the held-out report written at the end of training (its ``kind`` says which).
    ``headless`` and ``input_scale`` describe backbones used as fine-tuning bases.
    """

    name: str = ""
    arch: str = "imported"
    task: str = "unknown"
    modality: str = "unknown"
    input_shape: tuple[int, ...] = ()
    output_shape: tuple[int, ...] = ()
    class_names: tuple[str, ...] = ()
    class_names_known: bool = True
    feature_names: tuple[str, ...] = ()
    preprocessing: Mapping[str, Any] = field(default_factory=dict)
    config: TrainConfig | None = None
    job: str | None = None
    dataset: DataSummary | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    history: tuple[Mapping[str, Any], ...] = ()
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    imported: ImportInfo | None = None
    latent_dim: int | None = None
    headless: bool = False
    input_scale: tuple[float, float] | None = None
    model_id: str = ""
    created: str = ""
    params: int | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    postprocessing: PostProcessing | None = None
    schema: int = SCHEMA
    extra: Mapping[str, Any] = field(default_factory=dict)

    # --- reading and writing ---------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelMeta:
        """Read a ``meta.json`` (schema 1 or 2; unknown keys go to ``extra``)."""
        data = dict(data or {})
        schema = int(data.pop("schema", 1) or 1)
        if schema > SCHEMA:
            raise ModelError(f"this model's metadata is schema {schema}, newer than this version reads ({SCHEMA}); "
                             "update the app to use it")
        model_id = str(data.pop("id", "") or data.pop("model_id", "") or "")
        config = data.pop("config", None)
        try:
            train = TrainConfig.from_dict(config) if isinstance(config, Mapping) and config.get("data") else None
        except (DlcoreError, TypeError) as exc:
            raise ModelError(f"model {model_id or '?'}: its training config cannot be read ({exc})") from exc
        summary = data.pop("dataset", None)
        imported = data.pop("imported", None)
        scale = data.pop("input_scale", None)
        post = data.pop("postprocessing", None)
        values = _known(cls, data)
        extra = {k: v for k, v in data.items() if k not in values}
        values.pop("extra", None)
        latent = values.pop("latent_dim", None)
        params = values.pop("params", None)
        return cls(**{**values,
                      "input_shape": _ints(values.get("input_shape")),
                      "output_shape": _ints(values.get("output_shape")),
                      "class_names": _strs(values.get("class_names")),
                      "feature_names": _strs(values.get("feature_names")),
                      "preprocessing": dict(values.get("preprocessing") or {}),
                      "metrics": dict(values.get("metrics") or {}),
                      "history": tuple(dict(r) for r in values.get("history") or ()),
                      "evaluation": dict(values.get("evaluation") or {}),
                      "versions": {str(k): str(v) for k, v in (values.get("versions") or {}).items()},
                      "class_names_known": bool(values.get("class_names_known", True)),
                      "headless": bool(values.get("headless", False)),
                      "job": str(values["job"]) if values.get("job") else None,
                      "name": str(values.get("name") or ""), "arch": str(values.get("arch") or "imported"),
                      "task": str(values.get("task") or "unknown"),
                      "modality": str(values.get("modality") or "unknown"),
                      "created": str(values.get("created") or ""),
                      "config": train, "model_id": model_id, "schema": SCHEMA,
                      "dataset": DataSummary(**{**_known(DataSummary, summary),
                                                "input_shape": _ints(summary.get("input_shape")),
                                                "classes": _strs(summary.get("classes"))})
                      if isinstance(summary, Mapping) else None,
                      "imported": ImportInfo(**_known(ImportInfo, imported)) if isinstance(imported, Mapping) else None,
                      "input_scale": (float(scale[0]), float(scale[1])) if scale else None,
                      "latent_dim": int(latent) if latent is not None else None,
                      "params": int(params) if params is not None else None,
                      "postprocessing": PostProcessing.from_dict(post) if isinstance(post, Mapping) else None,
                      "extra": extra})

    def to_dict(self) -> dict[str, Any]:
        """The ``meta.json`` of this record (schema 2: schema 1's keys and names, plus ``schema``)."""
        out: dict[str, Any] = {"schema": SCHEMA, "id": self.model_id, "created": self.created, "params": self.params,
                               "versions": dict(self.versions), **dict(self.extra)}
        for f in fields(self):
            if f.name in ("model_id", "created", "params", "versions", "schema", "extra"):
                continue
            value = getattr(self, f.name)
            if f.name == "config":
                value = value.to_dict() if value is not None else None
            elif isinstance(value, PostProcessing):
                value = value.to_dict()
            elif isinstance(value, (DataSummary, ImportInfo)):
                value = {g.name: getattr(value, g.name) for g in fields(value)
                         if g.name not in WRITTEN_WHEN_SET or getattr(value, g.name) != g.default}
            out[f.name] = finite(value)
        return out

    def stored(self, model_id: str, created: str, params: int, versions: Mapping[str, str]) -> ModelMeta:
        """This record as the store saves it: with its id, time, parameter count and library versions."""
        return replace(self, model_id=model_id, created=created, params=params, versions=dict(versions))

    # --- what callers ask ------------------------------------------------------------------------------

    @property
    def generative(self) -> bool:
        """A VAE or GAN: it draws images and makes no predictions to explain or fine-tune."""
        return self.arch in GENERATIVE or self.task == "generative"

    @property
    def takes_texts(self) -> bool:
        return self.modality == "text"

    @property
    def is_imported(self) -> bool:
        return self.imported is not None

    @property
    def finetune_report(self) -> Mapping[str, Any]:
        """What the fine-tuning job recorded (base, head, notes); empty for other models."""
        return dict(self.evaluation.get("finetune") or {})

    @property
    def origin(self) -> str:
        """How the model came to be, for people: trained, imported, or fine-tuned from a base."""
        if self.is_imported:
            return "imported"
        if self.postprocessing is not None:
            p = self.postprocessing
            return f"post-processed for {p.constraint.replace('_', ' ')} by {', '.join(p.sensitive)}"
        tune = self.finetune_report
        return f"fine-tuned from {tune.get('base_label', '?')}" if tune or self.finetuned else "trained"

    @property
    def finetuned(self) -> bool:
        return self.config is not None and self.config.finetune is not None

    @property
    def data_name(self) -> str:
        """The name of the data set it was trained on ('' for imports without one)."""
        return self.dataset.name if self.dataset is not None else ""

    @property
    def has_training_data(self) -> bool:
        """Whether the data set it was trained on is known (imported models have none)."""
        return self.config is not None and bool(self.config.data)

    @property
    def n_outputs(self) -> int:
        if self.output_shape:
            n = 1
            for d in self.output_shape:
                n *= int(d)
            return n
        if self.task == "classification":
            return len(self.class_names)
        return 1 if self.task == "regression" else 0

    def input_label(self) -> str:
        """How its input reads for people: ``input: texts`` or ``input (8, 8, 1)``."""
        return "input: texts" if self.takes_texts else f"input {tuple(self.input_shape)}"

    def curves(self) -> list[str]:
        """Its training curves (see ``curve_names``)."""
        return curve_names(self.history)

    def final_metrics(self, validation: bool | None = None) -> dict[str, float]:
        """The final epoch's numeric metrics (without the epoch number); ``validation``: only ``val_*``
        (True) or only the training ones (False)."""
        out = {k: float(v) for k, v in self.metrics.items()
               if k not in NOT_CURVES and isinstance(v, (int, float)) and not isinstance(v, bool)}
        if validation is None:
            return out
        return {k: v for k, v in out.items() if k.startswith("val_") == validation}

    @property
    def best_epoch(self) -> int:
        return int(self.metrics.get("epoch", 0) or 0)

    def output_names(self, data_class_names: Sequence[str] | None = None) -> tuple[str, ...] | None:
        """The names of its outputs: its own (given when it was trained or imported) when there are as many
        as the data set's classes, else the data set's; without a data set, its own; None for a regressor."""
        data = _strs(data_class_names)
        if data_class_names is None:
            return self.class_names or None
        return self.class_names if self.class_names and len(self.class_names) == len(data) else (data or None)

    def naming_note(self, data_name: str, data_class_names: Sequence[str]) -> str | None:
        """A sentence when the model and a data set name the same outputs differently (an imported model)."""
        own, data = self.output_names(data_class_names), _strs(data_class_names)
        if not own or own == data:
            return None
        same = (" (the same names in another order: check the model was trained with this order)"
                if sorted(own) == sorted(data) else "")
        return (f"The model names its outputs {', '.join(own)}; {data_name!r} names its classes {', '.join(data)}"
                f"{same}. Output k is read as the data set's k-th class; predictions are shown in the model's names, "
                "true classes in the data set's.")

    def data_key(self, data: str | None = None) -> tuple[str, str | None, float, int, tuple[str, ...] | None,
                                                          str | None]:
        """``(data, target, validation_split, seed, sensitive, forecast)``: how to load the data set it was
        trained on, split as in training, with the sensitive columns it was trained without (None: the data's
        own) and the series it forecasts (its spec as JSON, or None); for a model without one, the data set
        ``data`` names with the default split. Hashable, for caches."""
        if self.config is not None and self.config.data:
            c = self.config
            forecast = json.dumps(dict(c.forecast), sort_keys=True) if c.forecast else None
            return (str(c.data), c.target, float(c.validation_split), int(c.seed), tuple(c.sensitive) or None,
                    forecast)
        if not data:
            raise ExplainError("this model was imported without its training data; name a data set shaped like "
                               "its input to explain it with (--data NAME|FILE, or pick one on the Explain page)")
        return str(data), None, 0.2, 0, None, None

    def training_dataset(self, data: str | None = None) -> Any:
        """The data set it was trained on, split as it was (inputs by index, background rows); for a model
        stored without one (an imported file), the data set ``data`` names, checked to fit it."""
        from dlcore.data import load_dataset

        ref, target, split, seed, sensitive, forecast = self.data_key(data)
        ds = load_dataset(ref, target, split, seed, sensitive, forecast=json.loads(forecast) if forecast else None)
        if not self.has_training_data:
            self.check_fits(ds)
        return ds

    def check_fits(self, ds: Any) -> None:
        """Refuse a data set whose inputs or outputs do not match the model's, naming both."""
        if self.takes_texts != (ds.modality == "text"):
            raise ExplainError(f"the model takes {'texts' if self.takes_texts else 'numbers'} and {ds.name!r} holds "
                               f"{ds.modality} data; choose a data set like the model's input")
        if self.input_shape and tuple(ds.input_shape) != tuple(self.input_shape):
            raise ExplainError(f"{ds.name!r} gives inputs shaped {tuple(ds.input_shape)} and the model takes "
                               f"{tuple(self.input_shape)}; choose a data set shaped like the model's input")
        outputs = self.n_outputs if self.output_shape else 0
        if outputs and outputs != ds.n_outputs:
            raise ExplainError(f"the model has {outputs} output(s) and {ds.name!r} has {ds.n_outputs}; choose a "
                               "data set with as many classes as the model has outputs")

    def preprocessing_steps(self) -> Any:
        """Its fitted preprocessing as a ``Preprocessing`` (raw rows, texts or pictures -> model inputs)."""
        from dlcore.data.preprocess import Preprocessing

        return Preprocessing.from_dict(dict(self.preprocessing) or None)

