"""Settings come from the environment: read in a fresh interpreter, as a deployment would."""
from __future__ import annotations

import ast
import json
import os
import re
import socket
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

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


def manage_under(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "DOMAINFLOW_PRODUCTION", "DEBUG")}
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
        env={**base, "DOMAINFLOW_NO_BOOTSTRAP": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not-a-url", "DATABASE_URL must be a PostgreSQL URL like postgres://USER@HOST:PORT/NAME; got 'not-a-url'"),
        ("mysql://u:secret@h/x", "DATABASE_URL must be a PostgreSQL URL like postgres://USER@HOST:PORT/NAME; got 'mysql://u:***@h/x'"),
        ("postgres://h:99999/x", "DATABASE_URL is not a valid URL (Port out of range 0-65535); expected postgres://USER@HOST:PORT/NAME"),
        ("postgres://h:5432", "DATABASE_URL names no database: add /NAME, e.g. postgres://USER@HOST:5432/domainflow"),
    ],
)
def test_a_bad_database_url_is_one_line(url, message):
    result = manage_under("check", DATABASE_URL=url)
    assert (result.returncode, result.stderr) == (1, f"Configuration error: {message}\n")


def test_an_unreachable_database_is_one_line():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    result = manage_under("migrate", DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/x")
    assert result.returncode == 1
    assert result.stderr == (
        f'Cannot reach the database: connection failed: connection to server at "127.0.0.1", port {port} failed: Connection refused\n'
    )


@pytest.mark.django_db
def test_connections_run_without_jit_compilation():
    """A statement run thousands of times a minute must not be compiled to machine code each time."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)


def _variables_read() -> set[str]:
    """Every environment variable the product reads: the settings' schema and each env(...),
    env.<type>(...) and os.environ.get(...) call with a literal name, in every product module."""
    names: set[str] = set()
    base = settings.BASE_DIR
    sources = [base / "manage.py", *(path for package in ("domainflow", "campaigns", "txmetrics")
                                     for path in (base / package).rglob("*.py"))]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = ast.unparse(node.func)
            if func == "environ.Env":
                names.update(keyword.arg for keyword in node.keywords if keyword.arg)
            elif func in ("env", "os.environ.get", "os.getenv") or func.startswith("env."):
                if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    names.add(node.args[0].value)
    return names


def test_the_readme_documents_every_environment_variable_the_product_reads_and_no_other():
    readme = (settings.BASE_DIR / "README.md").read_text()
    table = readme.split("## Configuration (environment)", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", table, re.MULTILINE))
    read = _variables_read()
    assert "DOMAINFLOW_TXMETRICS_FLUSH_ROWS" in read and "DATABASE_URL" in read  # the scan finds both kinds
    assert read == documented
