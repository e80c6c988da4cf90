"""Import an untrusted ``.keras`` file into the store: check it (``dlcore.safe_import``), then load it with
``safe_mode=True`` and ``compile=False``, check its input and output shapes, and save it as a stored model.

The file is first copied into the workspace, and the copy is what gets checked and loaded, so the bytes
checked are the bytes loaded.

A file that passes the configuration checks can still declare layers so large that building them (Keras
allocates every variable before it reads a weight) exhausts the server's memory. So the first load and the
shape checks run in a child process (``python -m dlcore check-import``, started by ``dlcore.jobs``) capped
at ``DLCORE_IMPORT_MEMORY_MB`` MiB of address space (default 4096; TensorFlow itself takes about 2.3 GiB of
it) and ``DLCORE_IMPORT_SECONDS`` seconds (default 120). A child that runs out of either means a refusal;
only a model that loaded and passed its checks there is loaded here and stored.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from dlcore.errors import DlcoreError, ModelError, UnsafeModelError
from dlcore.record import ImportInfo, ModelMeta
from dlcore.safe_import import MAX_FILE_BYTES, check_kind, check_model_file
from dlcore.store import ModelRecord, ModelStore
from dlcore.workspace import home

# What a text model (a string input of shape ()) is checked on: a few words, one no vocabulary has, other
# scripts and punctuation, and a text longer than any vectorizer's output length. Not a text without words:
# a model that averages word vectors over a text's words divides 0 by 0 there.
SAMPLE_TEXTS = ("a short text", "zqxv", "Ünïcödé wörds, punctuation! and numbers 1 2 3", " ".join(["word"] * 2000))
TEXT_COLUMN = "text"  # the raw column an imported text model's preprocessing reads texts from

MEMORY_ENV, SECONDS_ENV = "DLCORE_IMPORT_MEMORY_MB", "DLCORE_IMPORT_SECONDS"
DEFAULT_MEMORY_MB, DEFAULT_SECONDS = 4096, 120.0
# The checking child runs on the CPU (CUDA reserves far more address space than any cap), with TensorFlow's
# plain allocator (oneDNN's retries a failed allocation for 10 s before giving up), and with fixed thread
# counts and two malloc arenas, so that its address space does not grow with the machine's cores.
CHECK_ENV = {"CUDA_VISIBLE_DEVICES": "", "TF_ENABLE_ONEDNN_OPTS": "0", "MALLOC_ARENA_MAX": "2",
             "TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "2", "OMP_NUM_THREADS": "2"}
READY = "check-import: ready"  # printed by the child once TensorFlow runs, before it reads the file


@contextmanager
def _private_copy(path: Path, root: str | os.PathLike[str] | None) -> Iterator[Path]:
    """A copy of ``path`` in the workspace that nobody else writes to, removed afterwards."""
    folder = home(root) / ".imports"
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".keras")
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            shutil.copyfileobj(src, out)
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_checked(path: Path, source: str) -> Any:
    """Check a model file and load it with ``safe_mode=True, compile=False`` (the checks come first)."""
    check_model_file(path, source)
    import keras

    import dlcore.generative  # noqa: F401  the project's own registered classes

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        raise ModelError(f"{source} passed the safety checks but Keras could not load it "
                         f"({type(exc).__name__}: {str(exc)[:200]}); re-save it with Keras 3") from exc
    if not isinstance(model, keras.Model):
        raise ModelError(f"{source} holds a {type(model).__name__}, not a model; save the whole model "
                         "(`model.save('model.keras')`)")
    return model


def _input_shape(model: Any, config: dict[str, Any], source: str) -> tuple[int, ...]:
    """One input's shape without the batch axis: from the model's inputs, else its saved build shape
    (subclassed models such as this app's own); ``()`` for a text input (one string per row)."""
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) > 1:
        raise ModelError(f"{source}: the model has {len(inputs)} inputs; only single-input models are supported")
    built = (config.get("build_config") or {}).get("input_shape")
    shape = tuple(inputs[0].shape[1:]) if inputs else tuple(built[1:]) if isinstance(built, list) else ()
    if inputs and str(getattr(inputs[0], "dtype", "")) == "string":
        if shape:
            raise ModelError(f"{source}: the text input is shaped {shape}; a text model here takes one string per "
                             "row: save it with keras.Input(shape=(), dtype='string')")
        return ()
    if not shape or any(not isinstance(d, int) or d < 1 for d in shape):
        raise ModelError(f"{source}: the input shape {shape or 'unknown'} is not fixed; save the model with a "
                         "fixed input shape (keras.Input(shape=...))")
    return tuple(int(d) for d in shape)


def _sample_outputs(model: Any, in_shape: tuple[int, ...], source: str) -> Any:
    """The model's outputs on sample inputs: zeros, or for a text model ``SAMPLE_TEXTS`` through its predict
    step (the call the app's predictions and LIME make)."""
    what = "sample texts" if not in_shape else f"an input of shape {in_shape}"
    try:
        if not in_shape:
            return model.predict_on_batch(np.asarray(SAMPLE_TEXTS, dtype=object))
        return model(np.zeros((2, *in_shape), dtype=np.float32), training=False)
    except Exception as exc:
        raise ModelError(f"{source}: the model fails on {what} ({type(exc).__name__}: {str(exc)[:160]})") from exc


def check_shapes(model: Any, config: dict[str, Any], source: str) -> tuple[tuple[int, ...], tuple[int, ...], bool]:
    """The model's input and output shapes (no batch axis; ``()`` in for a text model), after sample inputs
    give finite outputs of the declared shape; and whether those outputs look like class probabilities."""
    in_shape = _input_shape(model, config, source)
    out = _sample_outputs(model, in_shape, source)
    if isinstance(out, (list, tuple, dict)):
        raise ModelError(f"{source}: the model gives {len(out)} outputs; only single-output models are supported")
    out = np.asarray(out)
    outputs = getattr(model, "outputs", None) or []
    declared = tuple(outputs[0].shape[1:]) if len(outputs) == 1 else out.shape[1:]
    if out.shape[1:] != declared or not np.isfinite(out).all():
        raise ModelError(f"{source}: the model declares outputs {declared} but gives {out.shape[1:]}"
                         + ("" if in_shape else " on sample texts")
                         + ("" if np.isfinite(out).all() else " with NaN or infinite values"))
    probabilities = out.ndim == 2 and out.shape[1] >= 2 and bool(((out >= 0) & (out <= 1)).all()) \
        and bool(np.allclose(out.sum(axis=1), 1.0, atol=1e-3))
    return in_shape, tuple(int(d) for d in out.shape[1:]), probabilities


def describe(in_shape: tuple[int, ...], out_shape: tuple[int, ...], probabilities: bool,
             class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Guess the task and modality of a model from its shapes, for the store's metadata: class
    probabilities mean classification, one output regression; anything else is recorded as unknown. An
    input of shape ``()`` is a text input (``check_shapes`` accepts no other): LIME explains it on texts."""
    from dlcore.data.preprocess import Preprocessing

    k = int(np.prod(out_shape))
    task = "classification" if probabilities else "regression" if k == 1 else "unknown"
    if class_names:  # the user says what the outputs are
        if len(out_shape) != 1 or len(class_names) != k or k < 2:
            raise ModelError(f"{len(class_names)} class names given, but the model has {k} output(s)")
        task = "classification"
    modality = {3: "image", 1: "tabular", 2: "sequence", 0: "text"}.get(len(in_shape), "unknown")
    numbered = [str(i) for i in range(k)] if task == "classification" else []
    names = [str(c) for c in class_names] if class_names else numbered
    prep = image_preprocessing(in_shape) if modality == "image" else \
        Preprocessing("text", {"column": TEXT_COLUMN}) if modality == "text" else Preprocessing.identity()
    return {"task": task, "modality": modality, "input_shape": list(in_shape), "output_shape": list(out_shape),
            "class_names": names, "class_names_known": bool(class_names),
            "feature_names": [TEXT_COLUMN] if modality == "text" else [], "preprocessing": prep.to_dict()}


def image_preprocessing(shape: Sequence[int]) -> Any:
    """How a picture becomes the input of an image model stored without its data: resized to its height and
    width, grey or colour as its channels say, values in [0, 1] as in every data set here."""
    from dlcore.data.preprocess import Preprocessing

    return Preprocessing("image", {"height": int(shape[0]), "width": int(shape[1]), "channels": int(shape[2]),
                                   "scale": 1.0})


def generative_meta(model: Any, source: str, class_names: Sequence[str] | None = None) -> dict[str, Any] | None:
    """The store's metadata for one of the project's own VAEs or GANs (its input is its image shape), after
    it has drawn finite images of that shape; None for any other model."""
    from dlcore.generative import GenerativeModel
    from dlcore.generative.sampling import generate, reconstruct

    if not isinstance(model, GenerativeModel):
        return None
    shape, kind = tuple(model.image_shape), model.kind.upper()
    try:
        images, _ = generate(model, 2, seed=0)
        if hasattr(model, "encoder"):
            images = np.concatenate([images, reconstruct(model, np.zeros((2, *shape), np.float32))])
    except Exception as exc:
        raise ModelError(f"{source}: the {kind} fails to draw images ({type(exc).__name__}: {str(exc)[:160]}); "
                         "re-save it with this version of the app") from exc
    if len(shape) != 3 or images.shape[1:] != shape or not np.isfinite(images).all():
        raise ModelError(f"{source}: the {kind} declares images {shape} but draws {images.shape[1:]}"
                         + ("" if np.isfinite(images).all() else " with NaN or infinite values"))
    if class_names and len(class_names) != model.n_classes:
        conditional = f"is conditional on {model.n_classes} classes" if model.n_classes else \
            "is not conditional; leave them out"
        raise ModelError(f"{len(class_names)} class names given, but the {kind} {conditional}")
    names = [str(c) for c in class_names] if class_names else [str(i) for i in range(model.n_classes)]
    prep = image_preprocessing(shape)
    return {"arch": model.kind, "task": "generative", "modality": "image", "input_shape": list(shape),
            "output_shape": list(shape), "class_names": names, "class_names_known": bool(class_names),
            "feature_names": [], "latent_dim": int(model.latent_dim), "preprocessing": prep.to_dict()}


def model_meta(model: Any, config: dict[str, Any], source: str,
               class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """The store's metadata of a loaded model, after its checks: generative ones by their images, the rest
    by their input and output shapes."""
    described = generative_meta(model, source, class_names)
    return described if described is not None else describe(*check_shapes(model, config, source), class_names)


def import_limits() -> tuple[int, float]:
    """The memory (MiB of address space) and time (seconds) that loading and checking one file may take,
    from ``DLCORE_IMPORT_MEMORY_MB`` and ``DLCORE_IMPORT_SECONDS``."""
    values = []
    for name, default in ((MEMORY_ENV, DEFAULT_MEMORY_MB), (SECONDS_ENV, DEFAULT_SECONDS)):
        raw = os.environ.get(name, "").strip()
        try:
            value = float(raw) if raw else float(default)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ModelError(f"{name}={raw!r} is not a positive number; set it to one, or unset it for {default:g}")
        values.append(value)
    return max(1, int(values[0])), values[1]


def prepare_child(allowed: dict[str, str]) -> None:
    """In the capped child, before it reads the file: register and allow the classes the parent allows
    (``allowed_classes``), and run TensorFlow once (eager context, thread pools), so that what runs out of
    memory next is the model."""
    import importlib

    import keras

    import dlcore.generative  # noqa: F401  the project's own registered classes
    from dlcore.safe_import import allow_registered

    for name, module in allowed.items():
        if module and module != "__main__":
            importlib.import_module(module)  # registers the class, as it did in the parent
        allow_registered(name)
    keras.layers.Dense(2)(np.zeros((2, 3), dtype=np.float32))


def _out_of_memory(exc: BaseException | None) -> str | None:
    """What could not be allocated, when ``exc`` (or an exception behind it) is an out-of-memory error."""
    import re

    for _ in range(20):
        if exc is None:
            return None
        if isinstance(exc, MemoryError):
            return str(exc)[:160] or "MemoryError"
        if type(exc).__name__ == "ResourceExhaustedError":
            shape = re.search(r"OOM when allocating tensor with shape\s*\[([0-9, ]*)\]", str(exc))
            return f"a tensor of shape ({shape.group(1)}) could not be allocated" if shape else str(exc)[:160]
        exc = exc.__cause__ or exc.__context__
    return None


def allowed_classes() -> dict[str, str]:
    """The registered classes this process allows in imported files (``allow_registered``), each with the
    module that defines it, for the checking child to import: never names read from a file."""
    import keras

    from dlcore import safe_import

    found = keras.saving.get_custom_objects()
    return {name: getattr(found.get(name), "__module__", "") for name in sorted(safe_import.SAFE_REGISTERED)}


def child_check(path: Path, source: str, class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """In the capped child: check, load and describe the file; ``{"meta": ...}``, ``{"error": class,
    "message": ...}`` for a refusal, or ``{"memory": what}`` when it ran out of memory."""
    try:
        info = check_model_file(path, source)
        return {"meta": model_meta(load_checked(path, source), info["config"], source, class_names)}
    except Exception as exc:
        memory = _out_of_memory(exc)
        if memory:
            return {"memory": memory}
        if isinstance(exc, DlcoreError):
            return {"error": type(exc).__name__, "message": str(exc)}
        raise


def _ending(run: Any) -> str:
    """How a child ended, for people: its signal or exit code and its last line on stderr."""
    import signal

    code = run.returncode
    try:
        how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
    except ValueError:
        how = f"killed by signal {-code}"
    last = next((line.strip() for line in reversed(run.stderr.splitlines()) if line.strip()), "")
    return f"{how}{': ' + last[:160] if last else ''}"


def check_isolated(path: Path, source: str, class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Load and check a file in a child process capped by ``import_limits()``; returns the store's metadata
    for it (``model_meta``). Raises the child's refusal, or ``UnsafeModelError`` when the child runs out of
    memory, dies or runs out of time."""
    from dlcore import jobs

    memory_mb, seconds = import_limits()
    args = ["check-import", str(path), "--source", source, "--classes-json", json.dumps(list(class_names or [])),
            "--allowed-json", json.dumps(allowed_classes())]
    run = jobs.run_limited(args, memory_mb, seconds, **CHECK_ENV)
    if run.timed_out:
        raise UnsafeModelError(f"refused {source}: loading and checking the model took longer than the import "
                               f"limit allows ({SECONDS_ENV}={seconds:g} s); if you trust the file, raise "
                               f"{SECONDS_ENV}")
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    if "meta" in result:
        return result["meta"]
    if "error" in result:
        raise (UnsafeModelError if result["error"] == "UnsafeModelError" else ModelError)(result["message"])
    if READY not in run.stdout:
        raise ModelError(f"the import check could not start ({_ending(run)}); TensorFlow itself may not fit in "
                         f"{MEMORY_ENV}={memory_mb} MiB: raise it (it needs about 2.5 GiB of address space)")
    why = result.get("memory") or f"the checking process died, {_ending(run)}"
    raise UnsafeModelError(f"refused {source}: the model needs more memory than the import limit allows "
                           f"({MEMORY_ENV}={memory_mb} MiB; {why}); if you trust the file and this server has "
                           f"the memory, raise {MEMORY_ENV}")


def import_model(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None, name: str = "",
                 class_names: Sequence[str] | None = None, source: str | None = None) -> ModelRecord:
    """Check, load and store an untrusted ``.keras`` file; returns the stored model's record.

    Raises ``UnsafeModelError`` (with the reason and the layer) for a refused file, ``ModelError`` for a
    safe file that is not a usable model. Nothing from a refused file is ever loaded or stored, and nothing
    is loaded in this process before a capped child process has loaded and checked it (``check_isolated``).
    """
    path = Path(path)
    source = source or path.name
    check_kind(path, source)
    with _private_copy(path, root) as copy:
        info = check_model_file(copy, source)
        digest = hashlib.sha256(copy.read_bytes()).hexdigest()
        size = copy.stat().st_size
        described = check_isolated(copy, source, class_names)
        model = load_checked(copy, source)
    origin = ImportInfo(file=source, sha256=digest, bytes=size,
                        keras_version=str(info["metadata"].get("keras_version", "")),
                        model_class=str(info["config"].get("class_name")))
    return ModelStore(root).save(model, imported_meta(described, name or Path(source).stem, origin))


def imported_meta(described: Mapping[str, Any], name: str, origin: ImportInfo) -> ModelMeta:
    """The stored record of an imported file: what ``model_meta`` described (shapes, task, classes,
    preprocessing), its name, and where it came from; no training data, history or evaluation."""
    latent = described.get("latent_dim")
    return ModelMeta(name=name, arch=str(described.get("arch") or "imported"), task=str(described["task"]),
                     modality=str(described["modality"]),
                     input_shape=tuple(int(d) for d in described["input_shape"]),
                     output_shape=tuple(int(d) for d in described["output_shape"]),
                     class_names=tuple(str(c) for c in described["class_names"]),
                     class_names_known=bool(described["class_names_known"]),
                     feature_names=tuple(str(f) for f in described["feature_names"]),
                     preprocessing=dict(described["preprocessing"]),
                     latent_dim=int(latent) if latent is not None else None, imported=origin)


def import_bytes(data: bytes, filename: str, root: str | os.PathLike[str] | None = None, name: str = "",
                 class_names: Sequence[str] | None = None) -> ModelRecord:
    """``import_model`` for an upload held in memory (``filename`` is only used for its suffix and messages)."""
    source = Path(str(filename)).name or "upload"
    if len(data) > MAX_FILE_BYTES:
        raise UnsafeModelError(f"refused {source}: it is {len(data) / 2**20:.0f} MiB; the limit is "
                               f"{MAX_FILE_BYTES // 2**20} MiB")
    folder = home(root) / ".imports"
    folder.mkdir(parents=True, exist_ok=True)
    suffix = "".join(c for c in Path(source).suffix.lower() if c.isalnum() or c == ".")[:16]
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return import_model(tmp, root, name=name, class_names=class_names, source=source)
    finally:
        Path(tmp).unlink(missing_ok=True)
