"""Which device training uses: a probe that needs no TensorFlow, and TensorFlow's own set-up.

``probe()`` asks ``nvidia-smi`` (cheap, safe on the home page). ``configure()`` imports TensorFlow, turns
on memory growth for every GPU, optionally mixed precision, and ``strategy()`` picks a
``tf.distribute`` strategy: one device, all local GPUs (``MirroredStrategy``), or several machines
(``MultiWorkerMirroredStrategy``, configured through ``TF_CONFIG``).
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DeviceInfo:
    """The accelerators training will use; ``kind`` is ``gpu`` or ``cpu``."""

    kind: str
    names: tuple[str, ...] = ()
    source: str = "none"
    mixed_precision: bool = False

    @property
    def label(self) -> str:
        if self.kind == "gpu":
            return f"GPU: {', '.join(self.names)}"
        return "CPU (no GPU found)"


def probe(timeout: float = 3.0) -> DeviceInfo:
    """GPUs as ``nvidia-smi`` lists them, without importing TensorFlow; CPU when there is none."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return DeviceInfo("cpu")
    try:
        out = subprocess.run([exe, "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=timeout, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return DeviceInfo("cpu")
    names = tuple(line.strip() for line in out.splitlines() if line.strip())
    return DeviceInfo("gpu", names, "nvidia-smi") if names else DeviceInfo("cpu")


def configure(mixed_precision: bool = False) -> DeviceInfo:
    """Set TensorFlow up for this machine: memory growth on GPUs; mixed precision only where there is one."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised in this process: growth cannot change any more
            pass
    use_mp = bool(mixed_precision and gpus)
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mp else "float32")
    if not gpus:
        return DeviceInfo("cpu", source="tensorflow")
    names = tuple(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)
    return DeviceInfo("gpu", names, "tensorflow", use_mp)


def strategy(kind: str = "auto") -> Any:
    """A ``tf.distribute`` strategy: ``auto`` mirrors over several local GPUs, else the default one."""
    import tensorflow as tf

    if kind == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    n_gpus = len(tf.config.list_logical_devices("GPU"))
    if kind == "mirrored" or (kind == "auto" and n_gpus > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()
