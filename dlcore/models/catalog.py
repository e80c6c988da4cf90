"""Every architecture a job can train, listed once: its name, the data it reads, and its command-line defaults.

Classifier and regressor builders (``dlcore.models.builders``, ``dlcore.models.sequence``) register under
these names; the generative ones (``vae``, ``gan``) are built by ``dlcore.generative.train``. Pages, the
command line and the model specs ask here rather than spelling the names out. No Keras import.
"""
from __future__ import annotations

from dataclasses import dataclass

from dlcore.errors import ModelError

NUMERIC = ("tabular", "image", "sequence")  # modalities of numeric inputs


@dataclass(frozen=True)
class Architecture:
    """One architecture. ``modalities``: the data it trains on; ``default_for``: the modalities it is offered
    first for; ``units`` and ``filters``: the dense layers and conv blocks the command line gives it when
    none are asked for."""

    name: str
    summary: str
    modalities: tuple[str, ...]
    generative: bool = False
    default_for: tuple[str, ...] = ()
    units: tuple[int, ...] = (64, 32)
    filters: tuple[int, ...] = (16, 32)


CATALOG: tuple[Architecture, ...] = (
    Architecture("mlp", "dense layers", NUMERIC, default_for=("tabular",)),
    Architecture("cnn", "convolution blocks for images", ("image",), default_for=("image",)),
    Architecture("text", "averaged word embeddings", ("text",), default_for=("text",)),
    Architecture("rnn", "LSTM or GRU layers over words, sequence steps or image rows", ("text", "sequence", "image"),
                 default_for=("sequence",)),
    Architecture("transformer", "self-attention over words, sequence steps, image rows or patches",
                 ("text", "sequence", "image")),
    Architecture("vae", "variational autoencoder: draws images like its training images", ("image",),
                 generative=True, units=(128,), filters=(32, 64)),
    Architecture("gan", "generative adversarial network: draws images like its training images", ("image",),
                 generative=True, units=(), filters=(32, 64)),
)
_BY_NAME = {a.name: a for a in CATALOG}


def architectures() -> tuple[str, ...]:
    """Every architecture's name, classifiers and regressors first."""
    return tuple(a.name for a in CATALOG)


def trainable_architectures() -> tuple[str, ...]:
    """The architectures of classifiers and regressors (those the model builders build)."""
    return tuple(a.name for a in CATALOG if not a.generative)


def generative_architectures() -> tuple[str, ...]:
    """The architectures of generative models (built by ``dlcore.generative``)."""
    return tuple(a.name for a in CATALOG if a.generative)


def architecture(name: str) -> Architecture:
    """The architecture called ``name``; a ``ModelError`` naming the choices for an unknown one."""
    if name not in _BY_NAME:
        raise ModelError(f"unknown architecture {name!r}; choose one of {', '.join(architectures())}")
    return _BY_NAME[name]


def architectures_for(modality: str) -> list[str]:
    """The classifier and regressor architectures that can train on data of ``modality``."""
    return [a.name for a in CATALOG if not a.generative and modality in a.modalities]


def default_architecture(modality: str) -> str:
    """The architecture offered first for data of ``modality`` (mlp for tables and anything unknown)."""
    return next((a.name for a in CATALOG if modality in a.default_for), "mlp")


def architecture_help(generative: bool = False) -> str:
    """One line for people: each architecture (the generative ones when ``generative``) and what it is."""
    return "; ".join(f"{a.name}: {a.summary}" for a in CATALOG if a.generative == generative)
