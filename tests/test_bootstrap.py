"""manage.py's bootstrap: the required Python is checked before .venv exists; a .venv of another version is rebuilt.

Run in a copy of manage.py beside empty lock files, so nothing is downloaded.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import MANAGE

EMPTY_LOCK = "# no packages\n"


def other_python() -> str | None:
    """An interpreter that is not 3.11, if this machine has one."""
    candidates = [shutil.which(f"python3.{minor}") for minor in (12, 13, 10)]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[02]*/bin/python3")))
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] != (3, 11))"], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


@pytest.fixture
def checkout(tmp_path) -> Path:
    shutil.copy(MANAGE, tmp_path / "manage.py")
    for name in ("requirements.lock", "requirements-test.lock"):
        (tmp_path / name).write_text(EMPTY_LOCK)
    return tmp_path


def bootstrap_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DOMAINFLOW_NO_BOOTSTRAP", "VIRTUAL_ENV")}


def test_a_wrong_python_gets_one_line_and_no_venv(checkout):
    python = other_python()
    if python is None:
        pytest.skip("no Python other than 3.11 on this machine")
    result = subprocess.run([python, "manage.py", "up"], cwd=checkout, env=bootstrap_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("DomainFlow needs Python 3.11; this is 3.")
    assert not (checkout / ".venv").exists()


def test_a_venv_of_another_python_version_is_rebuilt_with_this_one(checkout):
    venv = checkout / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.12.1\n")
    (venv / "bin" / "python").symlink_to("/nonexistent/python3.12")
    (venv / ".installed.json").write_text("{}")
    python = shutil.which("python3.11") or sys.executable
    # `--version` is Django's: the rebuilt .venv has no Django (empty lock), so the re-run fails after the rebuild.
    result = subprocess.run([python, "manage.py", "--version"], cwd=checkout, env=bootstrap_env(), capture_output=True, text=True, timeout=300)
    assert "Setting up .venv (it was made by Python 3.12.1)" in result.stderr
    assert "version = 3.11." in (venv / "pyvenv.cfg").read_text()
    assert (venv / "bin" / "python").resolve().exists()
    assert set(json.loads((venv / ".installed.json").read_text())) == {"requirements.lock"}


def test_the_test_command_installs_the_test_lock_and_up_reuses_it(checkout):
    python = shutil.which("python3.11") or sys.executable
    first = subprocess.run([python, "manage.py", "test"], cwd=checkout, env=bootstrap_env(), capture_output=True, text=True, timeout=300)
    assert "Setting up .venv (first run)" in first.stderr
    stamp = json.loads((checkout / ".venv" / ".installed.json").read_text())
    assert set(stamp) == {"requirements.lock", "requirements-test.lock"}
    again = subprocess.run([python, "manage.py", "up"], cwd=checkout, env=bootstrap_env(), capture_output=True, text=True, timeout=120)
    assert "Setting up" not in again.stderr and "Installing" not in again.stderr
