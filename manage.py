#!/usr/bin/env python3
"""DomainFlow's command line.

On a machine that has only Python 3.11, the first run creates `.venv/` beside
this file, installs the locked dependencies into it, and re-runs itself there,
so `python3 manage.py up` and `python3 manage.py test` work on a fresh
checkout. Commands install requirements.lock (the runtime); `test` installs
requirements-test.lock (the runtime and the test tools). A `.venv/` made by
another Python version is rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed.json"
REQUIRED = (3, 11)
RUNTIME_LOCK = "requirements.lock"
TEST_LOCK = "requirements-test.lock"  # the runtime's pins and the test tools'


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _venv_version() -> str:
    """The Python version .venv was made with ("" when there is no .venv)."""
    try:
        config = (VENV / "pyvenv.cfg").read_text()
    except OSError:
        return ""
    for line in config.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip()
    return ""


def _lock_hash(name: str) -> str:
    return hashlib.sha256((ROOT / name).read_bytes()).hexdigest()


def _installed() -> dict[str, str]:
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}


def _wanted_locks(argv: list[str]) -> list[str]:
    return [TEST_LOCK] if argv[1:2] == ["test"] else [RUNTIME_LOCK]


def _ensure_venv() -> None:
    """Create, rebuild or refresh .venv as the lock files require, then re-exec in it."""
    if os.environ.get("DOMAINFLOW_NO_BOOTSTRAP") or Path(sys.prefix).resolve() == VENV.resolve():
        return
    wanted = {name: _lock_hash(name) for name in _wanted_locks(sys.argv)}
    made_with = _venv_version()
    usable = made_with.startswith("%d.%d." % REQUIRED) and _venv_python().exists()
    installed = _installed() if usable else {}
    if not all(installed.get(name) == digest for name, digest in wanted.items()):
        if sys.version_info[:2] != REQUIRED:
            sys.exit(
                "DomainFlow needs Python %d.%d; this is %s (%s). Run: python%d.%d manage.py %s"
                % (*REQUIRED, sys.version.split()[0], sys.executable, *REQUIRED, " ".join(sys.argv[1:]))
            )
        if not usable:
            why = f"it was made by Python {made_with}" if made_with and not made_with.startswith("%d.%d." % REQUIRED) else (
                "first run" if not VENV.exists() else "it was incomplete"
            )
            print(f"Setting up .venv ({why})…", file=sys.stderr, flush=True)
            # --clear: a .venv of another Python version is replaced, not patched.
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
            installed = {}
        else:
            print("Installing the locked dependencies into .venv (the lock changed)…", file=sys.stderr, flush=True)
        pip = [str(_venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--require-hashes"]
        for name in wanted:
            if subprocess.run([*pip, "-r", str(ROOT / name)]).returncode != 0:
                sys.exit(f"Installing {name} into .venv failed (pip's message is above); the next run tries again.")
        installed.update(wanted)
        if TEST_LOCK in wanted:
            installed[RUNTIME_LOCK] = _lock_hash(RUNTIME_LOCK)  # the test lock holds the runtime's pins too
        STAMP.write_text(json.dumps(installed, sort_keys=True))
    os.execv(str(_venv_python()), [str(_venv_python()), str(Path(__file__).resolve()), *sys.argv[1:]])


def _connection_failure(exc: BaseException) -> str:
    """The first line of a failed connection's message, or "" for any other database error."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return first if first.startswith(("connection ", "could not connect", "connection to server")) else ""


def main() -> None:
    _ensure_venv()
    if sys.argv[1:2] == ["db"]:
        # Before Django: loading the settings would start the embedded server this inspects or stops.
        from domainflow.embedded_db import db_command, embedded_data_dir

        sys.exit(db_command(sys.argv[2:], data_dir=embedded_data_dir(os.environ.get("DOMAINFLOW_DATA_DIR", ""))))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "domainflow.settings")
    # Imported only here: before the bootstrap above, Django may not be installed yet.
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        sys.exit(f"Configuration error: {exc}")
    except OperationalError as exc:
        reason = _connection_failure(exc)
        if not reason:
            raise
        sys.exit(f"Cannot reach the database: {reason}")


if __name__ == "__main__":
    main()
