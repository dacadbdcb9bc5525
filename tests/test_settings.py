"""Settings come from the environment: read in a fresh interpreter, as a deployment would."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

PRINT_SETTINGS = (
    "import json, django; from django.conf import settings; django.setup();"
    "db = settings.DATABASES['default'];"
    "print(json.dumps({'host': db['HOST'], 'name': db['NAME'], 'debug': settings.DEBUG}))"
)


def settings_under(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "DOMAINFLOW_PRODUCTION", "DEBUG")}
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        env={**base, "DJANGO_SETTINGS_MODULE": "domainflow.settings", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_socket_directory_in_the_url_reaches_libpq_as_a_path():
    result = settings_under(DATABASE_URL="postgres://postgres@%2Fvar%2Frun%2Fpostgresql/campaigns")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"host": "/var/run/postgresql", "name": "campaigns", "debug": False}


def test_production_refuses_to_start_without_a_secret_key():
    result = settings_under(DOMAINFLOW_PRODUCTION="1", DATABASE_URL="postgres://postgres@127.0.0.1:5432/x")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr.strip().splitlines()[-1]
