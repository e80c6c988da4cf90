"""What a model and its training run are made of, as frozen, JSON-round-trippable configs."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from dlcore.errors import ModelError
from dlcore.models.catalog import generative_architectures

ACTIVATIONS = ("relu", "gelu", "tanh", "sigmoid", "leaky_relu")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
DISTRIBUTE = ("auto", "one", "mirrored", "multi-worker")
GENERATIVE = generative_architectures()  # built by dlcore.generative, not by the classifier builders
CELLS = ("lstm", "gru")


@dataclass(frozen=True)
class ModelSpec:
    """Architecture knobs. ``units`` are the dense layers; ``filters`` the conv blocks (cnn only);
    ``seq_units`` the sequence layers: units of each recurrent layer (rnn) or the width of each encoder
    block (transformer)."""

    arch: str = "mlp"
    units: tuple[int, ...] = (64, 32)
    filters: tuple[int, ...] = (16, 32)
    kernel_size: int = 3
    activation: str = "relu"
    dropout: float = 0.0
    batch_norm: bool = False
    l1: float = 0.0
    l2: float = 0.0
    latent_dim: int = 0  # vae / gan: size of the latent code; 0: the model's default (8 / 32)
    beta: float = 0.5  # vae: weight of the KL term (below 1: sharper on small grey images, see generative.vae)
    conditional: bool = False  # vae / gan: the class is given to the model
    label_smoothing: float = 0.1  # gan: the discriminator's target for real images is 1 - this
    seq_units: tuple[int, ...] = (64,)  # rnn: units per recurrent layer; transformer: width per encoder block
    cell: str = "lstm"  # rnn: lstm or gru
    bidirectional: bool = False  # rnn: read the sequence both ways
    heads: int = 4  # transformer: attention heads per block
    patch: int = 0  # transformer on images: square patches of this side as tokens; 0: each row is a token

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ModelError(f"unknown activation {self.activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ModelError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.l1 < 0 or self.l2 < 0:
            raise ModelError("L1 and L2 penalties must be >= 0")
        if any(int(u) < 1 for u in (*self.units, *self.filters, *self.seq_units)) or self.kernel_size < 1:
            raise ModelError("layer sizes and kernel size must be positive integers")
        if self.latent_dim < 0 or self.beta < 0 or not 0.0 <= self.label_smoothing < 0.5:
            raise ModelError("latent size and beta must be >= 0, label smoothing in [0, 0.5)")
        if self.cell not in CELLS:
            raise ModelError(f"unknown recurrent cell {self.cell!r}; choose one of {', '.join(CELLS)}")
        if self.heads < 1 or self.patch < 0:
            raise ModelError("attention heads must be at least 1 and the patch size >= 0 (0: rows as tokens)")


HEAD_MODES = ("auto", "replace", "keep")


@dataclass(frozen=True)
class FineTuneSpec:
    """How a fine-tuning job adapts a base model (see ``dlcore.finetune``).

    ``base``: a stored model id, a ``.keras`` file, or ``keras:MobileNetV2`` (weights must be on disk).
    ``freeze``: freeze the first N layers of the adapted model; -1 freezes every layer below the head.
    ``head``: ``auto`` replaces the output layer when the classes or output size differ.
    Optional second phase: the last ``fine_epochs`` of the job's epochs unfreeze the top ``unfreeze``
    frozen layers (batch-norm layers stay frozen, in inference mode) and train at ``fine_learning_rate``.
    """

    base: str
    freeze: int = -1
    head: str = "auto"
    unfreeze: int = 0
    fine_epochs: int = 0
    fine_learning_rate: float = 1e-4

    def __post_init__(self) -> None:
        if not str(self.base).strip():
            raise ModelError("choose a base model to fine-tune (a model id, a .keras file or keras:MobileNetV2)")
        if self.freeze < -1 or self.unfreeze < 0 or self.fine_epochs < 0:
            raise ModelError("freeze must be -1 (all below the head) or >= 0; unfreeze and fine epochs >= 0")
        if self.head not in HEAD_MODES:
            raise ModelError(f"unknown head mode {self.head!r}; choose one of {', '.join(HEAD_MODES)}")
        if (self.unfreeze > 0) != (self.fine_epochs > 0):
            raise ModelError("a second phase needs both layers to unfreeze and epochs for it (or neither)")
        if not self.fine_learning_rate > 0:
            raise ModelError(f"the second phase's learning rate must be > 0, got {self.fine_learning_rate}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything needed to rerun a training job; stored as the job's ``config.json``."""

    data: str
    model: ModelSpec = field(default_factory=ModelSpec)
    target: str | None = None
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    batch_size: int = 32
    epochs: int = 10
    early_stopping: int = 0
    validation_split: float = 0.2
    seed: int = 0
    name: str = ""
    mixed_precision: bool = False
    distribute: str = "auto"
    train_limit: int = 0  # use at most this many training rows (seeded, stratified); 0: all
    finetune: FineTuneSpec | None = None
    d_learning_rate: float | None = None  # gan: the discriminator's learning rate (None: learning_rate)
    sensitive: tuple[str, ...] = ()  # columns kept out of the inputs for the fairness audit (() : the data's own)
    reweigh: bool = False  # weight training rows so group and label are independent (needs sensitive columns)
    forecast: Mapping[str, Any] | None = None  # a series to forecast: dlcore.data.forecast.ForecastSpec.to_dict()

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ModelError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if not self.learning_rate > 0:
            raise ModelError(f"learning rate must be > 0, got {self.learning_rate}")
        if self.d_learning_rate is not None and not self.d_learning_rate > 0:
            raise ModelError(f"the discriminator's learning rate must be > 0, got {self.d_learning_rate}")
        if self.batch_size < 1 or self.epochs < 1:
            raise ModelError("batch size and epochs must be at least 1")
        if self.distribute not in DISTRIBUTE:
            raise ModelError(f"unknown distribution {self.distribute!r}; choose one of {', '.join(DISTRIBUTE)}")
        if self.train_limit < 0:
            raise ModelError(f"train_limit must be >= 0 (0: every training row), got {self.train_limit}")
        if self.finetune is not None and self.finetune.fine_epochs >= self.epochs:
            raise ModelError(f"the second phase ({self.finetune.fine_epochs} epochs) must leave epochs for the "
                             f"first: raise epochs above {self.finetune.fine_epochs}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Rebuild a config, ignoring unknown keys (configs written by newer versions still load)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        model = dict(values.pop("model", {}) or {})
        spec_fields = {f.name for f in fields(ModelSpec)}
        model = {k: tuple(v) if isinstance(v, list) else v for k, v in model.items() if k in spec_fields}
        tune = values.pop("finetune", None)
        tune_fields = {f.name for f in fields(FineTuneSpec)}
        tune = FineTuneSpec(**{k: v for k, v in tune.items() if k in tune_fields}) if tune else None
        values["sensitive"] = tuple(str(c) for c in values.get("sensitive") or ())
        values["forecast"] = dict(values["forecast"]) if values.get("forecast") else None
        return cls(model=ModelSpec(**model), finetune=tune, **values)
