"""Fine-tuning: adapting a base to new data (head, input, freezing), run as a job with an optional second
phase that survives a resume, and the before/after record in the stored model's metadata."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

from dlcore import jobs
from dlcore.data import load_builtin
from dlcore.data.subset import limit_train
from dlcore.errors import ModelError
from dlcore.finetune import build_plan, finetune_config, layer_table, load_before, shipped_bases
from dlcore.models import build_model
from dlcore.models.spec import FineTuneSpec, ModelSpec, TrainConfig
from dlcore.record import ModelMeta
from dlcore.store import ModelStore
from dlcore.training import run_job

ASSET = str(Path(__file__).resolve().parents[2] / "assets" / "base_shapes_cnn.keras")


def test_the_shipped_base_is_listed_small_and_described() -> None:
    (base,) = [b for b in shipped_bases() if b.path.endswith("base_shapes_cnn.keras")]
    assert Path(base.path).stat().st_size < 1_000_000 and base.name == "CNN base trained on shapes"
    assert base.meta.class_names == ("circle", "square", "triangle", "cross") and base.meta.arch == "cnn"
    assert base.meta.metrics["val_accuracy"] > 0.9 and base.meta.config.data == "shapes"
    assert base.meta.extra["made_by"] == "python assets/make_base.py"  # a key the record does not know is kept


def test_same_classes_keep_the_head_and_freeze_the_first_layers() -> None:
    plan = build_plan(FineTuneSpec(base=ASSET, freeze=4), load_builtin("shapes_outline"))
    assert plan.head == "kept" and plan.notes[0].startswith("the head is kept")
    rows = layer_table(plan.model, plan.head_start)
    assert [r["name"] for r in rows[:4]] == ["input", "conv1", "conv1_act", "pool1"]
    assert [r["trainable"] for r in rows] == [False] * 4 + [True] * (len(rows) - 4)
    assert rows[1]["params"] == 80 and rows[1]["output_shape"] == "(28, 28, 8)" and rows[-1]["part"] == "head"
    base = keras.saving.load_model(ASSET, compile=False)
    x = load_builtin("shapes_outline").x_val[:16]
    np.testing.assert_allclose(plan.model.predict(x, verbose=0), base.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_other_classes_and_sizes_get_a_new_head_and_an_input_adapter() -> None:
    digits = load_builtin("digits")
    plan = build_plan(FineTuneSpec(base=ASSET), digits)
    assert plan.head == "replaced" and "4 output(s)" in plan.notes[0] and "needs 10" in plan.notes[0]
    assert any("resized from 8x8 to 28x28" in n for n in plan.notes)
    names = [layer.name for layer in plan.model.layers]
    assert names[:3] == ["input", "adapt_resize", "conv1"] and names[plan.head_start] == "output"
    assert plan.model.output.shape[-1] == 10 and plan.model.input.shape[1:] == (8, 8, 1)
    trainable = [layer.trainable for layer in plan.model.layers if layer.weights]
    assert trainable == [False, False, False, True]  # freeze -1: the head only
    out = plan.model.predict(digits.x_val[:5], verbose=0)
    assert out.shape == (5, 10) and np.allclose(out.sum(axis=1), 1, atol=1e-5)


def test_the_same_classes_in_another_order_keep_the_head_with_its_outputs_reordered(tmp_path: Path) -> None:
    from dlcore.data import load_dataset
    from tests.gen_support import write_image_zip

    images = load_dataset(str(write_image_zip(tmp_path / "shapes.zip", "shapes", classes=(0, 1, 2, 3), per_class=25)))
    assert images.class_names == ("circle", "cross", "square", "triangle")  # class folders, sorted by name
    plan = build_plan(FineTuneSpec(base=ASSET), images)
    assert plan.head == "kept" and "put in the data's order" in plan.notes[0]
    base = keras.saving.load_model(ASSET, compile=False)
    x = images.x_val
    order = [["circle", "square", "triangle", "cross"].index(c) for c in images.class_names]
    np.testing.assert_allclose(plan.model.predict(x, verbose=0), base.predict(x, verbose=0)[:, order],
                               rtol=1e-5, atol=1e-6)
    assert (plan.model.predict(x, verbose=0).argmax(1) == images.y_val).mean() > 0.8  # the base already knows them
    assert build_plan(FineTuneSpec(base=ASSET, head="replace"), images).head == "replaced"


def test_a_regression_base_keeps_its_head_without_talk_of_classes(tmp_path: Path) -> None:
    diabetes = load_builtin("diabetes")
    path = tmp_path / "regressor.keras"
    build_model(ModelSpec(units=(8,)), diabetes).save(path)
    plan = build_plan(FineTuneSpec(base=str(path)), diabetes)
    assert plan.head == "kept" and plan.notes[0] == "the head is kept: the base already predicts 1 output(s)"


def test_shapes_that_cannot_fit_say_why(home: Path) -> None:
    with pytest.raises(ModelError, match=r"takes inputs shaped \(28, 28, 1\) \(images\) and 'iris' gives \(4,\) "
                                         r"\(a table\); they cannot fit: choose a base trained on a table"):
        build_plan(FineTuneSpec(base=ASSET), load_builtin("iris"))
    wine = load_builtin("wine")
    record = ModelStore(home).save(build_model(ModelSpec(units=(4,)), wine),
                                   ModelMeta(name="wine mlp", task="classification"))
    with pytest.raises(ModelError, match="a table's columns must be the base's"):
        build_plan(FineTuneSpec(base=record.model_id), load_builtin("breast_cancer"))
    with pytest.raises(ModelError, match="the head cannot be kept: the base has 4 output"):
        build_plan(FineTuneSpec(base=ASSET, head="keep"), load_builtin("digits"))
    with pytest.raises(ModelError, match="leaves nothing to train"):
        build_plan(FineTuneSpec(base=ASSET, freeze=99), load_builtin("shapes_outline"))


class Recorder(keras.callbacks.Callback):
    """Copies of chosen weights at the end of every epoch, and an optional crash after one epoch."""

    def __init__(self, crash_after: int | None = None) -> None:
        super().__init__()
        self.rows: list[dict[str, np.ndarray]] = []
        self.crash_after = crash_after

    def snapshot(self) -> dict[str, np.ndarray]:
        m = self.model
        return {"conv": m.get_layer("conv1").kernel.numpy().copy(),
                "bn_mean": m.get_layer("conv1_bn").moving_mean.numpy().copy(),
                "bn_gamma": m.get_layer("conv1_bn").gamma.numpy().copy(),
                "dense": m.get_layer("dense1_dense").kernel.numpy().copy()}

    def on_train_begin(self, logs=None) -> None:
        self.rows.append(self.snapshot())

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.rows.append(self.snapshot())
        if self.crash_after is not None and epoch + 1 == self.crash_after:
            raise KeyboardInterrupt  # the worker dies here: the job stays "running" with its backup


@pytest.fixture(scope="module")
def bn_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small CNN with batch norm, trained one epoch on digits, saved as a file."""
    keras.utils.set_random_seed(0)
    digits = load_builtin("digits")
    model = build_model(ModelSpec(arch="cnn", filters=(4,), units=(8,), batch_norm=True), digits)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(digits.x_train, digits.y_train, epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("bn") / "bn_base.keras"
    model.save(path)
    return path


@pytest.mark.slow
def test_two_phase_job_keeps_batch_norm_frozen_and_survives_a_resume(bn_base: Path, home: Path) -> None:
    # layers: input, conv1, conv1_bn, conv1_act, pool1, flatten, dense1_dense, dense1_act, output
    config = finetune_config(str(bn_base), "digits", freeze=6, unfreeze=1, fine_epochs=2, epochs=4,
                             fine_learning_rate=1e-3, train_limit=120, batch_size=32)
    assert config.epochs == 4 and TrainConfig.from_dict(config.to_dict()) == config
    folder = jobs.create(config, home)
    first = Recorder(crash_after=3)
    with pytest.raises(KeyboardInterrupt):
        run_job(folder, extra_callbacks=[first])
    assert jobs.poll(folder.name, home).state == "interrupted"
    kept = folder / "before.keras"  # the model the job started from, kept once
    stamp = kept.stat().st_mtime_ns
    second = Recorder()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = run_job(folder, extra_callbacks=[second])
    assert status["state"] == "done", status.get("message")
    lost = [str(w.message) for w in caught if "Skipping variable loading" in str(w.message)]
    assert not lost, f"the resumed second phase must restore its optimizer state: {lost}"
    rows = first.rows + second.rows[1:]  # epoch-end snapshots: 0 (start), 1, 2, 3 | 4
    assert len(rows) == 5 and len(jobs.metrics(folder.name, home)) == 4
    assert np.array_equal(rows[0]["conv"], rows[2]["conv"]), "phase one (epochs 1-2) must leave conv1 frozen"
    assert not np.array_equal(rows[2]["conv"], rows[3]["conv"]), "phase two unfreezes conv1"
    assert not np.array_equal(rows[3]["conv"], rows[4]["conv"]), "the resumed job is still in phase two"
    assert not np.array_equal(rows[0]["dense"], rows[1]["dense"])
    for row in rows[1:]:  # frozen batch norm: inference mode, statistics and scale never move
        assert np.array_equal(row["bn_mean"], rows[0]["bn_mean"])
        assert np.array_equal(row["bn_gamma"], rows[0]["bn_gamma"])
    meta = ModelStore(home).get(status["model_id"]).meta
    ev = meta.evaluation
    assert ev["finetune"]["base"] == str(bn_base) and ev["finetune"]["head"] == "kept"
    assert ev["before"]["kind"] == "classification" and len(ev["before"]["confusion_matrix"]) == 10
    assert meta.dataset.n_train == 120 and meta.name == "bn_base fine-tuned on digits" and meta.finetuned
    before = load_before(folder)
    assert kept.stat().st_mtime_ns == stamp, "a resumed job must not overwrite the model it started from"
    assert np.array_equal(before.get_layer("conv1").kernel.numpy(), rows[0]["conv"])
    assert np.array_equal(before.get_layer("dense1_dense").kernel.numpy(), rows[0]["dense"])
    from dlcore.evaluation import evaluate

    assert evaluate(before, load_builtin("digits"))["accuracy"] == pytest.approx(ev["before"]["accuracy"])


def test_store_models_are_bases_and_the_base_id_is_recorded(home: Path) -> None:
    keras.utils.set_random_seed(0)
    iris = load_builtin("iris")
    base = ModelStore(home).save(build_model(ModelSpec(units=(8,)), iris),
                                 ModelMeta(name="iris mlp", task="classification", class_names=iris.class_names,
                                           arch="mlp"))
    config = finetune_config(base.model_id, "iris", base_meta=base.meta, freeze=-1, epochs=2)
    status = run_job(jobs.create(config, home))
    assert status["state"] == "done", status.get("message")
    meta = ModelStore(home).get(status["model_id"]).meta
    assert meta.finetune_report["base_id"] == base.model_id and meta.arch == "mlp"
    assert meta.finetune_report["head"] == "kept" and meta.origin == "fine-tuned from iris mlp (" + base.model_id + ")"
    before_model = ModelStore(home).load(base.model_id)  # head kept: "before" is the base itself
    pred = before_model.predict(iris.x_val, verbose=0).argmax(axis=1)
    assert meta.evaluation["before"]["accuracy"] == pytest.approx(float((pred == iris.y_val).mean()))


def test_configs_validate_and_round_trip() -> None:
    with pytest.raises(ModelError, match="second phase needs both"):
        FineTuneSpec(base="x", unfreeze=2)
    with pytest.raises(ModelError, match="must leave epochs for the first"):
        TrainConfig(data="digits", epochs=3, finetune=FineTuneSpec(base="x", unfreeze=1, fine_epochs=3))
    with pytest.raises(ModelError, match="unknown head mode"):
        FineTuneSpec(base="x", head="drop")
    config = TrainConfig(data="digits", train_limit=50, finetune=FineTuneSpec(base="m-1", freeze=3))
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert TrainConfig.from_dict({"data": "digits"}).finetune is None


def test_train_limit_keeps_a_stratified_subset() -> None:
    shapes = load_builtin("shapes_outline")
    small = limit_train(shapes, 100, seed=1)
    assert small.n_train == 100 and small.n_val == shapes.n_val and small.masks_train.shape[0] == 100
    assert np.bincount(small.y_train).tolist() == [25, 25, 25, 25]
    assert limit_train(shapes, 0) is shapes and limit_train(shapes, 10**6) is shapes
    assert not np.array_equal(small.x_train, limit_train(shapes, 100, seed=2).x_train)


def test_command_line_base_files_are_imported_first_and_hostile_ones_refused_before_a_job(
        home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dlcore.__main__ import main

    iris = load_builtin("iris")
    good = tmp_path / "mine.keras"
    build_model(ModelSpec(units=(8,)), iris).save(good)
    assert main(["finetune", "--base", str(good), "--data", "iris", "--epochs", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    imported, tuned = ModelStore(home).get(result["base"]), ModelStore(home).get(result["model_id"])
    assert imported.meta.imported.file == "mine.keras" and len(ModelStore(home).list()) == 2
    assert tuned.meta.finetune_report["base_id"] == imported.model_id

    marker = tmp_path / "lambda-ran"
    where = str(marker)
    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda t: (open(where, "w").close(), t)[1])(inputs)
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(outputs)).save(tmp_path / "evil.keras")
    marker.unlink(missing_ok=True)  # building the model ran the lambda once; nothing after may
    assert main(["finetune", "--base", str(tmp_path / "evil.keras"), "--data", "iris", "--epochs", "1"]) == 2
    assert "Lambda" in capsys.readouterr().err and not marker.exists()
    assert len(ModelStore(home).list()) == 2 and len(jobs.list_jobs()) == 1
