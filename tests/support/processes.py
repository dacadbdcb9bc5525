"""Running real worker processes against the test database."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


def test_database_url() -> str:
    """A DATABASE_URL for the database the tests are using (the test database)."""
    db = connection.settings_dict
    host = db["HOST"] or "localhost"
    host = quote(host, safe="") if host.startswith("/") else host
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{db['USER']}@{host}{port}/{db['NAME']}"


def worker_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": test_database_url(),
            "DOMAINFLOW_NO_BOOTSTRAP": "1",
            "DOMAINFLOW_JOB_LEASE_SECONDS": "2",
            "DOMAINFLOW_RETRY_BACKOFF_S": "0.05",
            "DOMAINFLOW_RETRY_BACKOFF_MAX_S": "0.2",
            "CONN_MAX_AGE": "60",
        }
    )
    env.update(overrides)
    return env


def start_worker(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, MANAGE, "run_worker", *args],
        env=worker_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
