from __future__ import annotations

import json
import re
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from txmetrics.decorators import safe_transaction
from txmetrics.report import performance_stats

pytestmark = pytest.mark.django_db


@safe_transaction(operation="test.ok")
def _ok(*, campaign_id=None) -> None:
    pass


@safe_transaction(operation="test.boom")
def _boom() -> None:
    raise ValueError("boom")


@pytest.fixture
def recorded():
    """Three successful transactions of test.ok (one for a campaign) and one failed test.boom."""
    campaign_id = uuid.uuid4()
    _ok()
    _ok()
    _ok(campaign_id=campaign_id)
    with pytest.raises(ValueError):
        _boom()
    return campaign_id


def _txstats(*args: str) -> str:
    out = StringIO()
    call_command("txstats", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_text_is_an_aligned_table_of_each_operation(recorded):
    lines = _txstats().splitlines()

    assert re.split(r"\s{2,}", lines[0]) == [
        "operation", "total", "ok", "failed", "avg ms", "min ms", "p50 ms", "p95 ms", "max ms", "avg retries"
    ]
    assert [line.split()[:4] for line in lines[1:]] == [["test.boom", "1", "0", "1"], ["test.ok", "3", "3", "0"]]
    # Numbers are right-aligned under their headers, so every line ends at the same column.
    assert len({len(line) for line in lines}) == 1
    assert all(line.endswith("0.00") for line in lines[1:])  # no retries


def test_json_is_one_object_with_the_stats_of_the_sql_function(recorded):
    output = _txstats("--json")

    data = json.loads(output)
    assert output.count("\n") == 1
    assert data == {
        "hours": 24.0,
        "operation": None,
        "campaign": None,
        "operations": [s.as_dict() for s in performance_stats(hours=24)],
    }
    assert [(op["operation"], op["total"], op["succeeded"], op["failed"]) for op in data["operations"]] == [
        ("test.boom", 1, 0, 1),
        ("test.ok", 3, 3, 0),
    ]


def test_operation_and_campaign_narrow_the_stats(recorded):
    by_operation = json.loads(_txstats("--json", "--operation", "test.ok"))["operations"]
    by_campaign = json.loads(_txstats("--json", "--campaign", str(recorded)))["operations"]

    assert [(op["operation"], op["total"]) for op in by_operation] == [("test.ok", 3)]
    assert [(op["operation"], op["total"]) for op in by_campaign] == [("test.ok", 1)]


def test_nothing_recorded_is_said_in_one_line(recorded):
    assert _txstats("--operation", "nothing.here", "--hours", "1.5") == (
        "No transactions of nothing.here recorded in the last 1.5 hours.\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--hours", "0"), "Error: argument --hours: must be a positive number of hours; got '0'"),
        (("--hours", "soon"), "Error: argument --hours: must be a number of hours; got 'soon'"),
        (("--campaign", "7"), "Error: argument --campaign: '7' is not a campaign id (a UUID)"),
    ],
)
def test_bad_input_is_one_line(args, message):
    with pytest.raises(CommandError) as error:
        _txstats(*args)

    assert str(error.value) == message
