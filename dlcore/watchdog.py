"""A watchdog process: ``python -m dlcore.watchdog PID SECONDS MESSAGE [FOLDER]``.

It waits on its stdin; when the watched process closes it (done in time, or gone), the watchdog leaves. When
``SECONDS`` pass first, it prints ``MESSAGE`` on its stderr (the watched process's), marks the job in
``FOLDER`` failed with it, and kills ``PID``. It is a process of its own because the process it watches may be
blocked in native code that holds Python's interpreter lock (TensorFlow waiting for peers), where neither a
thread nor a signal handler of that process would ever run.
"""
from __future__ import annotations

import os
import select
import signal
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    pid, seconds, message = int(argv[0]), float(argv[1]), argv[2]
    folder = argv[3] if len(argv) > 3 and argv[3] else None
    ready, _, _ = select.select([sys.stdin], [], [], seconds)
    if ready:
        return 0
    print(f"error: {message}", file=sys.stderr, flush=True)
    if folder is not None:
        from dlcore.jobs import update_status

        update_status(Path(folder), state="failed", message=message)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
