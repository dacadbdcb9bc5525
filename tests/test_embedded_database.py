"""The embedded PostgreSQL used when DATABASE_URL is unset."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import MANAGE

PROBE = "from django.db import connection; c = connection.cursor(); c.execute('select 41 + 1'); print(c.fetchone()[0], connection.settings_dict['HOST'])"


def embedded_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"DOMAINFLOW_DATA_DIR": str(data_dir), "DOMAINFLOW_NO_BOOTSTRAP": "1"})
    return env


@pytest.mark.slow
def test_two_processes_starting_at_once_share_one_new_embedded_server(tmp_path):
    data_dir = tmp_path / "data"
    env = embedded_env(data_dir)
    procs = [
        subprocess.Popen([sys.executable, MANAGE, "shell", "-c", PROBE], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    try:
        assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
        answers = [out.split()[-2:] for out, _ in outputs]
        assert [a[0] for a in answers] == ["42", "42"]
        assert answers[0][1] == answers[1][1] == str(data_dir / "pg")  # one server, one socket
        pid_file = data_dir / "pg" / "postmaster.pid"
        first_pid = pid_file.read_text().split()[0]

        # A later run reuses the running server instead of starting another.
        again = subprocess.run([sys.executable, MANAGE, "shell", "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert pid_file.read_text().split()[0] == first_pid
    finally:
        # Located without importing pgserver (its import warns about XDG_RUNTIME_DIR).
        pg_ctl = Path(importlib.util.find_spec("pgserver").origin).parent / "pginstall" / "bin" / "pg_ctl"
        stopped = subprocess.run(
            ["su", "pgserver", "-s", "/bin/sh", "-c", f"{pg_ctl} -D {data_dir / 'pg'} stop -m fast"]
            if os.geteuid() == 0
            else [str(pg_ctl), "-D", str(data_dir / "pg"), "stop", "-m", "fast"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert stopped.returncode == 0, stopped.stderr
