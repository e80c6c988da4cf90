"""Pretrained ``keras.applications`` backbones for transfer learning, from weights files already on disk.

Nothing is ever downloaded: a backbone is built with ``weights=<path of a local file>`` (never
``weights="imagenet"``, which would fetch the file). The file is looked for, under the name Keras gives it,
in the workspace's ``weights/`` folder (where the Fine-tune page puts uploads) and in the Keras cache
(``$KERAS_HOME/models`` or ``~/.keras/models``). Without it, a ``ModelError`` says which file to put where.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlcore.errors import ModelError
from dlcore.record import ModelMeta
from dlcore.workspace import home

MAX_WEIGHTS_BYTES = 200 * 2**20
PREFIX = "keras:"
WEIGHTS_KEY = "weights_file"  # in a backbone record's ``extra``: the weights file it was built from


@dataclass(frozen=True)
class Backbone:
    """One supported architecture: how its weights file is named and what its inputs must be."""

    name: str
    sizes: tuple[int, ...]  # square input sizes with published weights
    alphas: tuple[float, ...]  # width multipliers with published weights
    scale: tuple[float, float]  # Rescaling(scale, offset) from inputs in [0, 1] to what it was trained on
    default: tuple[float, int]  # (alpha, size) tried first
    template: str  # the file name Keras caches the no-top weights under

    def filename(self, alpha: float, size: int) -> str:
        return self.template.format(alpha=float(alpha), size=int(size))


BACKBONES = {
    "MobileNetV2": Backbone("MobileNetV2", (96, 128, 160, 192, 224), (0.35, 0.5, 0.75, 1.0, 1.3, 1.4),
                            (2.0, -1.0), (1.0, 224),
                            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{size}_no_top.h5"),
}
_PATTERN = re.compile(r"^mobilenet_v2_weights_tf_dim_ordering_tf_kernels_([0-9.]+)_([0-9]+)_no_top\.h5$")


def weight_dirs(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Where weights files are looked for: the workspace's ``weights/``, then the Keras cache."""
    keras_home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    return [home(root) / "weights", keras_home / "models"]


def parse_ref(ref: str) -> tuple[Backbone, float | None, int | None]:
    """``keras:MobileNetV2[:ALPHA[:SIZE]]`` -> (backbone, alpha or None, size or None)."""
    parts = ref[len(PREFIX):].split(":") if ref.startswith(PREFIX) else [ref]
    if parts[0] not in BACKBONES:
        raise ModelError(f"unknown backbone {parts[0]!r}; choose one of {', '.join(BACKBONES)}")
    backbone = BACKBONES[parts[0]]
    try:
        alpha = float(parts[1]) if len(parts) > 1 and parts[1] else None
        size = int(parts[2]) if len(parts) > 2 and parts[2] else None
    except ValueError:
        raise ModelError(f"write a backbone as keras:{backbone.name}[:ALPHA[:SIZE]], got {ref!r}") from None
    if (alpha is not None and alpha not in backbone.alphas) or (size is not None and size not in backbone.sizes):
        raise ModelError(f"{backbone.name} has weights for alpha in {backbone.alphas} and sizes {backbone.sizes}")
    return backbone, alpha, size


def find_weights(ref: str, root: str | os.PathLike[str] | None = None) -> tuple[Backbone, float, int, Path]:
    """The local weights file for ``ref``; raises ``ModelError`` naming the file and folders when absent."""
    backbone, alpha, size = parse_ref(ref)
    wanted = [(a, s) for a in ([alpha] if alpha else [backbone.default[0], *backbone.alphas])
              for s in ([size] if size else [backbone.default[1], *backbone.sizes])]
    for a, s in dict.fromkeys(wanted):
        for folder in weight_dirs(root):
            path = folder / backbone.filename(a, s)
            if path.is_file():
                return backbone, a, s, path
    a, s = alpha or backbone.default[0], size or backbone.default[1]
    folders = " or ".join(str(f) for f in weight_dirs(root))
    raise ModelError(f"{backbone.name} needs its pretrained weights file {backbone.filename(a, s)} in {folders} "
                     "(upload it on the Fine-tune page or copy it there); nothing is downloaded here")


def available(root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Backbone weights files present on disk, as ``{"ref", "name", "alpha", "size", "path"}``."""
    found = {}
    for folder in weight_dirs(root):
        for path in sorted(folder.glob("*.h5")) if folder.is_dir() else []:
            match = _PATTERN.match(path.name)
            if match:
                ref = f"{PREFIX}MobileNetV2:{float(match.group(1))}:{int(match.group(2))}"
                found.setdefault(ref, {"ref": ref, "name": "MobileNetV2", "alpha": float(match.group(1)),
                                       "size": int(match.group(2)), "path": str(path)})
    return list(found.values())


def load_backbone(ref: str, root: str | os.PathLike[str] | None = None) -> tuple[Any, ModelMeta]:
    """Build the backbone without its top from a local weights file; returns (model, its record: headless,
    with the input scale it expects and the weights file's name, see ``weights_file``)."""
    backbone, alpha, size, path = find_weights(ref, root)
    import keras

    try:
        model = keras.applications.MobileNetV2(input_shape=(size, size, 3), alpha=alpha, include_top=False,
                                               weights=str(path))
    except Exception as exc:
        raise ModelError(f"{path.name} does not hold {backbone.name} weights for alpha {alpha} and size {size} "
                         f"({type(exc).__name__}); delete it and use the file Keras publishes") from exc
    meta = ModelMeta(arch=backbone.name, headless=True, input_scale=backbone.scale, extra={WEIGHTS_KEY: path.name})
    return model, meta


def weights_file(meta: ModelMeta) -> str:
    """The name of the weights file a backbone's record (``load_backbone``) was built from."""
    return str(meta.extra.get(WEIGHTS_KEY, ""))


def save_uploaded_weights(data: bytes, filename: str, root: str | os.PathLike[str] | None = None) -> Path:
    """Keep an uploaded backbone weights file in the workspace after checking its name, size and that it
    loads into the backbone it is named for (an HDF5 file of arrays: reading it runs no code)."""
    name = Path(filename).name
    if not _PATTERN.match(name):
        raise ModelError(f"{name!r} is not a backbone weights file this app knows; expected a name like "
                         f"{BACKBONES['MobileNetV2'].filename(1.0, 224)}")
    if len(data) > MAX_WEIGHTS_BYTES or not data.startswith(b"\x89HDF\r\n\x1a\n"):
        raise ModelError(f"{name} must be an HDF5 weights file under {MAX_WEIGHTS_BYTES // 2**20} MiB")
    folder = home(root) / "weights"
    folder.mkdir(parents=True, exist_ok=True)
    from dlcore.workspace import atomic_write_bytes

    target = folder / name
    atomic_write_bytes(target, data)
    match = _PATTERN.match(name)
    try:
        load_backbone(f"{PREFIX}MobileNetV2:{float(match.group(1))}:{int(match.group(2))}", root)  # type: ignore[union-attr]
    except ModelError:
        target.unlink(missing_ok=True)
        raise
    return target
