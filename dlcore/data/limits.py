"""Caps on what an upload may hold, read from the environment when a file is read (never at import).

| variable                    | default | what it caps                                              |
|-----------------------------|---------|-----------------------------------------------------------|
| DLCORE_MAX_UPLOAD_MB        | 200     | size of an uploaded file                                  |
| DLCORE_MAX_ROWS             | 1000000 | rows of a table                                           |
| DLCORE_MAX_COLUMNS          | 1000    | columns of a table                                        |
| DLCORE_MAX_IMAGES           | 20000   | images in a ZIP (and members of any archive, x2)          |
| DLCORE_MAX_IMAGE_PIXELS     | 16777216| width x height of one image (4096 x 4096)                 |
| DLCORE_MAX_UNZIPPED_MB      | 2048    | total size an archive declares once decompressed          |
| DLCORE_MAX_ZIP_RATIO        | 100     | decompressed / compressed size of an archive or member    |
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from dlcore.errors import DataError

MB = 1024 * 1024

# (attribute, environment variable, default, unit multiplier)
_VARIABLES = (
    ("max_bytes", "DLCORE_MAX_UPLOAD_MB", 200, MB),
    ("max_rows", "DLCORE_MAX_ROWS", 1_000_000, 1),
    ("max_columns", "DLCORE_MAX_COLUMNS", 1_000, 1),
    ("max_images", "DLCORE_MAX_IMAGES", 20_000, 1),
    ("max_pixels", "DLCORE_MAX_IMAGE_PIXELS", 4096 * 4096, 1),
    ("max_unzipped_bytes", "DLCORE_MAX_UNZIPPED_MB", 2048, MB),
    ("max_ratio", "DLCORE_MAX_ZIP_RATIO", 100, 1),
)

_DEFAULTS = {attr: default * unit for attr, _, default, unit in _VARIABLES}


def env_numbers(variables: tuple[tuple[str, str, int, int], ...], least: int = 0) -> dict[str, int]:
    """The settings of ``variables`` (attribute, environment variable, default, unit) that the environment
    sets: a positive number times its unit, at least ``least``; a bad value is refused, naming its variable."""
    values = {}
    for attr, var, _, unit in variables:
        text = os.environ.get(var, "").strip()
        if not text:
            continue
        try:
            number = float(text)
        except ValueError:
            number = -1.0
        if not number > 0:
            raise DataError(f"{var}={text!r} is not a positive number; fix or unset it")
        values[attr] = max(least, int(number * unit))
    return values


@dataclass(frozen=True)
class Limits:
    """Upper bounds checked before anything large is read or decompressed."""

    max_bytes: int = _DEFAULTS["max_bytes"]
    max_rows: int = _DEFAULTS["max_rows"]
    max_columns: int = _DEFAULTS["max_columns"]
    max_images: int = _DEFAULTS["max_images"]
    max_pixels: int = _DEFAULTS["max_pixels"]
    max_unzipped_bytes: int = _DEFAULTS["max_unzipped_bytes"]
    max_ratio: int = _DEFAULTS["max_ratio"]

    @classmethod
    def from_env(cls) -> Limits:
        """The caps, each overridable by its ``DLCORE_MAX_*`` environment variable (a positive number)."""
        return cls(**env_numbers(_VARIABLES))

    def variable(self, attr: str) -> str:
        """The environment variable that raises the cap ``attr``."""
        return next(var for a, var, _, _ in _VARIABLES if a == attr)

