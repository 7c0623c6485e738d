"""An extract stage killed by SIGKILL (the OOM killer, `kill -9`) leaves no extraction worker, fork server or
resource tracker behind: each worker follows the stage's process and exits with it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

STAGE = """
import json, time
from multiprocessing import forkserver
from wirewatch.process.extractor import _start_pool
pool = _start_pool(2)
print(json.dumps({"workers": list(pool._processes), "server": forkserver._forkserver._forkserver_pid}), flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the pool's fork server and /proc are Linux's")
def test_a_stage_killed_by_sigkill_leaves_no_worker_or_fork_server_behind() -> None:
    stage = subprocess.Popen([sys.executable, "-c", STAGE], stdout=subprocess.PIPE, text=True)
    try:
        assert stage.stdout is not None
        started = json.loads(stage.stdout.readline())
        left = [*started["workers"], started["server"]]
        assert len(left) == 3 and all(alive(pid) for pid in left), started
    finally:
        os.kill(stage.pid, signal.SIGKILL)
        stage.wait()
    deadline = time.monotonic() + 30  # a bound on the wait, not a speed figure: they go within a second
    while any(alive(pid) for pid in left) and time.monotonic() < deadline:
        time.sleep(0.2)
    still = [pid for pid in left if alive(pid)]
    for pid in still:  # leave nothing behind on the machine either way
        os.kill(pid, signal.SIGKILL)
    assert not still, f"still running after the stage was killed: {still} of workers {started['workers']} " \
                      f"and fork server {started['server']}"
