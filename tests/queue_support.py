"""A stand-in worker that holds a queue slot, so tests can fill the queue without starting TensorFlow."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dlcore import jobs
from dlcore.models import ModelSpec, TrainConfig


@contextmanager
def slot_holder(home: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """A running job whose ``worker.pid`` names a live process that names its folder (as a worker does)."""
    folder = jobs.create(TrainConfig(data="iris", model=ModelSpec(units=(4,)), epochs=1), home)
    jobs.update_status(folder, state="running")
    (folder / jobs.RUNNER_FILE).unlink()  # not run in this process: the fake worker below is its only process
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", str(folder)])
    (folder / jobs.PID_FILE).write_text(str(proc.pid))
    try:
        yield folder, proc
    finally:
        proc.kill()
        proc.wait()
