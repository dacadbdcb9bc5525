"""The embedded PostgreSQL used when DATABASE_URL is unset.

A private server from the `pgserver` package lives under `.data/pg` and is
reused by every later run. Start-up is serialised by an exclusive file lock,
so two processes starting at once never initialise or start it twice. It keeps
running after the command that started it (so commands, the console and
workers share it); `manage.py db status` and `manage.py db stop` manage it.
"""
from __future__ import annotations

import fcntl
import importlib.util
import os
import shlex
import subprocess
import sys
import warnings
from pathlib import Path


def embedded_data_dir(configured: str = "") -> Path:
    """Where the embedded server keeps its files: DOMAINFLOW_DATA_DIR, or .data/ beside manage.py."""
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / ".data"


def embedded_database(data_dir: Path) -> dict[str, object]:
    """Start (or find) the embedded server and return Django's DATABASES entry."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; harmless here.
            warnings.simplefilter("ignore")
            import pgserver

            # cleanup_mode=None: the server outlives this process, so the web
            # console, workers and commands all share one running instance.
            server = pgserver.get_server(data_dir / "pg", cleanup_mode=None)
        info = server.get_postmaster_info()
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "USER": "postgres",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port or 5432),
    }


# --- `manage.py db`: the embedded server's lifecycle, without starting it ---


def _pg_ctl() -> Path:
    # Located without importing pgserver (its import warns, and would not start anything anyway).
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise SystemExit("The pgserver package is not installed; run `python3 manage.py up` once to install it.")
    return Path(spec.origin).parent / "pginstall" / "bin" / "pg_ctl"


def _running_pid(pg_dir: Path) -> int | None:
    """The postmaster's pid when postmaster.pid names a live process, else None."""
    try:
        pid = int((pg_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by the pgserver user
    return pid


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def db_command(args: list[str], *, data_dir: Path) -> int:
    """`manage.py db status|stop`: where the embedded PostgreSQL lives, whether it runs; stop it."""
    action = args[0] if args else "status"
    if action not in ("status", "stop") or len(args) > 1:
        print("usage: manage.py db [status|stop]", file=sys.stderr)
        return 2
    if os.environ.get("DATABASE_URL"):
        print("DATABASE_URL is set: DomainFlow uses that server, not the embedded one; `db` manages only the embedded one.")
        return 0
    pg_dir = data_dir / "pg"
    pid = _running_pid(pg_dir)
    if action == "status":
        print(f"data      {pg_dir}" + ("" if pg_dir.exists() else "  (not created yet: the first command creates it)"))
        if pg_dir.exists():
            print(f"size      {_size(pg_dir) / 1e6:,.1f} MB")
        print(f"server    running (pid {pid}; socket in {pg_dir})" if pid else "server    stopped (the next command starts it)")
        return 0
    if pid is None:
        print("The embedded PostgreSQL is not running.")
        return 0
    command = [str(_pg_ctl()), "-D", str(pg_dir), "stop", "-m", "fast"]
    if os.geteuid() == 0:
        # As root, pgserver runs the server as its own unprivileged user.
        command = ["su", "pgserver", "-s", "/bin/sh", "-c", " ".join(shlex.quote(part) for part in command)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        print(f"Could not stop the embedded PostgreSQL: {(result.stderr or result.stdout).strip().splitlines()[-1:]}", file=sys.stderr)
        return 1
    print(f"Stopped the embedded PostgreSQL (pid {pid}); its data stays in {pg_dir}.")
    return 0
