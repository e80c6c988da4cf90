"""Where dlcore keeps what it writes (``DLCORE_HOME``), and atomic writes into it."""
from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_HOME = "workspace"


def home(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the workspace folder, creating it: ``path``, else ``$DLCORE_HOME``, else ``./workspace``."""
    root = Path(path or os.environ.get("DLCORE_HOME") or DEFAULT_HOME).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


def new_id(prefix: str = "") -> str:
    """A sortable, unique identifier: UTC time to the second plus random hex (``20261125-171200-3fa2c1``)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{prefix}{stamp}-{secrets.token_hex(3)}"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a torn one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (NaN and infinity become ``null``)."""
    text = json.dumps(finite(obj), indent=2, sort_keys=False)
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_replace_file(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Flush ``src`` to disk, then move it over ``dst`` in one step."""
    fd = os.open(src, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(src, dst)
    _fsync_dir(Path(dst).parent)


def read_json(path: str | os.PathLike[str], default: Any = None) -> Any:
    """Read a JSON file; ``default`` when it does not exist or is not valid JSON (e.g. mid-write by hand)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return default


def finite(obj: Any) -> Any:
    """``obj`` with every float NaN or infinity replaced by None (in nested dicts, lists and tuples too, and
    NumPy scalars as Python numbers), so the JSON written of it stays standard."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {str(k): finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        return finite(obj.item())
    return obj
