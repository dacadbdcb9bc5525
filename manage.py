#!/usr/bin/env python3
"""DomainFlow's command line.

On a machine that has only Python, the first run creates `.venv/` beside this
file, installs the pinned dependencies into it, and re-runs itself there, so
`python3 manage.py up` and `python3 manage.py test` work on a fresh checkout.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _ensure_venv() -> None:
    """Create or refresh .venv when pyproject.toml changed, then re-exec in it."""
    if os.environ.get("DOMAINFLOW_NO_BOOTSTRAP") or Path(sys.prefix).resolve() == VENV.resolve():
        return
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / ".installed"
    if not stamp.exists() or stamp.read_text() != wanted:
        print("Setting up .venv (first run, or dependencies changed)…", file=sys.stderr, flush=True)
        if not _venv_python().exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(_venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True)
        stamp.write_text(wanted)
    os.execv(str(_venv_python()), [str(_venv_python()), str(Path(__file__).resolve()), *sys.argv[1:]])


def main() -> None:
    _ensure_venv()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "domainflow.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
