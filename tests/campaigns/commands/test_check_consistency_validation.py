"""check_consistency on DNS and HTTP campaigns: their counters against their result rows."""
from __future__ import annotations

import json

import pytest
from django.db import connection

from campaigns.models import Campaign, DnsPersona, DnsResult, HttpPersona, HttpResult
from campaigns.services.campaigns import campaign_create
from tests.campaigns.commands.helpers import run, run_failing
from tests.conftest import our_idle_in_transaction
from tests.servers.http_server import Page, html
from tests.support.engine import run_jobs_here

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = "consistency-worker"


@pytest.fixture(autouse=True)
def private_targets(settings):
    settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS = True


def drain() -> None:
    run_jobs_here(worker_id=WORKER)


@pytest.fixture
def phases(root, dns_server, http_server, web_site) -> dict[str, Campaign]:
    """generate → DNS → HTTP, chained and completed; a second DNS campaign of the same source; an unstarted one."""
    for name in ("acons.df.test", "ccons.df.test"):
        dns_server.set(name, a=["127.0.0.1"])
        web_site.add(name, "/", Page(body=html(name, "<p>hello</p>")))
    dns_server.set("bcons.df.test", rcode="NXDOMAIN")
    DnsPersona.objects.create(name="local", resolvers=[dns_server.address], timeout_s=0.5, retries=0, record_types=["A"])
    HttpPersona.objects.create(name="browser", timeout_s=5)
    generation = campaign_create(
        actor=root,
        name="cons",
        campaign_type="domain_generation",
        params={"pattern": "prefix", "prefix_length": 1, "charset": "abc", "constant": "cons", "tlds": ["df.test"], "count": 3},
        chain_next=True,
        chain_params={
            "dns_validation": {"personas": ["local"], "batch_size": 2},
            "http_keyword_validation": {"persona": "browser", "target_ports": [http_server.port]},
        },
        start=True,
    ).campaign
    drain()
    dns = Campaign.objects.get(source_campaign=generation, campaign_type="dns_validation")
    second = campaign_create(
        actor=root, name="again", campaign_type="dns_validation", params={"personas": ["local"]},
        source_campaign_id=generation.pk, start=True,
    ).campaign
    drain()
    unstarted = campaign_create(
        actor=root, name="later", campaign_type="dns_validation", params={"personas": ["local"]}, source_campaign_id=generation.pk
    ).campaign
    found = {
        "dns": dns,
        "http": Campaign.objects.get(source_campaign=dns),
        "second": second,
        "unstarted": unstarted,
    }
    found = {key: Campaign.objects.get(pk=c.pk) for key, c in found.items()}
    assert [(c.status, c.total_items, c.processed_items) for c in found.values()] == [
        ("completed", 3, 3), ("completed", 2, 2), ("completed", 3, 3), ("pending", 0, 0)
    ]
    return found


def _sql(statement: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def test_completed_validation_campaigns_are_consistent(phases):
    assert run("check_consistency").out == "ok\n"


def test_counters_out_of_step_with_the_result_rows_are_each_reported(phases):
    dns, http, second = phases["dns"].pk, phases["http"].pk, phases["second"].pk
    assert _sql(f"DELETE FROM {DnsResult._meta.db_table} WHERE campaign_id = %s AND domain_name = 'bcons.df.test'", [dns]) == 1
    assert _sql(f"DELETE FROM {HttpResult._meta.db_table} WHERE campaign_id = %s AND domain_name = 'ccons.df.test'", [http]) == 1
    assert _sql(f"UPDATE {Campaign._meta.db_table} SET total_items = 4 WHERE id = %s", [second]) == 1

    error, output = run_failing("check_consistency")

    found = {
        dns: [f"campaign {dns}: processed_items is 3 but it has 2 DNS results"],
        http: [f"campaign {http}: processed_items is 2 but it has 1 HTTP results"],
        second: [f"campaign {second}: is completed but processed 3 of the 4 items it was fed"],
    }
    expected = [message for campaign in sorted(found) for message in found[campaign]]  # by campaign, as every check
    assert output.out.splitlines() == expected
    assert str(error) == "3 consistency violations found."
    assert json.loads(run_failing("check_consistency", "--json")[1].out) == {"ok": False, "violations": expected}
    assert our_idle_in_transaction() == []


def test_a_campaign_that_never_started_needs_no_rows_but_may_not_claim_progress(phases):
    unstarted = phases["unstarted"].pk
    _sql(f"UPDATE {Campaign._meta.db_table} SET total_items = 5 WHERE id = %s", [unstarted])
    assert run("check_consistency").out == "ok\n"  # total_items means nothing before the start

    _sql(f"UPDATE {Campaign._meta.db_table} SET processed_items = 1 WHERE id = %s", [unstarted])

    error, output = run_failing("check_consistency")
    assert output.out == f"campaign {unstarted}: processed_items is 1 but it has 0 DNS results\n"
