"""Kinds of training job, registered in one place: what differs between training a classifier or regressor,
fine-tuning a base (``dlcore.finetune``) and training a VAE or GAN (``dlcore.generative.train``).

``kind_for(config)`` picks the kind of a job's config; ``dlcore.training`` runs every kind the same way and
knows none of them: it asks the kind to get ready (``prepare``), to build the compiled model, for the
callbacks it adds, what to do once the model is built, and for the held-out evaluation stored with the model.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlcore import jobs
from dlcore.errors import ModelError
from dlcore.jobs import BACKUP_DIR
from dlcore.models.spec import GENERATIVE, TrainConfig

if TYPE_CHECKING:
    import keras

    from dlcore.data.dataset import Dataset
    from dlcore.generative.reference import Judge

RunJob = Callable[[Path], Mapping[str, Any]]  # runs a job folder to its end, returns its final status


@dataclass(frozen=True, eq=False)
class JobSetup:
    """What a kind is given to get ready before its job trains: the job's folder, config and data, and the
    function that runs another job folder to its end (``dlcore.training.run_job``), for what the job needs
    trained first."""

    folder: Path
    config: TrainConfig
    dataset: Dataset
    run_job: RunJob

    @property
    def home(self) -> Path:
        """The workspace the job belongs to (its folder is ``<home>/jobs/<id>``)."""
        return Path(self.folder).parent.parent


@dataclass(frozen=True)
class Callbacks:
    """The callbacks a kind adds to a job's own. ``before`` run ahead of the job's progress monitor and
    checkpoint (they act before a resumed job's state is restored); ``after`` follow them."""

    before: tuple[keras.callbacks.Callback, ...] = ()
    after: tuple[keras.callbacks.Callback, ...] = ()


@dataclass(frozen=True)
class JobKind:
    """A plain job: a classifier or regressor built by ``dlcore.models`` and evaluated on the validation
    split. Other kinds override what differs."""

    name: str = "train"

    def accepts(self, config: TrainConfig) -> bool:
        """Whether a job of ``config`` is of this kind."""
        return True

    def prepare(self, setup: JobSetup) -> JobKind:
        """This kind, ready to run the job of ``setup`` (with anything it must have first)."""
        return self

    def build(self, config: TrainConfig, dataset: Dataset) -> keras.Model:
        """The compiled model the job trains."""
        from dlcore.models import build_model, compile_model

        model = build_model(config.model, dataset)
        compile_model(model, config, dataset.task)
        return model

    def callbacks(self, config: TrainConfig, folder: Path) -> Callbacks:
        """The callbacks the kind adds to the job's own."""
        return Callbacks()

    def built(self, model: keras.Model, folder: Path) -> None:
        """What to do once the model is built, before it trains."""

    def evaluate(self, config: TrainConfig, model: keras.Model, dataset: Dataset) -> dict[str, Any]:
        """The held-out evaluation stored in the model's record (its ``kind`` says which report it is)."""
        from dlcore.evaluation import evaluate

        return evaluate(model, dataset)


@dataclass(frozen=True)
class FineTuneKind(JobKind):
    """Fine-tuning a base: the adapted base, its second phase, the model it started from kept in the job
    folder, and an evaluation before and after."""

    name: str = "finetune"

    def accepts(self, config: TrainConfig) -> bool:
        return config.finetune is not None

    def build(self, config: TrainConfig, dataset: Dataset) -> keras.Model:
        from dlcore.finetune import finetune_model

        return finetune_model(config, dataset)

    def callbacks(self, config: TrainConfig, folder: Path) -> Callbacks:
        from dlcore.second_phase import phase_callbacks

        # the second phase must switch before BackupAndRestore restores a resumed job
        return Callbacks(before=tuple(phase_callbacks(config, Path(folder) / BACKUP_DIR)))

    def built(self, model: keras.Model, folder: Path) -> None:
        from dlcore.finetune import save_before

        save_before(model, folder)

    def evaluate(self, config: TrainConfig, model: keras.Model, dataset: Dataset) -> dict[str, Any]:
        from dlcore.finetune import evaluate_before_after

        return evaluate_before_after(config, model, dataset)


@dataclass(frozen=True)
class GenerativeKind(JobKind):
    """A VAE or GAN: the per-epoch sample grid, a stop on any non-finite value, and the quality report scored
    by ``judge``, the reference classifier of its data (found or trained in ``prepare``, before the job)."""

    name: str = "generative"
    judge: Judge | None = None

    def accepts(self, config: TrainConfig) -> bool:
        return config.model.arch in GENERATIVE

    def prepare(self, setup: JobSetup) -> JobKind:
        """This kind with the judge of the job's data: the stored reference classifier, or one trained first by
        a job of its own in the same workspace (listed and reused like any model)."""
        from dlcore.generative.reference import check_judgeable, load_judge, reference_config, stored_judge
        from dlcore.generative.train import check_generative
        from dlcore.store import ModelStore

        config, dataset = setup.config, setup.dataset
        check_generative(config, dataset)  # a job that cannot be built fails before any judge is trained
        check_judgeable(dataset)
        wanted = reference_config(dataset, config.validation_split, config.seed, config.data)
        store = ModelStore(setup.home)
        judge = stored_judge(store, wanted, dataset)
        if judge is None:
            status = setup.run_job(jobs.create(wanted, store.home))
            if status.get("state") != "done" or not status.get("model_id"):
                raise ModelError(f"the reference classifier could not be trained: {status.get('message', '')}")
            judge = load_judge(store, str(status["model_id"]))
        return replace(self, judge=judge)

    def build(self, config: TrainConfig, dataset: Dataset) -> keras.Model:
        from dlcore.generative.train import build_generative

        return build_generative(config, dataset)

    def callbacks(self, config: TrainConfig, folder: Path) -> Callbacks:
        from dlcore.generative.train import job_callbacks

        return Callbacks(after=tuple(job_callbacks(folder, config)))

    def evaluate(self, config: TrainConfig, model: keras.Model, dataset: Dataset) -> dict[str, Any]:
        from dlcore.generative.train import evaluate_generative

        if self.judge is None:
            raise ModelError("a generative model is judged by its data's reference classifier: prepare the job "
                             "kind first (dlcore.training.run_job does)")
        return evaluate_generative(config, model, dataset, self.judge)


KINDS: tuple[JobKind, ...] = (FineTuneKind(), GenerativeKind(), JobKind())  # the first that accepts a config


def kind_for(config: TrainConfig) -> JobKind:
    """The kind of a job of ``config``: fine-tuning when it names a base, generative for a VAE or GAN, else
    a plain job."""
    return next(kind for kind in KINDS if kind.accepts(config))
