"""The embedded PostgreSQL used when DATABASE_URL is unset.

A private server from the `pgserver` package lives under `.data/pg` and is
reused by every later run. Start-up is serialised by an exclusive file lock,
so two processes starting at once never initialise or start it twice.
"""
from __future__ import annotations

import fcntl
import warnings
from pathlib import Path


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
