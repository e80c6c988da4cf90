"""Fine-tuning: adapt a base model to new data, run as an ordinary training job.

A base is a stored model, a ``.keras`` file (checked by ``dlcore.safe_import`` before loading, like any
import) or a ``keras.applications`` backbone whose weights file is on disk (``dlcore.backbones``).
``build_plan`` rebuilds the base for the new data: an input adapter when images differ in size or channels
(or an explanation of why the shapes cannot fit), a new head when the classes or output size differ,
and the first N layers frozen. Frozen ``BatchNormalization`` layers run in inference mode (Keras does so
for a layer with ``trainable=False``) and stay frozen in the optional second phase, which unfreezes the
top K frozen layers with weights and trains them at a lower learning rate (``dlcore.second_phase``).
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from dlcore.data.dataset import Dataset
from dlcore.errors import ModelError
from dlcore.models import compile_model
from dlcore.models.spec import FineTuneSpec, ModelSpec, TrainConfig
from dlcore.record import ModelMeta
from dlcore.workspace import read_json

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"


@dataclass(frozen=True, eq=False)
class Base:
    """A loaded base model and what is known about it (task, class names, where it came from)."""

    model: Any
    ref: str
    label: str
    meta: ModelMeta = ModelMeta()


@dataclass(frozen=True)
class ShippedBase:
    """A pretrained base that ships in ``assets/``: its ``.keras`` file, its name and its record (the sidecar
    ``.meta.json`` beside it)."""

    path: str
    name: str
    meta: ModelMeta


@dataclass(frozen=True)
class Plan:
    """The adapted model (not compiled) and what was done to the base, in words for people."""

    model: Any
    base: Base
    head: str  # "kept", "replaced" or "added"
    head_start: int  # index in model.layers of the first head layer
    notes: tuple[str, ...]


def assets_dir() -> Path:
    return Path(os.environ.get("DLCORE_ASSETS") or ASSETS_DIR)


def is_file_ref(ref: str) -> bool:
    """Whether a base reference names a ``.keras`` file (else a stored model id or a ``keras:`` backbone)."""
    return ref.endswith(".keras") or os.sep in ref or "/" in ref


def is_shipped(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is one of the bases that ship in ``assets/`` (trusted: built by ``assets/make_base.py``)."""
    path = Path(path).resolve()
    return path.suffix == ".keras" and path.parent == assets_dir().resolve() and path.is_file()


def shipped_bases() -> list[ShippedBase]:
    """The pretrained bases in ``assets/``, each ``.keras`` file with the record of its sidecar."""
    folder = assets_dir()
    out = []
    for path in sorted(folder.glob("*.keras")) if folder.is_dir() else []:
        meta = ModelMeta.from_dict(read_json(path.with_suffix(".meta.json"), {}) or {})
        out.append(ShippedBase(str(path), meta.name or path.stem, meta))
    return out


def load_base(ref: str, root: str | os.PathLike[str] | None = None) -> Base:
    """Load a base: ``keras:NAME`` backbone, a ``.keras`` file (checked first), or a stored model id."""
    from dlcore import backbones

    if ref.startswith(backbones.PREFIX):
        model, meta = backbones.load_backbone(ref, root)
        return Base(model, ref, f"{meta.arch} ({backbones.weights_file(meta)})", meta)
    if is_file_ref(ref):
        return _file_base(ref)
    from dlcore.store import ModelStore

    store = ModelStore(root)
    record = store.get(ref)
    return Base(store.load(ref), ref, f"{record.meta.name} ({ref})", record.meta)


def _file_base(ref: str) -> Base:
    """A ``.keras`` file as a base, described by its sidecar ``.meta.json`` or else by its shapes."""
    from dlcore.importer import check_isolated, check_shapes, describe, load_checked

    path = Path(ref)
    if not is_shipped(path):  # any other file is untrusted: a capped child loads and checks it first
        check_isolated(path, path.name)
    model = load_checked(path, path.name)
    sidecar = read_json(path.with_suffix(".meta.json"), None)
    if isinstance(sidecar, dict):
        meta = ModelMeta.from_dict(sidecar)
    else:  # no sidecar: what the shapes say
        in_shape, out_shape, probabilities = check_shapes(model, {}, path.name)
        meta = ModelMeta.from_dict({"arch": "imported", **describe(in_shape, out_shape, probabilities)})
    return Base(model, ref, meta.name or path.name, meta)


def layer_table(model: Any, head_start: int | None = None) -> list[dict[str, Any]]:
    """One row per layer: index, name, type, output shape, parameters, trainable, and its part."""
    rows = []
    for i, layer in enumerate(model.layers):
        head = head_start is not None and i >= head_start
        part = "adapter" if layer.name.startswith("adapt_") else "head" if head else "base"
        shape = getattr(layer, "output", None)
        rows.append({"index": i, "name": layer.name, "type": type(layer).__name__,
                     "output_shape": str(tuple(shape.shape[1:])) if shape is not None else "",
                     "params": int(layer.count_params()) if layer.built else 0,
                     "trainable": bool(layer.trainable), "part": part})
    return rows


def _kind(shape: tuple) -> str:
    return {3: "images", 1: "a table", 2: "sequences"}.get(len(shape), f"{len(shape)}-d arrays")


def _takes_texts(model: Any) -> bool:
    return str(getattr(model.inputs[0], "dtype", "")) == "string"


def input_adapter(base: Base, dataset: Dataset) -> tuple[list[Callable[[Any], Any]], list[str]]:
    """Layers that turn the data's inputs into the base's, with notes; ``ModelError`` when they cannot fit."""
    want = tuple(base.model.inputs[0].shape[1:])
    have = dataset.input_shape
    if _takes_texts(base.model) != (dataset.modality == "text"):
        base_kind, data_kind = ("texts", _kind(have)) if _takes_texts(base.model) else (_kind(want), "texts")
        raise ModelError(f"the base takes {base_kind} and {dataset.name!r} holds {data_kind}; a model that reads "
                         f"words cannot learn from numbers, nor the other way round: choose a base trained on "
                         f"{data_kind}, or train from scratch on the Train page")
    scale = base.meta.input_scale
    steps: list[Callable[[Any], Any]] = []
    notes: list[str] = []
    if len(want) == 3 and len(have) == 3:
        (bh, bw, bc), (dh, dw, dc) = want, have
        if (bh, bw) != (dh, dw) and None not in (bh, bw):
            steps.append(keras.layers.Resizing(int(bh), int(bw), name="adapt_resize"))
            notes.append(f"images are resized from {dh}x{dw} to {bh}x{bw} to fit the base's input")
        if bc != dc and (dc, bc) == (1, 3):
            steps.append(lambda t: keras.layers.Concatenate(name="adapt_rgb")([t, t, t]))
            notes.append("grey images are repeated into 3 channels for the base, which takes colour images")
        elif bc != dc and (dc, bc) in ((3, 1), (4, 1)):
            steps.append(keras.layers.Conv2D(1, 1, use_bias=False, trainable=False, name="adapt_grey",
                                             kernel_initializer=keras.initializers.Constant(1.0 / dc)))
            notes.append("colour images are averaged to grey for the base, which takes grey images")
        elif bc != dc:
            raise ModelError(f"the base takes images with {bc} channels and {dataset.name!r} has {dc}; "
                             "choose a base trained on images like these")
    elif want != have:
        fix = ("a table's columns must be the base's: choose a base trained on this table, or train from scratch "
               "on the Train page") if len(want) == len(have) == 1 else f"choose a base trained on {_kind(have)}"
        raise ModelError(f"the base takes inputs shaped {want} ({_kind(want)}) and {dataset.name!r} gives "
                         f"{have} ({_kind(have)}); they cannot fit: {fix}")
    if scale:
        steps.append(keras.layers.Rescaling(float(scale[0]), float(scale[1]), name="adapt_scale"))
        notes.append(f"inputs in [0, 1] are rescaled to [{scale[1]:g}, {scale[0] + scale[1]:g}] as the backbone "
                     "expects")
    return steps, notes


def head_layer_index(model: Any) -> int:
    """Index in ``model.layers`` of a model's head: its last layer with weights (the weightless layers after it
    belong to the head too)."""
    i = len(model.layers) - 1
    while i > 0 and not model.layers[i].weights:
        i -= 1
    return i


def class_order(base: Base, dataset: Dataset) -> list[int] | None:
    """For each of the data's classes, the base output that predicts it, when the base knows the same
    classes in another order (class folders of an upload come sorted by name) and its head ends in a Dense
    layer with one unit per class, whose units can be put in the data's order; else None."""
    known = _known_classes(base)
    wanted = list(dataset.class_names)
    if dataset.task != "classification" or not known or known == wanted or sorted(known) != sorted(wanted) \
            or len(set(wanted)) != len(wanted) or base.meta.headless:
        return None
    layer = base.model.layers[head_layer_index(base.model)]
    if not isinstance(layer, keras.layers.Dense) or int(layer.units) != len(wanted):
        return None
    return [known.index(c) for c in wanted]


def _known_classes(base: Base) -> list[str]:
    """The base's class names, when they are known (an imported file's are only numbered)."""
    return list(base.meta.class_names) if base.meta.class_names_known else []


def _reorder_head(model: Any, order: list[int]) -> None:
    """Put the units of the model's output Dense layer in ``order`` (softmax does not mind the order)."""
    layer = model.layers[head_layer_index(model)]
    kernel, *bias = layer.get_weights()
    layer.set_weights([kernel[:, order], *(b[order] for b in bias)])


def head_decision(base: Base, dataset: Dataset, mode: str) -> tuple[bool, str]:
    """Whether to replace the base's head, and why, in words."""
    if base.meta.headless:
        return True, f"the backbone has no head: a new one is added for {dataset.n_outputs} output(s)"
    n_out = int(math.prod(d for d in base.model.outputs[0].shape[1:] if d is not None))
    classes = _known_classes(base)
    task = base.meta.task
    if task and task != "unknown" and task != dataset.task:
        why = f"the base does {task} and {dataset.name!r} is {dataset.task}"
    elif n_out != dataset.n_outputs:
        why = f"the base has {n_out} output(s) and {dataset.name!r} needs {dataset.n_outputs}"
    elif mode != "replace" and class_order(base, dataset) is not None:
        return False, (f"the head is kept, its outputs put in the data's order: the base knows the same classes "
                       f"({', '.join(classes)}) in another order")
    elif dataset.task == "classification" and classes and classes != list(dataset.class_names):
        why = f"the classes differ: the base knows {', '.join(classes)}; the data has {', '.join(dataset.class_names)}"
    else:
        why = ""
    if mode == "keep" and why:
        raise ModelError(f"the head cannot be kept: {why}; let it be replaced")
    if mode == "replace":
        return True, "the head is replaced as asked" + (f" ({why})" if why else "")
    if why:
        return True, f"the head is replaced: {why}"
    known = "" if dataset.task != "classification" else f" ({', '.join(classes)})" if classes else \
        " (class names unknown: check they are in the same order)"
    return False, f"the head is kept: the base already predicts {n_out} output(s){known}"


def _clone_onto(features: Any, inputs: Any, steps: list[Callable[[Any], Any]]) -> tuple[Any, set[str]]:
    """The base's layers (fresh copies holding its weights) applied to ``inputs`` through ``steps``;
    returns the output tensor and the names of the layers used."""
    def call(layer: Any, *args: Any, **kwargs: Any) -> Any:
        if args and args[0] is inputs:
            x = inputs
            for step in steps:
                x = step(x)
            args = (x, *args[1:])
        return layer(*args, **kwargs)

    structure = [inputs] if isinstance(features.input, (list, tuple)) else inputs
    clone = keras.models.clone_model(features, input_tensors=structure, call_function=call)
    for layer in clone.layers:
        vocabulary = hasattr(layer, "set_vocabulary")  # a text model's lookup tables are state, not weights
        if layer.name.startswith("adapt_") or not (layer.weights or vocabulary):
            continue
        source = features.get_layer(layer.name)
        if vocabulary:
            layer.set_vocabulary(source.get_vocabulary())
        if layer.weights:
            layer.set_weights(source.get_weights())
    return clone.outputs[0], {layer.name for layer in clone.layers}


def build_plan(spec: FineTuneSpec, dataset: Dataset, root: str | os.PathLike[str] | None = None) -> Plan:
    """Load the base and adapt it to ``dataset``: input adapter, head, frozen layers (see the module doc)."""
    from dlcore.models.blocks import output_head

    base = load_base(spec.base, root)
    model = base.model
    if base.meta.generative or hasattr(model, "latent_dim"):
        raise ModelError(f"{base.label} is a {(base.meta.arch or 'generative model').upper()}: it draws "
                         "images and predicts no classes or values to adapt; choose a classifier or regressor as the "
                         "base, or train a new VAE or GAN on the Generate page")
    if not getattr(model, "inputs", None) or len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(f"{base.label} is not a single-input, single-output functional model; only those "
                         "can be fine-tuned")
    steps, notes = input_adapter(base, dataset)
    replace, why = head_decision(base, dataset, spec.head)
    cut = None if base.meta.headless else head_layer_index(model)
    features = model if not replace or cut is None else keras.Model(model.inputs, model.layers[cut].input)
    inputs = keras.Input(dataset.input_shape, dtype="string" if _takes_texts(model) else None, name="input")
    x, used = _clone_onto(features, inputs, steps)
    if replace:
        if len(x.shape) == 4:
            x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
        elif len(x.shape) > 2:
            x = keras.layers.Flatten(name="head_flatten")(x)
        x = output_head(x, dataset)
    adapted = keras.Model(inputs, x, name=f"finetuned_{model.name}")
    order = None if replace else class_order(base, dataset)
    if order is not None:
        _reorder_head(adapted, order)
    new = [i for i, layer in enumerate(adapted.layers)
           if layer.name not in used and not layer.name.startswith("adapt_")]
    head_start = new[0] if replace else head_layer_index(adapted)
    notes.insert(0, why)
    notes.append(freeze(adapted, spec.freeze, head_start))
    return Plan(adapted, base, "added" if base.meta.headless else "replaced" if replace else "kept",
                head_start, tuple(notes))


def freeze(model: Any, n: int, head_start: int) -> str:
    """Freeze the first ``n`` layers (-1: every layer below the head); says what that froze."""
    n = head_start if n < 0 else n
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= n and not layer.name.startswith("adapt_")
    if not model.trainable_weights:
        raise ModelError(f"freezing {n} of {len(model.layers)} layers leaves nothing to train; freeze fewer "
                         f"(the head starts at layer {head_start})")
    frozen = [layer for layer in model.layers[:n] if layer.weights]
    bn = sum(isinstance(layer, keras.layers.BatchNormalization) for layer in frozen)
    params = sum(int(layer.count_params()) for layer in frozen)
    text = f"the first {n} layers are frozen ({len(frozen)} with weights, {params:,} parameters)"
    return text + (f"; their {bn} batch-norm layer(s) run in inference mode" if bn else "")


def finetune_model(config: TrainConfig, dataset: Dataset) -> Any:
    """The compiled model of a fine-tuning job (its kind in ``dlcore.kinds`` builds with this)."""
    assert config.finetune is not None
    plan = build_plan(config.finetune, dataset)
    compile_model(plan.model, config, dataset.task)
    return plan.model


def seeded_plan(config: TrainConfig, dataset: Dataset, root: str | os.PathLike[str] | None = None) -> Plan:
    """The plan a fine-tuning job started from, rebuilt with the job's seed: its model is the base adapted
    to ``dataset`` before any training (a replaced head has the same starting weights as in the job)."""
    assert config.finetune is not None
    keras.utils.set_random_seed(config.seed)
    return build_plan(config.finetune, dataset, root)


BEFORE_FILE = "before.keras"  # in the job folder: the adapted base exactly as the job started


def save_before(model: Any, folder: Path) -> None:
    """Keep the model a fine-tuning job starts from (built, not yet trained) in its folder, once: a resumed
    job rebuilds the same model, and the page explains it later even if the base is deleted or the code
    that adapts bases changes."""
    from dlcore.workspace import atomic_replace_file

    target = Path(folder) / BEFORE_FILE
    if target.exists():
        return
    tmp = target.with_name(f".{BEFORE_FILE}.tmp.keras")
    model.save(tmp)
    atomic_replace_file(tmp, target)


def load_before(job_folder: Path) -> Any | None:
    """The model a fine-tuning job started from (``save_before``), or None for jobs that did not keep it."""
    from dlcore.importer import load_checked

    path = Path(job_folder) / BEFORE_FILE
    return load_checked(path, f"the base as job {Path(job_folder).name} started") if path.is_file() else None


def evaluate_before_after(config: TrainConfig, model: Any, dataset: Dataset) -> dict[str, Any]:
    """The tuned model's evaluation, with ``before``: the adapted base as the job started (same seed, so the
    same new head) on the same validation split, and what was done to the base."""
    from dlcore.evaluation import evaluate

    plan = seeded_plan(config, dataset)
    store_id = None if (is_file_ref(plan.base.ref) or plan.base.ref.startswith("keras:")) else plan.base.ref
    return {**evaluate(model, dataset), "before": evaluate(plan.model, dataset),
            "finetune": {"base": config.finetune.base, "base_id": store_id, "base_label": plan.base.label,
                         "base_data": plan.base.meta.data_name or None, "head": plan.head,
                         "notes": list(plan.notes), "freeze": config.finetune.freeze,
                         "unfreeze": config.finetune.unfreeze, "fine_epochs": config.finetune.fine_epochs}}


def finetune_config(base: str, data: str, *, base_meta: ModelMeta | None = None, **options: Any) -> TrainConfig:
    """A job config for fine-tuning ``base`` on ``data``, named after both (the base by ``base_meta``'s name,
    else its reference). ``options`` are ``TrainConfig`` fields and ``FineTuneSpec`` fields (freeze, head,
    unfreeze, fine_epochs, fine_learning_rate)."""
    tune_keys = {"freeze", "head", "unfreeze", "fine_epochs", "fine_learning_rate"}
    spec = FineTuneSpec(base=base, **{k: v for k, v in options.items() if k in tune_keys})
    rest = {k: v for k, v in options.items() if k not in tune_keys}
    arch = (base_meta.arch if base_meta is not None else "") or "imported"
    label = (base_meta.name if base_meta is not None else "") or Path(base).stem
    rest["name"] = rest.get("name") or f"{label} fine-tuned on {data}"
    return TrainConfig(data=data, model=ModelSpec(arch=arch), finetune=spec, **rest)

