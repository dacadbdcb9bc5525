"""The embedded PostgreSQL used when DATABASE_URL is unset."""
from __future__ import annotations

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
        stopped = subprocess.run([sys.executable, MANAGE, "db", "stop"], env=env, capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == f"Stopped the embedded PostgreSQL (pid {first_pid}); its data stays in {data_dir / 'pg'}.\n"
    status = subprocess.run([sys.executable, MANAGE, "db", "status"], env=env, capture_output=True, text=True, timeout=60)
    assert status.stdout.splitlines()[0] == f"data      {data_dir / 'pg'}"
    assert status.stdout.splitlines()[-1] == "server    stopped (the next command starts it)"


def test_db_status_of_a_data_directory_not_created_yet(tmp_path):
    env = embedded_env(tmp_path / "none")
    status = subprocess.run([sys.executable, MANAGE, "db", "status"], env=env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines() == [
        f"data      {tmp_path / 'none' / 'pg'}  (not created yet: the first command creates it)",
        "server    stopped (the next command starts it)",
    ]
    assert not (tmp_path / "none").exists()


def test_db_refuses_an_unknown_action_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, MANAGE, "db", "restart"], env=embedded_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (2, "usage: manage.py db [status|stop]\n")


def test_production_without_database_url_refuses_to_start_in_one_line(tmp_path):
    env = {**embedded_env(tmp_path / "data"), "DOMAINFLOW_PRODUCTION": "1", "SECRET_KEY": "s" * 50}
    result = subprocess.run([sys.executable, MANAGE, "check"], env=env, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (
        1, "Configuration error: DATABASE_URL is required when DOMAINFLOW_PRODUCTION=1 (the embedded PostgreSQL is for development only).\n"
    )
    assert not (tmp_path / "data").exists()
