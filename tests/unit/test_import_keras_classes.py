"""Keras' own operations and applications layers are imported; hostile files that name them stay refused.

A functional graph records ``keras.ops`` calls as operation classes (``keras.ops.mean(x)`` is saved as
``keras.src.ops.numpy.Mean``, ``x + y`` as ``keras.src.ops.numpy.Add``) and ``keras.applications`` models use
their own layers (ConvNeXt's ``keras.src.applications.convnext.LayerScale``). The import check accepts exactly
the classes Keras defines there (``safe_import.keras_operation``) and still checks every value inside them, so
functions, modules and classes reached through such a file are refused as before.
"""
from __future__ import annotations

import json
import os
import sys
import types
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from dlcore import safe_import
from dlcore.errors import UnsafeModelError
from dlcore.importer import import_model, load_checked
from dlcore.store import ModelStore
from tests.unit.test_safe_import import layer, refused, rewrite

# Every keras.applications architecture (Keras 3.15: all 40 build offline with weights=None) with the smallest
# square input it accepts among 32, 64, 75: InceptionV3 and InceptionResNetV2 need at least 75x75, Xception 71x71;
# always ``include_top=True, classes=3``.
NEEDS_75 = ("InceptionResNetV2", "InceptionV3", "Xception")
APPLICATIONS = {
    **{name: 32 for name in (
        "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge",
        "DenseNet121", "DenseNet169", "DenseNet201",
        "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4", "EfficientNetB5",
        "EfficientNetB6", "EfficientNetB7", "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2",
        "EfficientNetV2B3", "EfficientNetV2L", "EfficientNetV2M", "EfficientNetV2S",
        "MobileNet", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small", "NASNetLarge", "NASNetMobile",
        "ResNet101", "ResNet101V2", "ResNet152", "ResNet152V2", "ResNet50", "ResNet50V2", "VGG16", "VGG19")},
    **{name: 75 for name in NEEDS_75},
}
QUICK = ("MobileNetV3Small", "EfficientNetB0")  # checked statically in the default run
LOADED = "ConvNeXtTiny"  # checked and loaded with safe_mode=True in the default run
# Imported the whole way (a capped child each, about 20 s): in the full sweep only; the default run imports the
# operations graph the whole way and loads a ConvNeXt with safe_mode=True after the check.
ALL = os.environ.get("DLCORE_IMPORT_SWEEP") == "all"
FULL = tuple(pytest.param(name, marks=pytest.mark.skipif(not ALL, reason="the whole import path of an application "
                                                          "runs with DLCORE_IMPORT_SWEEP=all (about 20 s each)"))
             for name in ("ConvNeXtTiny", "MobileNetV3Small"))
# The slow sweep: one architecture of each family by default (the large ones of a family share its classes and
# take minutes to build); DLCORE_IMPORT_SWEEP=all checks all 40.
FAMILIES = ("DenseNet121", "EfficientNetV2B0", "InceptionResNetV2", "InceptionV3", "MobileNet", "MobileNetV2",
            "MobileNetV3Large", "NASNetMobile", "ResNet50", "ResNet50V2", "VGG16", "Xception")
SWEEP = sorted(set(APPLICATIONS) - {*QUICK, "ConvNeXtTiny", "MobileNetV3Small"}) if ALL else FAMILIES


def ops_model() -> keras.Model:
    """A functional model whose graph records several Keras operations between two Dense layers."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), name="input")
    h = keras.layers.Dense(8, name="dense")(inputs)
    h = keras.ops.relu(h) + keras.ops.tanh(h)
    mean = keras.ops.mean(h, axis=-1, keepdims=True)
    peak = keras.ops.max(h, axis=-1, keepdims=True)
    h = keras.ops.concatenate([h, mean, keras.ops.square(peak)], axis=-1)
    h = keras.ops.einsum("bi,bi->bi", h, keras.ops.sigmoid(h))
    outputs = keras.layers.Dense(3, activation="softmax", name="output")(h)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def ops_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ops") / "ops.keras"
    ops_model().save(path)
    return path


def entry(config: dict, name: str) -> dict:
    """The graph entry (layer or operation) called ``name``."""
    return next(e for e in config["config"]["layers"] if e.get("name") == name or e["config"].get("name") == name)


def config_of(model: keras.Model) -> dict:
    """What ``model.save`` writes as config.json (Keras' saving_lib: ``json.dumps(serialize_keras_object(model))``)."""
    return json.loads(json.dumps(keras.saving.serialize_keras_object(model)))


def static_archive(model: keras.Model, path: Path) -> Path:
    """A ``.keras`` archive with the model's real config.json and an empty weights member: enough for the
    static check (``check_model_file`` reads no weights), without writing hundreds of MiB of weights."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", json.dumps(config_of(model)))
        zf.writestr("metadata.json", json.dumps({"keras_version": keras.__version__}))
        zf.writestr("model.weights.h5", b"")
    return path


def application(name: str, size: int) -> keras.Model:
    return getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3), include_top=True, classes=3)


def test_the_table_names_every_application_and_the_small_sizes_are_the_smallest() -> None:
    assert set(APPLICATIONS) == {n for n in dir(keras.applications) if n[:1].isupper()}
    for name in NEEDS_75:
        with pytest.raises(ValueError, match="at least 7[15]x7[15]"):
            application(name, 64)


def test_the_operation_classes_are_those_keras_defines_and_nothing_else() -> None:
    assert safe_import.keras_operation("keras.src.ops.numpy", "Mean") is keras.src.ops.numpy.Mean
    assert safe_import.keras_operation("keras.src.ops.nn", "Relu") is keras.src.ops.nn.Relu
    layer_scale = safe_import.keras_operation("keras.src.applications.convnext", "LayerScale")
    assert layer_scale is not None and issubclass(layer_scale, keras.layers.Layer)
    for module, name in [
        ("keras.src.ops.numpy", "mean"),  # a function, not a class
        ("keras.src.ops.numpy", "Nope"),  # not there
        ("keras.src.ops.numpy", "np"), ("keras.src.ops.numpy", "__builtins__"),  # a module, a dict
        ("keras.src.ops.numpy", "KerasTensor"),  # imported there, not an operation
        ("keras.src.applications.convnext", "Functional"),  # a Keras class imported there, not defined there
        ("keras.src.applications.convnext", "Sequential"),
        ("keras.src.ops.operation", "Operation"),  # the abstract base
        ("keras.src.ops.core_test", "Map"),  # a test module (not imported by Keras): never imported by name
        ("keras.src.utils.torch_utils", "TorchModuleWrapper"),  # outside the operation namespaces
        ("keras.ops", "Mean"), ("keras.config", "enable_unsafe_deserialization"),
        ("os", "system"), ("numpy", "ndarray"), ("keras.src.ops.numpy", "Mean.__init__"),
    ]:
        assert safe_import.keras_operation(module, name) is None, (module, name)
    assert "keras.src.ops.core_test" not in sys.modules


def test_a_test_module_s_operations_are_refused_even_once_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("keras.src.ops.fake_test")
    double = type("Double", (keras.Operation,), {"__module__": fake.__name__})
    fake.Double = double
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    assert safe_import.keras_operation(fake.__name__, "Double") is None
    monkeypatch.setitem(sys.modules, "keras.src.ops.fake", fake)  # the same class outside a test module is found
    double.__module__ = "keras.src.ops.fake"
    assert safe_import.keras_operation("keras.src.ops.fake", "Double") is double


def test_a_functional_graph_with_keras_operations_is_imported_and_predicts_the_same(ops_file: Path,
                                                                                     home: Path) -> None:
    config = json.loads(zipfile.ZipFile(ops_file).read("config.json"))
    named = {(e["module"], e["class_name"]) for e in config["config"]["layers"]}
    assert {("keras.src.ops.nn", "Relu"), ("keras.src.ops.numpy", "Add"), ("keras.src.ops.numpy", "Mean"),
            ("keras.src.ops.numpy", "Concatenate"), ("keras.src.ops.numpy", "Einsum")} <= named
    assert safe_import.scan_config(config) == []
    record = import_model(ops_file, home)
    assert record.meta.input_shape == (6,) and record.meta.output_shape == (3,)
    assert record.meta.task == "classification"
    x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    original = keras.saving.load_model(ops_file, compile=False, safe_mode=True)
    np.testing.assert_allclose(ModelStore(home).load(record.model_id).predict(x, verbose=0),
                               original.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("name", QUICK)
def test_small_applications_pass_the_check(name: str, tmp_path: Path) -> None:
    path = static_archive(application(name, APPLICATIONS[name]), tmp_path / f"{name}.keras")
    config = safe_import.check_model_file(path)["config"]
    assert config["class_name"] == "Functional"
    assert name != "MobileNetV3Small" or {"Add", "Multiply"} <= {e["class_name"] for e in config["config"]["layers"]}
    keras.backend.clear_session()


def test_a_convnext_passes_the_check_and_loads_with_safe_mode(tmp_path: Path) -> None:
    path = tmp_path / "convnext.keras"
    model = application(LOADED, APPLICATIONS[LOADED])
    model.save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    assert {"LayerScale", "Add"} <= {e["class_name"] for e in config["config"]["layers"]}
    loaded = load_checked(path, path.name)  # check_model_file, then keras.saving.load_model(safe_mode=True)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), rtol=1e-5, atol=1e-6)
    keras.backend.clear_session()


@pytest.mark.slow
@pytest.mark.parametrize("name", FULL)
def test_applications_are_imported_through_the_whole_import_path(name: str, tmp_path: Path, home: Path) -> None:
    path = tmp_path / f"{name}.keras"
    size = APPLICATIONS[name]
    application(name, size).save(path)
    record = import_model(path, home, class_names=["a", "b", "c"])  # checked, loaded in the capped child, stored
    assert record.meta.input_shape == (size, size, 3) and record.meta.output_shape == (3,)
    assert record.meta.modality == "image" and record.meta.class_names == ("a", "b", "c")
    keras.backend.clear_session()


@pytest.mark.slow
@pytest.mark.parametrize("name", SWEEP)
def test_every_application_that_builds_small_passes_the_static_check(name: str, tmp_path: Path) -> None:
    path = static_archive(application(name, APPLICATIONS[name]), tmp_path / f"{name}.keras")
    assert safe_import.check_model_file(path)["config"]["class_name"] == "Functional"
    keras.backend.clear_session()


CONFIG_FN = {"module": "keras.config", "class_name": "enable_unsafe_deserialization", "config": None,
             "registered_name": None}


@pytest.mark.parametrize("where, value, fragments", [
    # functions and modules reached through a legal operation's config
    ("mean", CONFIG_FN, ("layer 'mean' (Mean)", "module 'keras.config'")),
    ("mean", {"module": "keras.config", "class_name": "function", "config": "enable_unsafe_deserialization",
              "registered_name": "enable_unsafe_deserialization"}, ("layer 'mean' (Mean)", "module 'keras.config'")),
    ("mean", {"module": "keras.src.ops.numpy", "class_name": "Mean",
              "registered_name": "enable_unsafe_deserialization", "config": {}},
     ("layer 'mean' (Mean)", "registered name 'enable_unsafe_deserialization' does not match class 'Mean'")),
    ("mean", {"module": "keras.utils", "class_name": "get_file", "registered_name": None,
              "config": {"origin": "file:///etc/hostname", "fname": "got"}},
     ("layer 'mean' (Mean)", "module 'keras.utils'")),
    ("max", {"module": "keras.src.utils.file_utils", "class_name": "function", "config": "get_file",
             "registered_name": None}, ("layer 'max' (Max)", "module 'keras.src.utils.file_utils'")),
    ("max", {"module": "builtins", "class_name": "function", "config": "eval", "registered_name": None},
     ("layer 'max' (Max)", "module 'builtins'")),
    ("max", {"module": "keras.src.ops.numpy", "class_name": "function", "config": "mean", "registered_name": None},
     ("layer 'max' (Max)", "names the function keras.src.ops.numpy.mean")),
    ("max", {"module": "keras.src.ops.numpy", "class_name": "Nope", "registered_name": None, "config": {}},
     ("layer 'max' (Max)", "keras.src.ops.numpy.Nope is not an operation or layer class")),
])
def test_hostile_objects_inside_an_operation_are_refused(ops_file: Path, tmp_path: Path, home: Path,
                                                         where: str, value: dict, fragments: tuple[str, ...]) -> None:
    def edit(config: dict) -> None:
        entry(config, where)["config"]["axis"] = value

    refused(rewrite(ops_file, tmp_path / "hostile.keras", edit), home, *fragments)
    assert not (Path.cwd() / "got").exists()


@pytest.mark.parametrize("module, cls, registered, fragment", [
    ("builtins", "eval", None, "module 'builtins'"),
    ("os", "system", None, "module 'os'"),
    ("numpy", "ndarray", None, "module 'numpy'"),
    ("keras.src.ops.numpy", "Nope", "Nope", "keras.src.ops.numpy.Nope is not an operation or layer class"),
    ("keras.src.ops.numpy", "mean", "mean", "keras.src.ops.numpy.mean is not an operation or layer class"),
    ("keras.src.ops.numpy", "Mean", "evil>Payload", "'evil>Payload' is not one of this app's own classes"),
    ("keras.src.ops.operation", "Operation", "Operation", "is not an operation or layer class"),
    ("keras.src.applications.convnext", "Functional", "Functional", "is not an operation or layer class"),
    ("keras.src.ops.core_test", "Map", "Map", "is not an operation or layer class"),
    ("keras.src.layers.core.dense_test", "Dense", "Dense", "module 'keras.src.layers.core.dense_test'"),
    ("keras.src.backend.tensorflow.layer", "TFLayer", "TFLayer", "module 'keras.src.backend.tensorflow.layer'"),
    ("keras.src.utils.torch_utils", "TorchModuleWrapper", None, "pickled PyTorch module"),
    ("keras.src.export.tfsm_layer", "TFSMLayer", None, "SavedModel from a path"),
    ("keras.ops", "Mean", "Mean", "module 'keras.ops'"),
    ("keras.saving", "load_model", None, "module 'keras.saving'"),
])
def test_an_operation_swapped_for_a_foreign_or_unknown_class_is_refused(ops_file: Path, tmp_path: Path, home: Path,
                                                                        module: str, cls: str, registered: str | None,
                                                                        fragment: str) -> None:
    def edit(config: dict) -> None:
        mean = entry(config, "mean")
        mean.update(module=module, class_name=cls, registered_name=registered)

    refused(rewrite(ops_file, tmp_path / "hostile.keras", edit), home, f"layer 'mean' ({cls})", fragment)
    assert "keras.src.ops.core_test" not in sys.modules and "keras.src.layers.core.dense_test" not in sys.modules


def test_a_lambda_next_to_keras_operations_is_refused_and_never_runs(tmp_path: Path, home: Path) -> None:
    marker = tmp_path / "lambda-ran"
    where = str(marker)
    inputs = keras.Input((4,))
    h = keras.ops.relu(keras.layers.Dense(4, name="dense")(inputs)) + inputs
    h = keras.layers.Lambda(lambda t: (open(where, "w").close(), t)[1], name="payload")(h)
    h = keras.ops.mean(h, axis=-1, keepdims=True)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, keras.layers.Dense(2, name="out")(h)).save(path)
    marker.unlink()  # building the model called the lambda once; loading must not
    message = refused(path, home, "layer 'payload' (Lambda)", "Python code")
    assert "Mean" not in message and "Add" not in message and "Relu" not in message  # the operations are fine
    assert not marker.exists()


def test_an_operation_given_a_function_through_its_call_is_refused(tmp_path: Path, home: Path) -> None:
    inputs = keras.Input((3,))
    path = tmp_path / "map.keras"
    keras.Model(inputs, keras.layers.Dense(2)(keras.ops.map(keras.activations.relu, inputs))).save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    assert layer(config, "map")["class_name"] == "Map"
    refused(path, home, "layer 'map' (Map)", "module 'builtins'")


def test_importing_the_check_does_not_import_keras() -> None:
    import subprocess

    code = "import sys, dlcore.safe_import; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.split() == ["False", "False"]


def test_a_refusal_from_the_operation_namespaces_is_an_unsafe_model_error(ops_file: Path, tmp_path: Path) -> None:
    def edit(config: dict) -> None:
        entry(config, "add")["config"]["name"] = CONFIG_FN

    with pytest.raises(UnsafeModelError, match="layer 'add' \\(Add\\): names module 'keras.config'"):
        safe_import.check_model_file(rewrite(ops_file, tmp_path / "hostile.keras", edit))
