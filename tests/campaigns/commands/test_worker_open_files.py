"""A worker raises its soft limit on open files to the hard limit as it starts (campaigns.aio).

Each fetch in flight holds a socket, and past the soft limit every connect fails as "Too many open
files", which becomes that site's error; the limit is read from the running worker's /proc entry.
"""
from __future__ import annotations

import json
import resource
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import MANAGE, worker_env


def _open_files_limits(pid: int) -> tuple[int, int]:
    line = next(line for line in Path(f"/proc/{pid}/limits").read_text().splitlines()
                if line.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    return int(soft), int(hard)


@pytest.mark.django_db(transaction=True)
def test_a_worker_started_under_a_low_soft_limit_on_open_files_raises_it_to_the_hard_limit():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(256, hard // 2)
    command = f"ulimit -Sn {low} && exec {shlex.quote(sys.executable)} {shlex.quote(MANAGE)} run_worker --report json"
    worker = subprocess.Popen(["sh", "-c", command], env=worker_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        started = json.loads(worker.stderr.readline())  # written once the engine runs
        assert started["event"] == "started"
        assert _open_files_limits(worker.pid) == (hard, hard)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=60)
    assert worker.returncode == 0
