"""Which device training uses: a probe that needs no TensorFlow, and TensorFlow's own set-up.

``probe()`` asks ``nvidia-smi`` (cheap, safe on the home page). ``configure()`` imports TensorFlow, turns
on memory growth for every GPU, optionally mixed precision, splits the CPU into ``DLCORE_CPU_DEVICES``
logical devices when asked, and ``strategy()`` picks a ``tf.distribute`` strategy: one device, all local
GPUs or logical CPUs (``MirroredStrategy``), or several machines (``MultiWorkerMirroredStrategy``, configured
through ``TF_CONFIG``; see ``dlcore.distributed``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlcore.errors import DlcoreError

CPU_DEVICES_ENV = "DLCORE_CPU_DEVICES"  # split the CPU into this many logical devices (MirroredStrategy over them)


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


def cpu_devices() -> int:
    """How many logical devices the CPU is split into (``DLCORE_CPU_DEVICES``; 1: not split)."""
    text = os.environ.get(CPU_DEVICES_ENV, "").strip() or "1"
    if not text.isdigit() or int(text) < 1:
        raise DlcoreError(f"{CPU_DEVICES_ENV} must be a whole number of devices >= 1, got {text!r}")
    return int(text)


def split_cpu(n: int) -> None:
    """Split the CPU into ``n`` logical devices; must run before TensorFlow initialises its devices."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
    if len(tf.config.get_logical_device_configuration(cpu) or [None]) == n:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError as exc:  # TensorFlow already ran something in this process
        raise DlcoreError(f"{CPU_DEVICES_ENV}={n} must be set before TensorFlow starts: set it in the environment "
                          "of the process that trains (python -m dlcore train, or the app's server)") from exc


def configure(mixed_precision: bool = False) -> DeviceInfo:
    """Set TensorFlow up for this machine: memory growth on GPUs; mixed precision only where there is one;
    the CPU split into logical devices when ``DLCORE_CPU_DEVICES`` asks for more than one."""
    import keras
    import tensorflow as tf

    if cpu_devices() > 1:
        split_cpu(cpu_devices())
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


def strategy(kind: str = "auto", folder: Path | None = None) -> Any:
    """A ``tf.distribute`` strategy: ``auto`` mirrors over several local GPUs (or, without a GPU, over the
    logical CPUs of ``DLCORE_CPU_DEVICES``), else the default one; ``multi-worker`` follows ``TF_CONFIG``
    (the job in ``folder`` is marked failed when the cluster does not form in time, and the process ends)."""
    import tensorflow as tf

    if kind == "multi-worker":
        from dlcore.distributed import multi_worker_strategy

        return multi_worker_strategy(folder)
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    if kind == "mirrored" or (kind == "auto" and len(devices) > 1):
        return tf.distribute.MirroredStrategy(devices=[d.name for d in devices])
    return tf.distribute.get_strategy()
