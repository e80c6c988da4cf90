"""Fine-tuning: adapt a base model to new data, run as an ordinary training job.

A base is a stored model, a ``.keras`` file (checked by ``dlcore.safe_import`` before loading, like any
import) or a ``keras.applications`` backbone whose weights file is on disk (``dlcore.backbones``).
``build_plan`` rebuilds the base for the new data: an input adapter when images differ in size or channels
(or an explanation of why the shapes cannot fit), a new head when the classes or output size differ,
and the first N layers frozen. Frozen ``BatchNormalization`` layers run in inference mode (Keras does so
for a layer with ``trainable=False``) and stay frozen in the optional second phase, which unfreezes the
top K frozen layers with weights and trains them at a lower learning rate.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from dlcore.checkpoint import saved_epoch
from dlcore.data.dataset import Dataset
from dlcore.errors import ModelError
from dlcore.models import compile_model
from dlcore.models.spec import GENERATIVE, FineTuneSpec, ModelSpec, TrainConfig
from dlcore.workspace import read_json

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"


@dataclass(frozen=True)
class Base:
    """A loaded base model and what is known about it (task, class names, where it came from)."""

    model: Any
    ref: str
    label: str
    meta: Mapping[str, Any] = field(default_factory=dict)


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


def shipped_bases() -> list[dict[str, Any]]:
    """The pretrained bases in ``assets/``: ``{"path", "name", "meta"}`` for each ``.keras`` with its meta."""
    folder = assets_dir()
    out = []
    for path in sorted(folder.glob("*.keras")) if folder.is_dir() else []:
        meta = read_json(path.with_suffix(".meta.json"), {}) or {}
        out.append({"path": str(path), "name": meta.get("name", path.stem), "meta": meta})
    return out


def load_base(ref: str, root: str | os.PathLike[str] | None = None) -> Base:
    """Load a base: ``keras:NAME`` backbone, a ``.keras`` file (checked first), or a stored model id."""
    from dlcore import backbones

    if ref.startswith(backbones.PREFIX):
        model, meta = backbones.load_backbone(ref, root)
        return Base(model, ref, f"{meta['arch']} ({meta['weights_file']})", meta)
    if is_file_ref(ref):
        from dlcore.importer import check_isolated, check_shapes, describe, load_checked

        path = Path(ref)
        if not is_shipped(path):  # any other file is untrusted: a capped child loads and checks it first
            check_isolated(path, path.name)
        model = load_checked(path, path.name)
        meta = read_json(path.with_suffix(".meta.json"), None)
        if not isinstance(meta, dict):  # no sidecar: what the shapes say
            in_shape, out_shape, probabilities = check_shapes(model, {}, path.name)
            meta = {"arch": "imported", **describe(in_shape, out_shape, probabilities)}
        return Base(model, ref, meta.get("name") or path.name, meta)
    from dlcore.store import ModelStore

    store = ModelStore(root)
    record = store.get(ref)
    return Base(store.load(ref), ref, f"{record.meta.get('name', '')} ({ref})", record.meta)


def layer_table(model: Any, head_start: int | None = None) -> list[dict[str, Any]]:
    """One row per layer: index, name, type, output shape, parameters, trainable, and its part."""
    rows = []
    for i, layer in enumerate(model.layers):
        part = "adapter" if layer.name.startswith("adapt_") else "head" if head_start is not None and i >= head_start else "base"
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
    scale = base.meta.get("input_scale")
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
        notes.append(f"inputs in [0, 1] are rescaled to [{scale[1]:g}, {scale[0] + scale[1]:g}] as the backbone expects")
    return steps, notes


def _head_start(model: Any) -> int:
    """Index of the base's head: its last layer with weights (and the weightless layers after it)."""
    i = len(model.layers) - 1
    while i > 0 and not model.layers[i].weights:
        i -= 1
    return i


def class_order(base: Base, dataset: Dataset) -> list[int] | None:
    """For each of the data's classes, the base output that predicts it, when the base knows the same
    classes in another order (class folders of an upload come sorted by name) and its head ends in a Dense
    layer with one unit per class, whose units can be put in the data's order; else None."""
    known = list(base.meta.get("class_names") or []) if base.meta.get("class_names_known", True) else []
    wanted = list(dataset.class_names)
    if dataset.task != "classification" or not known or known == wanted or sorted(known) != sorted(wanted) \
            or len(set(wanted)) != len(wanted) or base.meta.get("headless"):
        return None
    layer = base.model.layers[_head_start(base.model)]
    if not isinstance(layer, keras.layers.Dense) or int(layer.units) != len(wanted):
        return None
    return [known.index(c) for c in wanted]


def _reorder_head(model: Any, order: list[int]) -> None:
    """Put the units of the model's output Dense layer in ``order`` (softmax does not mind the order)."""
    layer = model.layers[_head_start(model)]
    kernel, *bias = layer.get_weights()
    layer.set_weights([kernel[:, order], *(b[order] for b in bias)])


def head_decision(base: Base, dataset: Dataset, mode: str) -> tuple[bool, str]:
    """Whether to replace the base's head, and why, in words."""
    if base.meta.get("headless"):
        return True, f"the backbone has no head: a new one is added for {dataset.n_outputs} output(s)"
    n_out = int(math.prod(d for d in base.model.outputs[0].shape[1:] if d is not None))
    classes = list(base.meta.get("class_names") or []) if base.meta.get("class_names_known", True) else []
    task = base.meta.get("task")
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
    from dlcore.models.builders import output_head

    base = load_base(spec.base, root)
    model = base.model
    if base.meta.get("arch") in GENERATIVE or hasattr(model, "latent_dim"):
        raise ModelError(f"{base.label} is a {str(base.meta.get('arch') or 'generative model').upper()}: it draws "
                         "images and predicts no classes or values to adapt; choose a classifier or regressor as the "
                         "base, or train a new VAE or GAN on the Generate page")
    if not getattr(model, "inputs", None) or len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(f"{base.label} is not a single-input, single-output functional model; only those "
                         "can be fine-tuned")
    steps, notes = input_adapter(base, dataset)
    replace, why = head_decision(base, dataset, spec.head)
    cut = None if base.meta.get("headless") else _head_start(model)
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
    new = [i for i, l in enumerate(adapted.layers) if l.name not in used and not l.name.startswith("adapt_")]
    head_start = new[0] if replace else _head_start(adapted)
    notes.insert(0, why)
    notes.append(freeze(adapted, spec.freeze, head_start))
    return Plan(adapted, base, "added" if base.meta.get("headless") else "replaced" if replace else "kept",
                head_start, tuple(notes))


def freeze(model: Any, n: int, head_start: int) -> str:
    """Freeze the first ``n`` layers (-1: every layer below the head); says what that froze."""
    n = head_start if n < 0 else n
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= n and not layer.name.startswith("adapt_")
    if not model.trainable_weights:
        raise ModelError(f"freezing {n} of {len(model.layers)} layers leaves nothing to train; freeze fewer "
                         f"(the head starts at layer {head_start})")
    frozen = [l for l in model.layers[:n] if l.weights]
    bn = sum(isinstance(l, keras.layers.BatchNormalization) for l in frozen)
    params = sum(int(l.count_params()) for l in frozen)
    text = f"the first {n} layers are frozen ({len(frozen)} with weights, {params:,} parameters)"
    return text + (f"; their {bn} batch-norm layer(s) run in inference mode" if bn else "")


def unfreeze_top(model: Any, k: int, head_start: int) -> list[str]:
    """Unfreeze the top ``k`` frozen layers with weights below the head; batch norm stays frozen."""
    frozen = [l for l in model.layers[:head_start] if l.weights and not l.trainable and not l.name.startswith("adapt_")
              and not isinstance(l, keras.layers.BatchNormalization)]
    chosen = frozen[-k:] if k > 0 else []
    for layer in chosen:
        layer.trainable = True
    return [l.name for l in chosen]


def finetune_model(config: TrainConfig, dataset: Dataset) -> Any:
    """The compiled model of a fine-tuning job (``dlcore.training.make_model`` calls this)."""
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
                         "base_data": (plan.base.meta.get("dataset") or {}).get("name"), "head": plan.head,
                         "notes": list(plan.notes), "freeze": config.finetune.freeze,
                         "unfreeze": config.finetune.unfreeze, "fine_epochs": config.finetune.fine_epochs}}


class SecondPhase(keras.callbacks.Callback):
    """At the start of the second phase: unfreeze the top layers and switch to the lower learning rate.

    A resumed job that was already in its second phase switches before ``BackupAndRestore`` restores the
    weights, so the optimizer it restores has the same variables as the one that was saved.
    """

    def __init__(self, config: TrainConfig, backup_dir: Path) -> None:
        super().__init__()
        assert config.finetune is not None
        self.spec, self.backup_dir = config.finetune, Path(backup_dir)
        self.start = config.epochs - config.finetune.fine_epochs
        self.unfrozen: list[str] | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        if saved_epoch(self.backup_dir) >= self.start:
            self.switch()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch >= self.start and self.unfrozen is None:
            self.switch()

    def switch(self) -> None:
        model = self.model
        self.unfrozen = unfreeze_top(model, self.spec.unfreeze, _head_index(model))
        old = model.optimizer
        inner = getattr(old, "inner_optimizer", old)  # a LossScaleOptimizer under mixed precision
        new = type(inner).from_config({**inner.get_config(), "learning_rate": self.spec.fine_learning_rate})
        if inner is not old:
            new = keras.optimizers.LossScaleOptimizer(new)
        with model.distribute_strategy.scope():
            new.build(model.trainable_variables)
        model.optimizer = new
        model.make_train_function(force=True)


def _head_index(model: Any) -> int:
    names = [l.name for l in model.layers]
    for name in ("head_pool", "head_flatten", "output_standardised", "output"):
        if name in names:
            return names.index(name)
    return _head_start(model)


def phase_callbacks(config: TrainConfig, backup_dir: Path) -> list[keras.callbacks.Callback]:
    """The callbacks a fine-tuning job adds (``dlcore.training`` puts them first)."""
    spec = config.finetune
    return [SecondPhase(config, backup_dir)] if spec is not None and spec.fine_epochs > 0 else []


def finetune_config(base: str, data: str, *, base_meta: Mapping[str, Any] | None = None, **options: Any) -> TrainConfig:
    """A job config for fine-tuning ``base`` on ``data``, named after both. ``options`` are ``TrainConfig``
    fields and ``FineTuneSpec`` fields (freeze, head, unfreeze, fine_epochs, fine_learning_rate)."""
    tune_keys = {"freeze", "head", "unfreeze", "fine_epochs", "fine_learning_rate"}
    spec = FineTuneSpec(base=base, **{k: v for k, v in options.items() if k in tune_keys})
    rest = {k: v for k, v in options.items() if k not in tune_keys}
    meta = dict(base_meta or {})
    arch = str(meta.get("arch") or "imported")
    label = meta.get("name") or Path(base).stem
    rest["name"] = rest.get("name") or f"{label} fine-tuned on {data}"
    return TrainConfig(data=data, model=ModelSpec(arch=arch), finetune=spec, **rest)

