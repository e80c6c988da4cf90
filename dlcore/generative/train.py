"""What a generative training job needs from this package: the compiled model, the callbacks that write
the per-epoch sample grid, and the evaluation stored with the model (the quality report, scored by the
reference classifier it is given).

The generative job kind of ``dlcore.kinds`` calls these for ``arch`` ``vae`` and ``gan``; everything else
about the job (progress, stop, resume, the store) is the same as for classifiers.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras
import numpy as np

from dlcore.data.dataset import Dataset
from dlcore.errors import ModelError
from dlcore.generative.base import GenerativeModel
from dlcore.generative.gan import GAN
from dlcore.generative.reference import Judge
from dlcore.generative.sampling import decode, default_labels, generate, noise
from dlcore.generative.vae import VAE
from dlcore.images import SAMPLES_FILE, npz_bytes
from dlcore.models.spec import TrainConfig
from dlcore.workspace import atomic_write_bytes

DEFAULT_LATENT = {"vae": 8, "gan": 32}
GRID_COLUMNS = 8
QUALITY_SAMPLES = 1000


def _optimizer(config: TrainConfig, learning_rate: float) -> keras.optimizers.Optimizer:
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=config.momentum)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    beta_1 = 0.5 if config.model.arch == "gan" else 0.9  # 0.5 for GANs, as in DCGAN
    return keras.optimizers.Adam(learning_rate, beta_1=beta_1)


def check_generative(config: TrainConfig, dataset: Dataset) -> None:
    """Refuse a job ``build_generative`` cannot build: data that are not images, a conditional model without
    classes, early stopping for a GAN; the message names the fix."""
    spec = config.model
    if dataset.modality != "image" or len(dataset.input_shape) != 3:
        raise ModelError(f"a {spec.arch} generates images, and {dataset.name!r} is {dataset.modality} data; "
                         "choose an image data set such as digits")
    if spec.conditional and not dataset.class_names:
        raise ModelError(f"a conditional {spec.arch} needs class labels, and {dataset.name!r} has none")
    if spec.arch == "gan" and config.early_stopping:
        raise ModelError("early stopping watches val_loss, which a GAN does not have; set it to 0")


def build_generative(config: TrainConfig, dataset: Dataset) -> GenerativeModel:
    """The compiled VAE or GAN that ``config`` describes, for ``dataset``'s images."""
    check_generative(config, dataset)
    spec = config.model
    common = {"image_shape": dataset.input_shape, "latent_dim": spec.latent_dim or DEFAULT_LATENT[spec.arch],
              "n_classes": len(dataset.class_names) if spec.conditional else 0, "filters": spec.filters,
              "units": spec.units, "seed": config.seed}
    if spec.arch == "vae":
        model: GenerativeModel = VAE(beta=spec.beta, activation=spec.activation, **common)
        model.compile(optimizer=_optimizer(config, config.learning_rate))
    elif spec.arch == "gan":
        model = GAN(label_smoothing=spec.label_smoothing, dropout=spec.dropout, **common)
        model.compile(optimizer=_optimizer(config, config.learning_rate),
                      d_optimizer=_optimizer(config, config.d_learning_rate or config.learning_rate))
    else:
        raise ModelError(f"unknown generative architecture {spec.arch!r}; choose vae or gan")
    return model


class SampleGrid(keras.callbacks.Callback):
    """After every epoch, decodes the same noise batch and writes the images to ``samples.npz`` in the job
    folder (atomically), so a page can show how the samples change, or collapse, while training runs."""

    def __init__(self, folder: Path, seed: int = 0, rows: int = 8) -> None:
        super().__init__()
        self.path, self.seed, self.rows = Path(folder) / SAMPLES_FILE, seed, rows

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        model = self.model
        classes = model.n_classes
        n = (classes or self.rows) * GRID_COLUMNS  # a row per class when conditional
        labels = np.repeat(np.arange(classes), GRID_COLUMNS) if classes else None
        z = noise(GRID_COLUMNS, model.latent_dim, self.seed)[np.arange(n) % GRID_COLUMNS] if classes \
            else noise(n, model.latent_dim, self.seed)
        x = decode(model, z, labels)
        atomic_write_bytes(self.path, npz_bytes(x, labels, epoch=np.int64(epoch + 1), columns=np.int64(GRID_COLUMNS)))


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training when any logged value is NaN or infinite (Keras' TerminateOnNaN watches ``loss``
    only, which a GAN does not log); the job then fails with advice."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if any(not math.isfinite(float(v)) for v in (logs or {}).values()):
            self.model.stop_training = True


def job_callbacks(folder: Path, config: TrainConfig) -> list[keras.callbacks.Callback]:
    """The callbacks a generative job adds to the usual ones."""
    return [SampleGrid(folder, seed=config.seed), StopOnNonFinite()]


def evaluate_generative(config: TrainConfig, model: GenerativeModel, dataset: Dataset, judge: Judge,
                        n: int = QUALITY_SAMPLES) -> dict[str, Any]:
    """The quality report of ``model`` (``quality.quality_report``) with ``n`` samples, scored by ``judge``
    (the reference classifier for the data set, see ``dlcore.generative.reference``)."""
    from dlcore.generative.quality import quality_report

    labels = default_labels(n, model.n_classes) if model.n_classes else None
    samples, _ = generate(model, n, seed=config.seed, labels=labels)
    report = quality_report(samples, dataset.x_train, dataset.x_val, judge.model, seed=config.seed, labels=labels)
    report.update(classifier_id=judge.model_id, classifier_accuracy=judge.accuracy, latent_dim=int(model.latent_dim))
    return report
