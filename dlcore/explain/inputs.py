"""A user's own input turned into model input through the model's saved preprocessing.

Only ``Preprocessing.from_dict(meta["preprocessing"]).transform(raw)`` and the model's metadata are used,
so whatever columns a model's preprocessing knows, a typed row goes through the same steps as training.
Uploaded images are size-capped before they are decoded and never unpickled.
"""
from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np

from dlcore.data.preprocess import MISSING, Preprocessing
from dlcore.errors import ExplainError

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_PIXELS = 4096 * 4096


def _preprocessing(meta: Mapping[str, Any]) -> Preprocessing:
    return Preprocessing.from_dict(meta.get("preprocessing"))


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


def row_fields(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The raw columns a typed row needs, each with a starting value and, for categories, the values the
    model knows (``options``)."""
    prep = _preprocessing(meta)
    columns = prep.params.get("columns") if prep.kind == "tabular" else None
    if not columns:
        return [{"name": str(n), "kind": "numeric", "default": 0.0} for n in meta.get("feature_names", [])]
    return [_field(col) for col in columns]


def _check_choice(field: Mapping[str, Any], value: Any) -> None:
    """A category the model never saw would be encoded as nothing at all (or as "other"): refuse it."""
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value).strip()
    if text and not field.get("other") and text not in field["options"]:
        shown = ", ".join(field["options"][:12]) + (", ..." if len(field["options"]) > 12 else "")
        raise ExplainError(f"{field['name']}: {text!r} is not a value the model was trained on; choose one of {shown}")


def row_input(meta: Mapping[str, Any], values: Mapping[str, Any]) -> np.ndarray:
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
    x = _preprocessing(meta).transform(frame)
    return np.asarray(x, dtype=np.float32).reshape(1, -1)


def text_input(meta: Mapping[str, Any], text: str) -> np.ndarray:
    """One typed text as a text model's input: a ``(1,)`` array holding the string."""
    if _preprocessing(meta).kind != "text":
        raise ExplainError("this model does not take texts; type a row or upload an image instead")
    if not str(text).strip():
        raise ExplainError("the text is empty; type a few words to explain")
    return np.asarray([str(text)], dtype=object)


def image_input(meta: Mapping[str, Any], data: bytes, invert: bool = False) -> np.ndarray:
    """An uploaded image file (PNG, JPEG, ...) as a ``(1, height, width, channels)`` model input.

    The picture is read as grey or RGB values in [0, 1] (``invert``: 1 - value, for dark ink on light
    paper), brought to the raw range the data set's images had (``1 / scale``), and transformed.
    """
    from PIL import Image, UnidentifiedImageError

    prep = _preprocessing(meta)
    if prep.kind != "image":
        raise ExplainError("this model does not take images; type a row instead")
    if len(data) > MAX_IMAGE_BYTES:
        raise ExplainError(f"the image file is {len(data) / 1e6:.1f} MB; upload one under {MAX_IMAGE_BYTES // 2**20} MB")
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


def model_dataset(meta: Mapping[str, Any], data: str | None = None) -> Any:
    """The data set a stored model was trained on, split as it was (for inputs by index and background);
    for a model stored without one (an imported file), the data set ``data`` names, checked to fit it."""
    from dlcore.data import load_dataset

    config = meta.get("config") or {}
    if not config.get("data"):
        if not data:
            raise ExplainError("this model was imported without its training data; name a data set shaped like "
                               "its input to explain it with (--data NAME|FILE, or pick one on the Explain page)")
        ds = load_dataset(str(data))
        check_fits(meta, ds)
        return ds
    return load_dataset(str(config["data"]), config.get("target"), float(config.get("validation_split", 0.2)),
                        int(config.get("seed", 0)))


def check_fits(meta: Mapping[str, Any], ds: Any) -> None:
    """Refuse a data set whose inputs or outputs do not match a stored model's, naming both."""
    model_texts, data_texts = meta.get("modality") == "text", ds.modality == "text"
    if model_texts != data_texts:
        raise ExplainError(f"the model takes {'texts' if model_texts else 'numbers'} and {ds.name!r} holds "
                           f"{ds.modality} data; choose a data set like the model's input")
    want = tuple(int(d) for d in meta.get("input_shape") or ())
    if want and tuple(ds.input_shape) != want:
        raise ExplainError(f"{ds.name!r} gives inputs shaped {tuple(ds.input_shape)} and the model takes {want}; "
                           "choose a data set shaped like the model's input")
    outputs = int(np.prod(meta["output_shape"])) if meta.get("output_shape") else 0
    if outputs and outputs != ds.n_outputs:
        raise ExplainError(f"the model has {outputs} output(s) and {ds.name!r} has {ds.n_outputs}; choose a data set "
                           "with as many classes as the model has outputs")
