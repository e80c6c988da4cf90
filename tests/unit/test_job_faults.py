"""The process that started a job (the Streamlit server, in the app) killed with SIGKILL while the job trains,
with its whole process group (as a terminal's signal reaches every process started from it): the job's worker
lives on in its own session, and a fresh process finds it running, then done."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlcore import jobs

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

SERVER = """
import json, sys, time
from dlcore import jobs
from dlcore.models import ModelSpec, TrainConfig
status = jobs.start(TrainConfig(data="iris", model=ModelSpec(units=(8,)), epochs=40), sys.argv[1])
print(json.dumps({"job": status.job_id}), flush=True)
time.sleep(600)
"""


def test_a_server_killed_with_sigkill_leaves_its_job_training_and_a_restart_finds_it(home: Path) -> None:
    env = {**os.environ, "DLCORE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(home)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              text=True, start_new_session=True)  # the "server" leads its own process group
    job_id = json.loads(server.stdout.readline())["job"]
    deadline = time.monotonic() + 180
    while jobs.poll(job_id, home).epoch < 1 and time.monotonic() < deadline:  # training has begun
        time.sleep(0.5)
    os.killpg(server.pid, signal.SIGKILL)  # the server and every process of its group
    server.wait(10)
    after = jobs.poll(job_id, home)  # the "restarted server": a fresh look at the job folders
    assert after.state == "running" and after.active, after
    final = jobs.wait(job_id, home, timeout=300)
    assert final.state == "done" and final.epoch == 40 and final.model_id, final
