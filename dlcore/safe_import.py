"""Checks that an untrusted model file is safe to load, done before Keras sees it.

Importing a model is a security boundary: a model file can carry code (pickles, Python lambdas), name
modules for Keras to import (the CVE-2025-1550 pattern), read files on this machine (layers whose
vocabulary or file arguments name paths, ``TFSMLayer``), or exhaust memory and disk (zip bombs). So:

1. only Keras 3 ``.keras`` archives are accepted (HDF5, SavedModel, pickles and the rest are refused
   with how to convert them);
2. the archive's members are checked from its directory, before anything is extracted: names, count,
   declared sizes and compression ratios, no paths outside the archive, no links;
3. ``config.json`` is read as plain JSON and every object in it must be a Keras layer, initializer,
   regularizer, constraint, dtype policy, optimizer, loss or metric from Keras itself, an operation or layer
   class that Keras defines in its operations or applications (``keras.ops.mean(x)`` in a functional graph is
   saved as ``keras.src.ops.numpy.Mean``, ConvNeXt's ``LayerScale`` lives in ``keras.src.applications``), or
   one of this project's own registered classes (``SAFE_REGISTERED``); the refusal names the layer and the
   reason. Every value inside an accepted object's configuration is checked the same way.

Only then does ``dlcore.importer`` load the file, with ``safe_mode=True`` and ``compile=False``. This module
imports Keras only to look class names up, never to load anything.
"""
from __future__ import annotations

import json
import os
import stat
import sys
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from dlcore.errors import UnsafeModelError

MAX_FILE_BYTES = 200 * 2**20  # a .keras file larger than this is refused before it is read
MAX_MEMBERS = 256
MAX_TOTAL_BYTES = 1 * 2**30  # declared uncompressed size of all members together
MAX_RATIO = 100  # uncompressed / compressed, for members over RATIO_FLOOR (Keras stores members uncompressed)
RATIO_FLOOR = 1 * 2**20
MAX_JSON_BYTES = 16 * 2**20  # config.json and metadata.json
MAX_DEPTH = 200
WEIGHTS_MEMBERS = ("model.weights.h5", "model.weights.npz")
TOP_MEMBERS = {"config.json", "metadata.json", *WEIGHTS_MEMBERS}

# Exact registered names ("package>Class") of this project's own Keras classes that may appear in an
# imported file. Modules that register classes add theirs with ``allow_registered``; besides these, any
# class registered under the "dlcore" package by code this process has imported is allowed.
SAFE_REGISTERED: set[str] = set()

# Keras classes refused wherever they appear, and why.
REFUSED_CLASSES = {
    "Lambda": "a Lambda layer holds Python code that would run when the model is loaded or called",
    "TFSMLayer": "a TFSMLayer loads a TensorFlow SavedModel from a path on this machine",
    "TorchModuleWrapper": "a TorchModuleWrapper stores a pickled PyTorch module (unpickling runs code)",
    "JaxLayer": "a JaxLayer wraps Python functions that would run on this machine",
    "FlaxLayer": "a FlaxLayer wraps Python functions that would run on this machine",
}
# Plain values Keras rebuilds itself without looking a class up.
PLAIN_VALUES = {"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__"}
# Keras namespaces whose objects load files, download, change settings or run callbacks: never named.
DENIED_MODULES = ("keras.utils", "keras.config", "keras.saving", "keras.callbacks", "keras.datasets",
                  "keras.applications", "keras.backend", "keras.ops", "keras.export", "keras.visualization",
                  "keras.src.utils", "keras.src.saving", "keras.src.callbacks", "keras.src.datasets",
                  "keras.src.applications", "keras.src.backend", "keras.src.ops", "keras.src.export",
                  "keras.src.legacy", "keras.legacy")
# Keras namespaces that, besides functions and helpers, hold classes a saved functional graph names: the symbolic
# operations (``keras.ops.relu(x)`` is saved as ``keras.src.ops.nn.Relu``, ``x + y`` as ``keras.src.ops.numpy.Add``)
# and the applications' own layers (``keras.src.applications.convnext.LayerScale``). Denied above, they are opened
# for exactly those classes (``keras_operation``), never for their functions or anything else they import.
OPERATION_MODULES = ("keras.src.ops", "keras.src.applications")
FUNCTION_MODULES = {"activations": "keras.activations", "losses": "keras.losses", "metrics": "keras.metrics"}
FILE_ARGUMENTS = ("vocab", "file", "path", "dir", "url")

_CONVERT = ("In the environment that made it, load it and save it again as a Keras 3 file: "
            "`model = keras.models.load_model(...)` then `model.save('model.keras')`.")
_KINDS = {
    ".h5": "a legacy HDF5 model", ".hdf5": "a legacy HDF5 model",
    ".pkl": "a pickle (unpickling runs code)", ".pickle": "a pickle (unpickling runs code)",
    ".joblib": "a joblib pickle (unpickling runs code)", ".dill": "a dill pickle (unpickling runs code)",
    ".pb": "a TensorFlow SavedModel", ".pt": "a PyTorch file (a pickle)", ".pth": "a PyTorch file (a pickle)",
    ".onnx": "an ONNX model", ".tflite": "a TensorFlow Lite model", ".zip": "a zip archive",
    ".npz": "a NumPy archive", ".json": "a JSON file", ".safetensors": "a safetensors file",
}


def allow_registered(*names: str) -> None:
    """Allow the project's own registered Keras classes (exact ``package>Class`` names) in imported files."""
    SAFE_REGISTERED.update(names)


def _refuse(source: str, why: str) -> UnsafeModelError:
    return UnsafeModelError(f"refused {source}: {why}")


def check_kind(path: Path, source: str | None = None) -> None:
    """Refuse anything that is not a ``.keras`` zip archive of an acceptable size, saying how to convert."""
    source = source or path.name
    if path.is_dir():
        what = "a TensorFlow SavedModel folder" if (path / "saved_model.pb").exists() else "a folder"
        raise _refuse(source, f"{what} cannot be imported; only Keras 3 `.keras` files can. {_CONVERT}")
    if not path.is_file():
        raise UnsafeModelError(f"no file {source!r}; give the path of a `.keras` file")
    suffix = path.suffix.lower()
    if suffix != ".keras":
        what = _KINDS.get(suffix, f"a {suffix or 'suffix-less'} file")
        raise _refuse(source, f"it is {what}; only Keras 3 `.keras` files are imported. {_CONVERT}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise _refuse(source, f"it is {size / 2**20:.0f} MiB; the limit is {MAX_FILE_BYTES // 2**20} MiB")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\x89HDF"):
        raise _refuse(source, f"it is a legacy HDF5 model renamed to .keras. {_CONVERT}")
    if head[:1] == b"\x80" or head.startswith(b"(dp") or head.startswith(b"c__builtin__"):
        raise _refuse(source, f"it is a pickle renamed to .keras (unpickling runs code). {_CONVERT}")
    if not head.startswith(b"PK\x03\x04"):
        raise _refuse(source, f"it is not a zip archive, so not a Keras 3 `.keras` file. {_CONVERT}")


def _bad_name(name: str) -> str | None:
    """Why a member name is unsafe to extract, or None."""
    if not name or "\x00" in name or "\\" in name:
        return "an empty name, a NUL byte or a backslash"
    pure = PurePosixPath(name)
    if pure.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in pure.parts:
        return "a path that leaves the archive (..)"
    if pure.parts[0] not in TOP_MEMBERS and pure.parts[0] != "assets":
        return "a name Keras never writes (only config.json, metadata.json, model.weights.* and assets/)"
    if pure.parts[0] in TOP_MEMBERS and len(pure.parts) > 1:
        return "a folder where Keras writes a file"
    return None


def check_archive(zf: zipfile.ZipFile, source: str) -> None:
    """Check the archive's directory: member names, count, links, encryption, declared sizes and ratios."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _refuse(source, f"the archive has {len(infos)} members; a Keras file has a handful (limit {MAX_MEMBERS})")
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        why = _bad_name(name)
        if why:
            raise _refuse(source, f"archive member {name!r} has {why}")
        if name in seen:
            raise _refuse(source, f"archive member {name!r} appears twice")
        seen.add(name)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _refuse(source, f"archive member {name!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise _refuse(source, f"archive member {name!r} is encrypted")
        total += info.file_size
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _refuse(source, f"archive member {name!r} declares {info.file_size / 2**20:.0f} MiB in "
                          f"{info.compress_size / 2**10:.0f} KiB (a zip bomb)")
        if name in ("config.json", "metadata.json") and info.file_size > MAX_JSON_BYTES:
            raise _refuse(source, f"{name} declares {info.file_size / 2**20:.0f} MiB; a model's is far smaller")
    if total > MAX_TOTAL_BYTES:
        raise _refuse(source, f"the archive declares {total / 2**30:.1f} GiB uncompressed (limit "
                      f"{MAX_TOTAL_BYTES // 2**30} GiB)")
    missing = [m for m in ("config.json", "metadata.json") if m not in seen]
    if missing or not any(w in seen for w in WEIGHTS_MEMBERS):
        raise _refuse(source, f"the archive lacks {', '.join(missing) or 'model.weights.h5'}: not a Keras 3 model file")


def read_json_member(zf: zipfile.ZipFile, name: str, source: str) -> Any:
    """Read a JSON member with a hard cap on the bytes actually decompressed."""
    with zf.open(name) as fh:
        data = fh.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise _refuse(source, f"{name} is larger than it declares")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _refuse(source, f"{name} is not valid JSON ({type(exc).__name__})") from None


def registered_allowed(name: str) -> bool:
    """Whether a ``package>Class`` name is one of this project's own registered classes."""
    if name in SAFE_REGISTERED:
        return True
    if not name.startswith("dlcore>"):
        return False
    import keras

    import dlcore.generative  # noqa: F401  registers the project's own classes

    return name in keras.saving.get_custom_objects()


def _safe_bases() -> tuple[type, ...]:
    import keras

    return (keras.layers.Layer, keras.initializers.Initializer, keras.regularizers.Regularizer,
            keras.constraints.Constraint, keras.DTypePolicy, keras.optimizers.Optimizer,
            keras.optimizers.schedules.LearningRateSchedule, keras.losses.Loss, keras.metrics.Metric)


def _within(module: str, namespaces: tuple[str, ...]) -> bool:
    return any(module == n or module.startswith(n + ".") for n in namespaces)


def _test_module(module: str) -> bool:
    """Whether ``module`` is one of Keras' own test modules (importing one runs test set-up code, and the
    classes it defines are test doubles)."""
    return any(part.endswith("_test") or part in ("testing", "tests") for part in module.split("."))


def _keras_module(module: str) -> Any:
    """The Keras module ``module`` names, or None when it is outside Keras, in a denied namespace or one of
    Keras' own test modules (importing those runs test set-up code)."""
    if module != "keras" and not module.startswith("keras."):
        return None
    if _within(module, DENIED_MODULES):
        return None
    if _test_module(module):
        return None
    import importlib

    import keras  # noqa: F401

    try:
        return sys.modules.get(module) or importlib.import_module(module)  # keras' own modules only
    except ImportError:
        return None


def keras_operation(module: str, name: str) -> type | None:
    """The operation or layer class that Keras itself defines as ``name`` in ``module``, a module of
    ``OPERATION_MODULES``; None for anything else.

    Looked up the way Keras loads it (``vars(module)[name]``), but only in the modules ``import keras`` has
    already imported, never a test module: nothing is imported by name. Accepted only when it is a class (not
    a function or a module), a subclass of ``keras.Operation`` other than ``Operation`` itself (every
    ``keras.layers.Layer`` is one) and defined in that very module (not a class it imports, such as
    ``Functional``).

    Args:
        module: The ``module`` a serialized object names, e.g. ``keras.src.ops.numpy``.
        name: Its ``class_name``, e.g. ``Mean``.

    Returns:
        The class, or None when the object must not be loaded from that module.
    """
    if not _within(module, OPERATION_MODULES) or _test_module(module) or not name.isidentifier():
        return None
    import keras

    found = sys.modules.get(module)
    obj = vars(found).get(name) if found is not None else None
    if not isinstance(obj, type) or obj is keras.Operation or not issubclass(obj, keras.Operation):
        return None
    return obj if obj.__module__ == module else None


def _check_operation(node: dict[str, Any], module: str, cls: str) -> str | None:
    """Why an object naming a module of Keras' operations or applications must not be loaded, or None."""
    if cls == "function":
        return (f"names the function {module}.{node.get('config')}; from Keras' operations and applications only "
                "their operation and layer classes are accepted")
    if keras_operation(module, cls) is None:
        return f"{module}.{cls} is not an operation or layer class that Keras defines in {module}"
    return None


def _check_function(module: Any, name: Any) -> str | None:
    kind = next((k for k in FUNCTION_MODULES if isinstance(module, str) and f".{k}" in module), None)
    if kind is None or not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        return f"names the function {module}.{name}, which is not a Keras activation, loss or metric"
    import importlib

    if not callable(getattr(importlib.import_module(FUNCTION_MODULES[kind]), name, None)):
        return f"names the function {module}.{name}, which Keras' {kind} do not have"
    return None


def check_object(node: dict[str, Any]) -> str | None:
    """Why one serialized object (a dict with ``class_name``) must not be loaded, or None."""
    cls, module, registered = node.get("class_name"), node.get("module"), node.get("registered_name")
    if not isinstance(cls, str):
        return "an object without a class name"
    if cls in PLAIN_VALUES:
        return None
    if cls == "__lambda__":
        return "a Python lambda (code stored in the file would run on loading)"
    if cls in REFUSED_CLASSES:
        return REFUSED_CLASSES[cls]
    if isinstance(registered, str) and ">" in registered:
        return None if registered_allowed(registered) else (
            f"the registered class {registered!r} is not one of this app's own classes")
    if registered not in (None, cls) and cls != "function":
        return f"registered name {registered!r} does not match class {cls!r}"
    if not isinstance(module, str):
        return f"{cls} names no module: the file was not written by Keras 3"
    if _within(module, OPERATION_MODULES):
        return _check_operation(node, module, cls)
    found = _keras_module(module)
    if found is None:
        return f"names module {module!r} outside Keras' layers (loading would import it and could run its code)"
    if cls == "function":
        return _check_function(module, node.get("config"))
    obj = getattr(found, cls, None)
    if not (isinstance(obj, type) and issubclass(obj, _safe_bases()) and obj.__module__.startswith("keras.")):
        return f"{module}.{cls} is not a Keras layer, initializer, regularizer, constraint or optimizer class"
    return None


def _file_arguments(config: Any) -> str | None:
    """A layer argument (vocabulary, file, path...) that names a file on this machine, if any."""
    if not isinstance(config, dict):
        return None
    for key, value in config.items():
        if isinstance(value, str) and value and any(t in str(key).lower() for t in FILE_ARGUMENTS):
            return f"argument {key}={value[:80]!r} names a file, which loading would read from this machine"
    return None


def _where(node: dict[str, Any], where: str) -> str:
    """Name the layer a serialized object describes (objects nested in a layer keep the layer's name)."""
    config, module = node.get("config"), str(node.get("module") or "")
    name = node.get("name")
    if not isinstance(name, str) and isinstance(config, dict) and (".layers" in module or "build_config" in node):
        name = config.get("name")
    if isinstance(name, str) and node.get("class_name") not in PLAIN_VALUES:
        return f"layer {name!r} ({node.get('class_name')})"
    return where


def scan_config(config: Any) -> list[str]:
    """Every reason found in a ``config.json`` to refuse the model, each naming the layer."""
    problems: list[str] = []
    stack: list[tuple[Any, str, int]] = [(config, "the model", 0)]
    while stack:
        node, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            problems.append(f"{where}: the configuration is nested more than {MAX_DEPTH} levels deep")
            break
        if isinstance(node, list):
            stack.extend((item, where, depth + 1) for item in reversed(node))
        elif isinstance(node, dict):
            if "class_name" in node:
                where = _where(node, where)
                why = check_object(node) or _file_arguments(node.get("config"))
                if why:
                    problems.append(f"{where}: {why}")
            stack.extend((value, where, depth + 1) for value in reversed(list(node.values())))
    return problems


def _check_top(config: Any, source: str) -> None:
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise _refuse(source, "config.json does not describe a Keras model")
    problems = scan_config(config)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise _refuse(source, "; ".join(problems[:3]) + more)
    import keras

    found = _keras_module(str(config.get("module")))
    cls = getattr(found, config["class_name"], None) if found is not None else None
    registered = config.get("registered_name")
    custom = isinstance(registered, str) and ">" in registered
    if not custom and not (isinstance(cls, type) and issubclass(cls, keras.Model)):
        raise _refuse(source, f"the file holds a {config['class_name']}, not a model")


def check_model_file(path: str | os.PathLike[str], source: str | None = None) -> dict[str, Any]:
    """Run every check on a model file without loading it; returns its parsed ``config.json`` and
    ``metadata.json`` as ``{"config": ..., "metadata": ...}``. Raises ``UnsafeModelError`` naming the reason."""
    path = Path(path)
    source = source or path.name
    check_kind(path, source)
    try:
        with zipfile.ZipFile(path) as zf:
            check_archive(zf, source)
            metadata = read_json_member(zf, "metadata.json", source)
            config = read_json_member(zf, "config.json", source)
    except zipfile.BadZipFile as exc:
        raise _refuse(source, f"the zip archive is damaged ({exc})") from None
    if not isinstance(metadata, dict):
        raise _refuse(source, "metadata.json is not a JSON object")
    _check_top(config, source)
    return {"config": config, "metadata": metadata}
