"""Bad input to any command: one clear line, a non-zero exit, nothing written."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model

from campaigns.models import DnsPersona
from tests.campaigns.commands.helpers import create, run_failing, written_rows
from tests.support.processes import MANAGE, worker_env


def command(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The command as a person runs it: its own process, its exit status, its stderr."""
    return subprocess.run(
        [sys.executable, MANAGE, *args], env=worker_env(), input=stdin, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.django_db(transaction=True)
def test_txstats_refuses_hours_beyond_a_timestamp():
    result = command("txstats", "--hours", "1e9")
    assert (result.returncode, result.stderr) == (
        2, "manage.py txstats: error: argument --hours: must be at most 878,400 hours (100 years); got '1e9'\n",
    )


@pytest.mark.django_db(transaction=True)
def test_a_negative_expected_version_is_refused_as_such(root):
    campaign = create()
    result = command("start_campaign", str(campaign.pk), "--expected-version", "-3")
    assert (result.returncode, result.stderr) == (
        2, "manage.py start_campaign: error: argument --expected-version: must be at least 1 (a campaign starts at version 1); got -3\n",
    )


@pytest.mark.parametrize("username", ["bad name!", "", "x" * 151])
def test_add_operator_refuses_a_username_the_user_model_would_not_take(root, username):
    before = get_user_model().objects.count()

    error, output = run_failing("add_operator", username, "--create")

    assert str(error).startswith(f"{username!r} cannot be a username: ")
    assert get_user_model().objects.count() == before
    assert output.out == ""


@pytest.mark.django_db(transaction=True)
def test_import_config_of_json_nested_too_deeply_is_one_line():
    result = command("import_config", "-", stdin="[" * 100_000 + "]" * 100_000)
    assert (result.returncode, result.stderr) == (1, "CommandError: -: nested too deeply to be a configuration document\n")


@pytest.mark.django_db(transaction=True)
def test_import_config_refuses_a_nul_character_and_writes_nothing():
    document = {"version": 1, "dns_personas": [{"name": "a\u0000b", "resolvers": ["127.0.0.1"]}]}
    before = written_rows()

    result = command("import_config", "-", stdin=json.dumps(document))

    assert (result.returncode, result.stderr) == (
        1, "CommandError: dns_personas[0].name: must not contain the NUL character (\\u0000)\n",
    )
    assert DnsPersona.objects.count() == 0
    assert written_rows() == before


@pytest.mark.django_db(transaction=True)
def test_import_config_names_a_nul_character_in_a_nested_value():
    document = {"version": 1, "http_personas": [{"name": "h", "headers": {"X-A": "1\u00002"}}]}

    result = command("import_config", "-", stdin=json.dumps(document))

    assert (result.returncode, result.stderr) == (
        1, "CommandError: http_personas[0].headers.X-A: must not contain the NUL character (\\u0000)\n",
    )
