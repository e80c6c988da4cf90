"""A user's own input turned into model input through the model's saved preprocessing.

Only the stored model's typed record (``dlcore.record.ModelMeta``) and its fitted preprocessing
(``ModelMeta.preprocessing_steps().transform(raw)``) are used, so whatever columns a model's preprocessing
knows, a typed row goes through the same steps as training. Uploaded images are size-capped before they are
decoded and never unpickled. The data set a model was trained on is ``ModelMeta.training_dataset``.
"""
from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np

from dlcore.data.preprocess import MISSING
from dlcore.errors import ExplainError
from dlcore.record import ModelMeta

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_PIXELS = 4096 * 4096


def _field(col: Mapping[str, Any]) -> dict[str, Any]:
    """A typed row's field for one raw column: numbers start at the training mean, booleans at the most
    common value, categories at the first known one (ordinal: the median), dates empty (filled as in training)."""
    kind = str(col.get("kind", "numeric"))
    field: dict[str, Any] = {"name": str(col["name"]), "kind": kind}
    if kind == "numeric":
        default = col.get("mean", col.get("fill"))
        field["default"] = round(float(default), 4) if default is not None else None
    elif kind == "boolean":
        field["default"] = bool(col.get("fill", 0.0))
    elif kind in ("categorical", "ordinal"):
        options = [str(c) for c in col.get("categories", [])]
        known = [c for c in options if c != MISSING] or options
        median = int(np.clip(round(float(col.get("fill", 0.0))), 0, max(0, len(options) - 1)))
        field.update(options=options, other=bool(col.get("other")),
                     default=(options[median] if kind == "ordinal" else known[0]) if options else "")
    else:
        field["default"] = ""
    return field


def row_fields(meta: ModelMeta) -> list[dict[str, Any]]:
    """The raw columns a typed row needs, each with a starting value and, for categories, the values the
    model knows (``options``)."""
    prep = meta.preprocessing_steps()
    columns = prep.params.get("columns") if prep.kind == "tabular" else None
    if not columns:
        return [{"name": str(n), "kind": "numeric", "default": 0.0} for n in meta.feature_names]
    return [_field(col) for col in columns]


def _check_choice(field: Mapping[str, Any], value: Any) -> None:
    """A category the model never saw would be encoded as nothing at all (or as "other"): refuse it."""
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value).strip()
    if text and not field.get("other") and text not in field["options"]:
        shown = ", ".join(field["options"][:12]) + (", ..." if len(field["options"]) > 12 else "")
        raise ExplainError(f"{field['name']}: {text!r} is not a value the model was trained on; choose one of {shown}")


def row_input(meta: ModelMeta, values: Mapping[str, Any]) -> np.ndarray:
    """One typed row (raw column -> value) as a ``(1, features)`` model input."""
    import pandas as pd

    fields = row_fields(meta)
    names = [f["name"] for f in fields]
    missing = [n for n in names if n not in values]
    if missing:
        raise ExplainError(f"the row lacks {', '.join(missing[:5])}; give a value for every column")
    for field in fields:
        if "options" in field:
            _check_choice(field, values[field["name"]])
    frame = pd.DataFrame([{n: values[n] for n in names}])
    x = meta.preprocessing_steps().transform(frame)
    return np.asarray(x, dtype=np.float32).reshape(1, -1)


def text_input(meta: ModelMeta, text: str) -> np.ndarray:
    """One typed text as a text model's input: a ``(1,)`` array holding the string."""
    if meta.preprocessing_steps().kind != "text":
        raise ExplainError("this model does not take texts; type a row or upload an image instead")
    if not str(text).strip():
        raise ExplainError("the text is empty; type a few words to explain")
    return np.asarray([str(text)], dtype=object)


def image_input(meta: ModelMeta, data: bytes, invert: bool = False) -> np.ndarray:
    """An uploaded image file (PNG, JPEG, ...) as a ``(1, height, width, channels)`` model input.

    The picture is read as grey or RGB values in [0, 1] (``invert``: 1 - value, for dark ink on light
    paper), brought to the raw range the data set's images had (``1 / scale``), and transformed.
    """
    from PIL import Image, UnidentifiedImageError

    prep = meta.preprocessing_steps()
    if prep.kind != "image":
        raise ExplainError("this model does not take images; type a row instead")
    if len(data) > MAX_IMAGE_BYTES:
        raise ExplainError(f"the image file is {len(data) / 1e6:.1f} MB; "
                           f"upload one under {MAX_IMAGE_BYTES // 2**20} MB")
    try:
        picture = Image.open(io.BytesIO(data))
        if picture.size[0] * picture.size[1] > MAX_IMAGE_PIXELS:
            raise ExplainError(f"the image is {picture.size[0]}x{picture.size[1]} pixels; upload a smaller one")
        mode = "L" if int(prep.params.get("channels", 1)) == 1 else "RGB"
        pixels = np.asarray(picture.convert(mode), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ExplainError(f"the file is not an image this tool can read ({exc}); upload a PNG or JPEG") from exc
    if invert:
        pixels = 1.0 - pixels
    scale = float(prep.params.get("scale", 1.0)) or 1.0
    return prep.transform(pixels / scale)

