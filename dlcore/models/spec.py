"""What a model and its training run are made of, as frozen, JSON-round-trippable configs."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

from dlcore.errors import ModelError

ACTIVATIONS = ("relu", "gelu", "tanh", "sigmoid", "leaky_relu")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
DISTRIBUTE = ("auto", "one", "mirrored", "multi-worker")
GENERATIVE = ("vae", "gan")  # built by dlcore.generative, not by the classifier builders


@dataclass(frozen=True)
class ModelSpec:
    """Architecture knobs. ``units`` are the dense layers; ``filters`` the conv blocks (cnn only)."""

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

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ModelError(f"unknown activation {self.activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ModelError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.l1 < 0 or self.l2 < 0:
            raise ModelError("L1 and L2 penalties must be >= 0")
        if any(int(u) < 1 for u in (*self.units, *self.filters)) or self.kernel_size < 1:
            raise ModelError("layer sizes and kernel size must be positive integers")
        if self.latent_dim < 0 or self.beta < 0 or not 0.0 <= self.label_smoothing < 0.5:
            raise ModelError("latent size and beta must be >= 0, label smoothing in [0, 0.5)")


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
    d_learning_rate: float | None = None  # gan: the discriminator's learning rate (None: learning_rate)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ModelError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if not self.learning_rate > 0 or not (self.d_learning_rate is None or self.d_learning_rate > 0):
            raise ModelError(f"learning rates must be > 0, got {self.learning_rate} and {self.d_learning_rate}")
        if self.batch_size < 1 or self.epochs < 1:
            raise ModelError("batch size and epochs must be at least 1")
        if self.distribute not in DISTRIBUTE:
            raise ModelError(f"unknown distribution {self.distribute!r}; choose one of {', '.join(DISTRIBUTE)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        """Rebuild a config, ignoring unknown keys (configs written by newer versions still load)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        model = dict(values.pop("model", {}) or {})
        spec_fields = {f.name for f in fields(ModelSpec)}
        model = {k: tuple(v) if isinstance(v, list) else v for k, v in model.items() if k in spec_fields}
        return cls(model=ModelSpec(**model), **values)
