from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection

from campaigns.models import Campaign, CampaignJob, CampaignStateEvent, DnsResult, GeneratedDomain
from tests.campaigns.commands.helpers import create, run, run_failing, run_workers
from tests.conftest import our_idle_in_transaction

pytestmark = pytest.mark.django_db(transaction=True)  # the worker's threads must see the campaigns


def _started(name: str) -> Campaign:
    return create("--prefix-length", "3", "--start", "--batch-size", "1", name=name, count=2)


def _sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        assert cursor.rowcount == 1, statement


@pytest.fixture
def campaigns(root) -> dict[str, Campaign]:
    """Six completed generation campaigns (2 domains, 2 jobs, 4 events each) and a queued one."""
    made = {name: _started(name) for name in ("status", "gap", "version", "rows", "done")}
    run_workers()
    made["lease"] = create("--prefix-length", "3", "--start", name="lease")  # queued, never picked up
    found = {name: Campaign.objects.get(pk=c.pk) for name, c in made.items()}
    assert {name: c.status for name, c in found.items()} == {**{n: "completed" for n in made}, "lease": "queued"}
    return found


def test_a_consistent_database_is_ok(campaigns):
    assert run("check_consistency").out == "ok\n"
    assert json.loads(run("check_consistency", "--json").out) == {"ok": True, "violations": []}


def test_every_violation_is_listed_and_the_exit_is_non_zero(campaigns):
    c = {name: campaign.pk for name, campaign in campaigns.items()}
    _sql(f"UPDATE {Campaign._meta.db_table} SET status = 'paused' WHERE id = %s", [c["status"]])
    _sql(f"UPDATE {CampaignStateEvent._meta.db_table} SET sequence = 6 WHERE campaign_id = %s AND sequence = 4", [c["gap"]])
    _sql(f"UPDATE {Campaign._meta.db_table} SET version = 2 WHERE id = %s", [c["version"]])
    _sql(
        f"DELETE FROM {GeneratedDomain._meta.db_table} WHERE id = (SELECT min(id) FROM {GeneratedDomain._meta.db_table}"
        " WHERE campaign_id = %s)",
        [c["rows"]],
    )
    job = CampaignJob.objects.get(campaign_id=c["lease"])
    _sql(
        f"UPDATE {CampaignJob._meta.db_table} SET status = 'running', lease_token = gen_random_uuid(),"
        " lease_expires_at = now() + interval '1 minute', locked_by = '' WHERE id = %s",
        [job.pk],
    )
    _sql(f"UPDATE {CampaignJob._meta.db_table} SET status = 'queued' WHERE campaign_id = %s AND batch_number = 1", [c["done"]])

    error, output = run_failing("check_consistency")

    expected = [
        f"campaign {c['status']}: status is 'paused' but its last state event (#4) says 'completed'",
        f"campaign {c['gap']}: state event sequences are not contiguous from 1 (4 events, numbered up to 6; missing 4, 5)",
        f"campaign {c['version']}: version is 2 but it has 4 state events (each one bumps the version)",
        f"campaign {c['rows']}: processed_items is 2 but it has 1 generated domains",
        f"campaign {c['lease']}: job {job.pk} (batch 0) is running without a lease (no worker)",
        f"campaign {c['done']}: is completed but has 1 queued and 0 running jobs",
    ]
    assert output.out.splitlines() == expected
    assert str(error) == "6 consistency violations found."
    assert error.returncode == 1

    json_error, json_output = run_failing("check_consistency", "--json")
    assert json.loads(json_output.out) == {"ok": False, "violations": expected}
    assert str(json_error) == "6 consistency violations found."
    assert our_idle_in_transaction() == []


@pytest.mark.django_db  # inside the test's transaction: the checks read within it
def test_the_checks_also_run_inside_a_callers_transaction(root):
    pending = create(name="pending")
    queued = create("--start", name="queued")
    assert run("check_consistency").out == "ok\n"

    _sql(f"UPDATE {Campaign._meta.db_table} SET status = 'running' WHERE id = %s", [queued.pk])

    error, output = run_failing("check_consistency")
    assert output.out == f"campaign {queued.pk}: status is 'running' but its last state event (#2) says 'queued'\n"
    assert str(error) == "1 consistency violation found."
    assert Campaign.objects.get(pk=pending.pk).status == "pending"


@pytest.mark.django_db
def test_rows_that_outlive_their_campaign_are_reported(root):
    # Bulk rows have no foreign-key constraint (a look-up per row written); the check stands in for it.
    kept = create(name="kept")
    gone, also_gone = sorted(str(uuid.uuid4()) for _ in range(2))
    GeneratedDomain.objects.bulk_create([GeneratedDomain(campaign_id=gone, offset_index=i, domain_name=f"n{i}.test") for i in range(2)])
    GeneratedDomain.objects.create(campaign_id=kept.pk, offset_index=0, domain_name="n0.test")
    DnsResult.objects.create(campaign_id=also_gone, domain_name="n0.test", batch_number=0, status="resolved")

    error, output = run_failing("check_consistency")

    assert output.out.splitlines() == [
        f"campaign {kept.pk}: processed_items is 0 but it has 1 generated domains",
        f"campaign {gone}: does not exist, but 2 generated domains reference it",
        f"campaign {also_gone}: does not exist, but 1 DNS results reference it",
    ]
    assert str(error) == "3 consistency violations found."
