"""Job kinds (``dlcore.kinds``): the registry picks the kind of every config, each kind's callbacks go where the
job needs them, and a generative job's evaluation is scored by the judge it is given, never training one."""
from __future__ import annotations

from pathlib import Path

import keras
import pytest

from dlcore import jobs
from dlcore.chief_checkpoint import ChiefCheckpoint
from dlcore.data import load_builtin
from dlcore.data.subset import limit_train
from dlcore.errors import ModelError
from dlcore.generative.reference import Judge, reference_config
from dlcore.generative.train import SampleGrid, StopOnNonFinite, evaluate_generative
from dlcore.kinds import KINDS, FineTuneKind, GenerativeKind, JobKind, JobSetup, kind_for
from dlcore.models import build_model, generative_architectures
from dlcore.models.spec import FineTuneSpec, ModelSpec, TrainConfig
from dlcore.record import ModelMeta
from dlcore.second_phase import SecondPhase
from dlcore.store import ModelStore
from dlcore.training import JobMonitor, job_callbacks

VAE_SPEC = ModelSpec(arch="vae", filters=(8,), units=(16,), latent_dim=4)


def _job_folders(home: Path) -> list[str]:
    folder = Path(home) / "jobs"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_the_registry_picks_the_kind_of_every_config() -> None:
    assert [k.name for k in KINDS] == ["finetune", "generative", "train"]  # the plain kind takes what is left
    assert kind_for(TrainConfig(data="iris")).name == "train"
    for arch in ("cnn", "text", "rnn", "transformer"):
        assert kind_for(TrainConfig(data="digits", model=ModelSpec(arch=arch))).name == "train"
    for arch in generative_architectures():
        kind = kind_for(TrainConfig(data="digits", model=ModelSpec(arch=arch)))
        assert isinstance(kind, GenerativeKind) and kind.judge is None
    tune = TrainConfig(data="digits", finetune=FineTuneSpec(base="m-1"))
    assert isinstance(kind_for(tune), FineTuneKind)
    # a base's own architecture does not make the job generative: it is a fine-tuning job
    assert kind_for(TrainConfig(data="digits", model=ModelSpec(arch="vae"), finetune=FineTuneSpec(base="m-1"))).name \
        == "finetune"


def test_each_kind_puts_its_callbacks_where_the_job_needs_them(tmp_path: Path) -> None:
    def kinds_of(config: TrainConfig) -> list[type]:
        return [type(c) for c in job_callbacks(tmp_path, config, JobMonitor(tmp_path, config.epochs, 1))]

    plain = kinds_of(TrainConfig(data="iris", early_stopping=2))
    assert plain[:2] == [JobMonitor, ChiefCheckpoint] and plain[-1] is keras.callbacks.EarlyStopping
    assert len(plain) == 5
    # the second phase acts before BackupAndRestore restores a resumed job: ahead of the monitor and checkpoint
    tune = TrainConfig(data="digits", epochs=3, finetune=FineTuneSpec(base="m-1", unfreeze=1, fine_epochs=1))
    assert kinds_of(tune)[:3] == [SecondPhase, JobMonitor, ChiefCheckpoint] and len(kinds_of(tune)) == 5
    assert kinds_of(TrainConfig(data="digits", finetune=FineTuneSpec(base="m-1")))[:2] == [JobMonitor, ChiefCheckpoint]
    # the sample grid and the non-finite stop follow the job's own
    generative = kinds_of(TrainConfig(data="digits", model=VAE_SPEC))
    assert generative[:2] == [JobMonitor, ChiefCheckpoint] and generative[-2:] == [SampleGrid, StopOnNonFinite]


def test_only_fine_tuning_keeps_the_model_it_started_from(tmp_path: Path) -> None:
    model = build_model(ModelSpec(units=(4,)), load_builtin("iris"))
    JobKind().built(model, tmp_path)
    assert list(tmp_path.iterdir()) == []
    FineTuneKind().built(model, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["before.keras"]


@pytest.fixture(scope="module")
def digits_and_vae() -> tuple:
    digits = limit_train(load_builtin("digits"), 200, seed=0)
    config = TrainConfig(data="digits", model=VAE_SPEC, epochs=1)
    keras.utils.set_random_seed(0)
    return digits, config, kind_for(config).build(config, digits)


def _store_judge(home: Path, digits, config: TrainConfig | None, accuracy: float) -> ModelMeta:
    keras.utils.set_random_seed(0)
    cnn = build_model(ModelSpec(arch="cnn", filters=(4,), units=(8,)), digits)
    meta = ModelMeta(name="a judge", arch="cnn", task="classification", modality="image", config=config,
                     input_shape=digits.input_shape, class_names=digits.class_names,
                     evaluation={"kind": "classification", "accuracy": accuracy})
    return ModelStore(home).save(cnn, meta).meta


def test_the_generative_evaluation_is_scored_by_the_judge_it_is_given(home: Path, digits_and_vae: tuple) -> None:
    digits, config, vae = digits_and_vae
    stored = _store_judge(home, digits, None, accuracy=0.25)
    store = ModelStore(home)
    judge = Judge(store.load(stored.model_id), store.get(stored.model_id))
    report = evaluate_generative(config, vae, digits, judge, n=40)
    assert report["classifier_id"] == stored.model_id and report["classifier_accuracy"] == pytest.approx(0.25)
    assert report["kind"] == "generative" and report["n_samples"] == 40 and report["latent_dim"] == 4
    assert sum(report["class_counts"]) == 40 and len(report["class_counts"]) == 10
    assert _job_folders(home) == []  # no job was created to judge it
    kind = GenerativeKind(judge=judge)
    assert kind.evaluate(config, vae, digits)["classifier_id"] == stored.model_id
    assert _job_folders(home) == [] and len(store.list()) == 1
    with pytest.raises(ModelError, match="reference classifier"):
        GenerativeKind().evaluate(config, vae, digits)  # an unprepared kind has no judge to score with


def test_preparing_finds_a_stored_judge_and_runs_no_job(home: Path, digits_and_vae: tuple) -> None:
    digits, config, _ = digits_and_vae
    stored = _store_judge(home, digits, reference_config(digits, config.validation_split, config.seed, "digits"),
                          accuracy=0.5)
    _store_judge(home, digits, TrainConfig(data="digits"), accuracy=0.9)  # trained otherwise: not the judge

    def no_job(folder: Path) -> dict:
        raise AssertionError(f"no job may run, got {folder}")

    folder = jobs.create(config, home)
    kind = kind_for(config).prepare(JobSetup(folder, config, digits, no_job))
    assert isinstance(kind, GenerativeKind) and kind.judge is not None
    assert kind.judge.model_id == stored.model_id and kind.judge.accuracy == pytest.approx(0.5)
    assert _job_folders(home) == [folder.name]


def test_without_a_stored_judge_preparing_runs_its_job_first_and_fails_when_it_fails(home: Path,
                                                                                   digits_and_vae: tuple) -> None:
    digits, config, _ = digits_and_vae
    ran: list[Path] = []

    def failing_job(folder: Path) -> dict:
        ran.append(folder)
        return {"state": "failed", "message": "out of luck"}

    folder = jobs.create(config, home)
    with pytest.raises(ModelError, match="reference classifier could not be trained: out of luck"):
        kind_for(config).prepare(JobSetup(folder, config, digits, failing_job))
    (judge_job,) = ran
    assert judge_job.parent == folder.parent and judge_job != folder  # a job of its own, in the same workspace
    assert TrainConfig.from_dict(jobs.poll(judge_job.name, home).config) == reference_config(digits, 0.2, 0, "digits")


def test_a_generative_job_on_data_it_cannot_use_fails_before_any_judge_is_trained(home: Path) -> None:
    config = TrainConfig(data="iris", model=VAE_SPEC)

    def no_job(folder: Path) -> dict:
        raise AssertionError("no judge may be trained for a job that cannot run")

    with pytest.raises(ModelError, match="generates images"):
        kind_for(config).prepare(JobSetup(jobs.create(config, home), config, load_builtin("iris"), no_job))
    assert JobKind().prepare(JobSetup(home, config, load_builtin("iris"), no_job)) == JobKind()
