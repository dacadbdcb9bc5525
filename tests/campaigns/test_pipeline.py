"""generate → DNS → HTTP, chained, against real DNS and HTTP servers on 127.0.0.1."""
from __future__ import annotations

import os
import signal
import time

import pytest
from django.db import connection

from campaigns.models import (
    Campaign,
    DnsPersona,
    DnsResult,
    HttpPersona,
    HttpResult,
    KeywordRule,
    KeywordSet,
)
from campaigns.services import engine
from campaigns.services.campaigns import campaign_create
from campaigns.services.errors import CampaignError
from campaigns.services.transitions import campaign_transition
from tests.support.engine import run_jobs_here
from tests.factories import UserFactory
from tests.servers.http_server import Page, html
from tests.support.processes import start_worker

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = "pipeline-worker"
DOMAINS = ["ashop.df.test", "bshop.df.test", "cshop.df.test", "dshop.df.test", "eshop.df.test"]


@pytest.fixture(autouse=True)
def private_targets(settings):
    settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS = True
    settings.DOMAINFLOW_RETRY_BACKOFF_S = 0.01


@pytest.fixture
def world(dns_server, http_server, web_site):
    """DNS answers and pages for the five generated names, plus the personas and keywords."""
    dns_server.set("ashop.df.test", a=["127.0.0.1"])
    dns_server.set("bshop.df.test", rcode="NXDOMAIN")
    dns_server.set("cshop.df.test", a=["127.0.0.1"])
    dns_server.set("dshop.df.test", rcode="SERVFAIL")
    dns_server.set("eshop.df.test")  # NODATA
    web_site.add("ashop.df.test", "/", Page(body=html("A shop", "<p>Buy a Widget today, widgets galore.</p>")))
    web_site.add("cshop.df.test", "/", Page(body=html("<script>alert(1)</script>", "<p>nothing to see</p>")))
    DnsPersona.objects.create(name="local", resolvers=[dns_server.address], timeout_s=0.5, retries=1)
    HttpPersona.objects.create(name="browser", user_agent="DomainFlowTest/1.0", timeout_s=5)
    shop = KeywordSet.objects.create(name="shop")
    KeywordRule.objects.create(keyword_set=shop, pattern="widget", kind="string")
    KeywordRule.objects.create(keyword_set=shop, pattern=r"galor\w+", kind="regex")
    return {"dns": dns_server, "http": http_server}


def chain_params(http_port: int) -> dict:
    return {
        "dns_validation": {"personas": ["local"], "batch_size": 2},
        "http_keyword_validation": {"persona": "browser", "keyword_sets": ["shop"], "target_ports": [http_port], "batch_size": 2},
    }


def generation(owner, *, chain_params=None, start=True):
    return campaign_create(
        actor=owner,
        name="shops",
        campaign_type="domain_generation",
        params={"pattern": "prefix", "prefix_length": 1, "charset": "abcde", "constant": "shop", "tlds": ["df.test"], "count": 5, "batch_size": 5},
        chain_next=chain_params is not None,
        chain_params=chain_params,
        start=start,
    ).campaign


def drain() -> None:
    run_jobs_here(worker_id=WORKER)


def test_full_pipeline_is_exact_row_by_row(world):
    owner = UserFactory()
    first = generation(owner, chain_params=chain_params(world["http"].port))
    drain()

    dns_campaign = Campaign.objects.get(source_campaign=first)
    http_campaign = Campaign.objects.get(source_campaign=dns_campaign)
    for campaign in (first, dns_campaign, http_campaign):
        assert Campaign.objects.get(pk=campaign.pk).status == "completed"
    assert (dns_campaign.owner, http_campaign.owner) == (owner, owner)

    dns_rows = {r.domain_name: r for r in DnsResult.objects.filter(campaign=dns_campaign)}
    assert set(dns_rows) == set(DOMAINS)
    assert (dns_rows["ashop.df.test"].status, dns_rows["ashop.df.test"].ips, dns_rows["ashop.df.test"].business_status) == (
        "resolved", ["127.0.0.1"], "valid_dns",
    )
    assert (dns_rows["bshop.df.test"].status, dns_rows["bshop.df.test"].rcode) == ("unresolved", "NXDOMAIN")
    assert dns_rows["cshop.df.test"].status == "resolved"
    assert (dns_rows["dshop.df.test"].status, dns_rows["dshop.df.test"].rcode, dns_rows["dshop.df.test"].attempts) == (
        "error", "SERVFAIL", 4,  # A and AAAA, each tried twice (retries=1)
    )
    assert dns_rows["eshop.df.test"].status == "unresolved"
    dns_after = Campaign.objects.get(pk=dns_campaign.pk)
    assert (dns_after.total_items, dns_after.processed_items, dns_after.successful_items, dns_after.failed_items) == (5, 5, 2, 3)

    http_rows = {r.domain_name: r for r in HttpResult.objects.filter(campaign=http_campaign)}
    assert set(http_rows) == {"ashop.df.test", "cshop.df.test"}  # only what resolved
    lead = http_rows["ashop.df.test"]
    assert (lead.status, lead.business_status, lead.status_code, lead.title) == ("success", "lead_valid", 200, "A shop")
    hits = {h["keyword"]: h["count"] for h in lead.keyword_hits}
    assert hits == {"widget": 2, r"galor\w+": 1}
    plain = http_rows["cshop.df.test"]
    assert (plain.business_status, plain.title, plain.keyword_hits) == ("http_valid_no_keywords", "<script>alert(1)</script>", [])
    http_after = Campaign.objects.get(pk=http_campaign.pk)
    assert (http_after.total_items, http_after.processed_items, http_after.successful_items) == (2, 2, 2)
    seen_hosts = {r.hostname for r in world["http"].requests}
    assert seen_hosts == {"ashop.df.test", "cshop.df.test"}


def test_a_pipeline_exists_whole_from_its_creation(world):
    owner = UserFactory()
    first = generation(owner, chain_params=chain_params(world["http"].port), start=False)
    dns_campaign = Campaign.objects.get(source_campaign=first)
    http_campaign = Campaign.objects.get(source_campaign=dns_campaign)
    assert [c.status for c in (first, dns_campaign, http_campaign)] == ["pending", "pending", "pending"]
    assert (dns_campaign.campaign_type, http_campaign.campaign_type) == ("dns_validation", "http_keyword_validation")
    assert (dns_campaign.name, http_campaign.name) == ("shops → DNS", "shops → HTTP")
    campaign_transition(campaign_id=first.pk, transition="start", actor=owner)
    assert set(Campaign.objects.filter(pk__in=[dns_campaign.pk, http_campaign.pk]).values_list("status", flat=True)) == {"queued"}


def test_cancelling_the_first_phase_cancels_the_pipeline_and_feeds_nothing(world):
    owner = UserFactory()
    first = generation(owner, chain_params=chain_params(world["http"].port))
    campaign_transition(campaign_id=first.pk, transition="cancel", actor=owner)
    drain()
    phases = Campaign.objects.filter(source_campaign__isnull=False)
    assert sorted(phases.values_list("status", flat=True)) == ["cancelled", "cancelled"]
    assert not DnsResult.objects.exists() and not HttpResult.objects.exists()
    assert not phases.filter(jobs__status="queued").exists()


def test_a_paused_first_phase_feeds_nothing_until_resumed(world):
    owner = UserFactory()
    first = generation(owner, chain_params=chain_params(world["http"].port))
    campaign_transition(campaign_id=first.pk, transition="pause", actor=owner)
    drain()
    dns_campaign = Campaign.objects.get(source_campaign=first)
    assert (dns_campaign.status, dns_campaign.total_items) == ("running", 0)  # waiting for input
    campaign_transition(campaign_id=first.pk, transition="resume", actor=owner)
    drain()
    assert set(Campaign.objects.values_list("status", flat=True)) == {"completed"}
    assert DnsResult.objects.count() == 5


def test_a_failed_first_phase_ends_the_pipeline_with_what_it_fed(world):
    owner = UserFactory()
    first = generation(owner, chain_params=chain_params(world["http"].port))
    engine.campaigns_activate(worker_id=WORKER)
    campaign_transition(campaign_id=first.pk, transition="fail", actor=None, reason="operator")
    drain()
    dns_campaign = Campaign.objects.get(source_campaign=first)
    assert (dns_campaign.status, dns_campaign.total_items) == ("completed", 0)
    reason = dns_campaign.state_events.order_by("-sequence").first().reason
    assert reason == "its source phase “shops” failed: completed with the 0 items it was fed"
    assert not DnsResult.objects.exists()


def test_dns_campaign_cannot_start_before_its_source_starts(world):
    owner = UserFactory()
    source = generation(owner, start=False)
    dns = campaign_create(
        actor=owner, name="dns", campaign_type="dns_validation", params={"personas": ["local"]}, source_campaign_id=source.pk
    ).campaign
    with pytest.raises(CampaignError, match="its source phase “shops” is pending; start the source first"):
        campaign_transition(campaign_id=dns.pk, transition="start", actor=owner)
    assert Campaign.objects.get(pk=dns.pk).status == "pending"
    assert dns.jobs.count() == 0


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["dns_validation", "http_keyword_validation"])
def test_worker_killed_during_a_network_phase_leaves_exact_results(world, phase, web_site):
    owner = UserFactory()
    for name in DOMAINS:  # every name resolves slowly and serves slowly, so batches are long
        world["dns"].set(name, a=["127.0.0.1"], delay_s=0.3 if phase == "dns_validation" else 0)
        web_site.add(name, "/", Page(body=html(name, "<p>widget</p>"), delay_s=0.5 if phase != "dns_validation" else 0))
    generation(owner, chain_params=chain_params(world["http"].port))
    target = Campaign.objects.get(campaign_type=phase)
    run_here_all_but(target)

    victim = start_worker("--burst", DOMAINFLOW_ALLOW_PRIVATE_TARGETS="1")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if target.jobs.filter(status="running").exists():
                break
            time.sleep(0.02)
        else:
            pytest.fail("the worker never claimed a batch")
        time.sleep(0.1)  # inside the network part of the batch
        os.kill(victim.pid, signal.SIGKILL)
    finally:
        if victim.poll() is None:
            victim.kill()
        victim.communicate(timeout=10)

    rescuer = start_worker("--burst", DOMAINFLOW_ALLOW_PRIVATE_TARGETS="1")
    out, err = rescuer.communicate(timeout=120)
    assert rescuer.returncode == 0, err
    done = Campaign.objects.get(pk=target.pk)
    assert (done.status, done.total_items, done.processed_items) == ("completed", 5, 5)
    model = DnsResult if phase == "dns_validation" else HttpResult
    rows = model.objects.filter(campaign=target)
    assert sorted(rows.values_list("domain_name", flat=True)) == sorted(DOMAINS)
    assert target.jobs.filter(attempts__gte=2).exists()


def run_here_all_but(target):
    """Run the phases before `target` here, with `target` paused; then leave it to the workers."""
    campaign_transition(campaign_id=target.pk, transition="pause", actor=None)
    run_jobs_here(until=lambda: Campaign.objects.get(pk=target.source_campaign_id).status == "completed", worker_id=WORKER)
    campaign_transition(campaign_id=target.pk, transition="resume", actor=None)
    connection.close()
