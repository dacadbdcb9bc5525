"""Streaming pipelines: generation → DNS → HTTP fed batch by batch, against real servers on 127.0.0.1."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from campaigns import generation
from campaigns.models import (
    DNS_BATCH_SIZE, Campaign, CampaignJob, CampaignStateEvent, DnsPersona, DnsResult, DomainGenerationParams,
    GeneratedDomain, HttpResult,
)
from campaigns.services import engine
from campaigns.services.campaigns import campaign_create
from campaigns.services.errors import CampaignError, InvalidCampaignParams
from campaigns.services.jobs import jobs_claim
from campaigns.services.phases.batch import CampaignStopped
from campaigns.services.transitions import campaign_transition
from campaigns.workers import run_job
from tests.campaigns.commands.helpers import run_failing, written_rows
from tests.campaigns.conftest import assert_pipeline_exact, run_engine
from tests.factories import UserFactory
from tests.support.engine import run_jobs_here

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = "stream-worker"


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS = True
    settings.DOMAINFLOW_RETRY_BACKOFF_S = 0.01
    settings.DOMAINFLOW_RETRY_BACKOFF_MAX_S = 0.02


def fresh(campaign: Campaign) -> Campaign:
    return Campaign.objects.get(pk=campaign.pk)


def claim_until_idle() -> list:
    """Run every claimable job here, one claim at a time; returns the jobs run."""
    ran = []
    while True:
        engine.campaigns_activate(worker_id=WORKER)
        claimed = jobs_claim(worker_id=WORKER, limit=1)
        if not claimed:
            return ran
        run_job(claimed[0], worker_id=WORKER)
        ran.append(claimed[0])


def last_event(campaign: Campaign) -> CampaignStateEvent:
    return CampaignStateEvent.objects.filter(campaign=campaign).latest("sequence")


def test_http_results_are_written_while_generation_still_runs(make_world):
    world = make_world(count=40, batch_size=4)
    gen, dns, http = world.pipeline(UserFactory(), dns_batch=4, http_batch=2)
    assert [fresh(c).status for c in (gen, dns, http)] == ["queued", "queued", "queued"]  # one start, whole pipeline

    run_jobs_here(until=HttpResult.objects.exists, worker_id=WORKER, limit=1)

    # Later phases are claimed first: one generation batch, its DNS batch, then its first HTTP batch.
    gen_now, dns_now, http_now = fresh(gen), fresh(dns), fresh(http)
    assert (gen_now.status, gen_now.processed_items, gen_now.total_items) == ("running", 4, 40)
    assert (dns_now.status, dns_now.total_items, dns_now.processed_items) == ("running", 4, 4)
    assert (http_now.status, http_now.total_items, http_now.processed_items) == ("running", 2, 2)
    assert GeneratedDomain.objects.count() == 4
    assert not DnsResult.objects.exclude(domain_name__in=world.names[:4]).exists()

    run_jobs_here(worker_id=WORKER)
    assert_pipeline_exact(world, [gen, dns, http])


def test_pausing_dns_leaves_generation_and_http_running_and_resume_finishes(make_world):
    owner = UserFactory()
    world = make_world(count=30, batch_size=5)
    gen, dns, http = world.pipeline(owner, dns_batch=5, http_batch=2)
    run_jobs_here(until=HttpResult.objects.exists, worker_id=WORKER, limit=1)

    campaign_transition(campaign_id=dns.pk, transition="pause", actor=owner)
    dns_rows = DnsResult.objects.count()
    ran = claim_until_idle()

    assert ran and dns.pk not in {job.campaign_id for job in ran}
    assert {job.campaign_id for job in ran} == {gen.pk, http.pk}
    assert (fresh(gen).status, fresh(gen).processed_items) == ("completed", 30)
    assert fresh(dns).status == "paused"
    assert DnsResult.objects.count() == dns_rows
    assert dns.jobs.filter(status="queued").count() == 5  # the five batches generated since the pause
    # HTTP drained what it was fed and waits for more: its source is paused, not ended.
    assert (fresh(http).status, fresh(http).processed_items) == ("running", 3)
    assert not http.jobs.exclude(status="succeeded").exists()

    campaign_transition(campaign_id=dns.pk, transition="resume", actor=owner)
    run_jobs_here(worker_id=WORKER)
    assert_pipeline_exact(world, [gen, dns, http])


def test_cancelling_generation_cancels_the_later_phases_and_their_batches(make_world):
    owner = UserFactory()
    world = make_world(count=30, batch_size=5)
    gen, dns, http = world.pipeline(owner, dns_batch=5, http_batch=2)
    run_jobs_here(until=HttpResult.objects.exists, worker_id=WORKER, limit=1)
    while True:  # run until a DNS batch is claimed: it is in flight when the cancel lands
        engine.campaigns_activate(worker_id=WORKER)
        (job,) = jobs_claim(worker_id=WORKER, limit=1)
        if job.campaign_id == dns.pk:
            break
        run_job(job, worker_id=WORKER)
    before = (GeneratedDomain.objects.count(), DnsResult.objects.count(), HttpResult.objects.count())

    campaign_transition(campaign_id=gen.pk, transition="cancel", actor=owner)
    with pytest.raises(CampaignStopped):
        run_job(job, worker_id=WORKER)
    engine.job_settle_stopped(job=job)

    assert [fresh(c).status for c in (gen, dns, http)] == ["cancelled"] * 3
    assert last_event(dns).reason == f"its source phase “{gen.name}” was cancelled"
    assert last_event(http).reason == f"its source phase “{gen.name}” was cancelled"
    assert gen.jobs.filter(status="cancelled").count() == 1  # the next batch, queued
    assert CampaignJob.objects.get(pk=job.id).status == "cancelled"
    assert not CampaignJob.objects.filter(status__in=["queued", "running"]).exists()
    assert jobs_claim(worker_id=WORKER, limit=10) == []
    assert (GeneratedDomain.objects.count(), DnsResult.objects.count(), HttpResult.objects.count()) == before


def test_a_failed_dns_phase_ends_http_with_what_it_got_and_retry_completes_everything(make_world, settings):
    settings.DOMAINFLOW_JOB_MAX_ATTEMPTS = 2
    owner = UserFactory()
    world = make_world(count=30, batch_size=5)
    gen, dns, http = world.pipeline(owner, dns_batch=5, http_batch=2)
    run_jobs_here(until=HttpResult.objects.exists, worker_id=WORKER, limit=1)
    persona = DnsPersona.objects.get(name="stream-dns")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM campaigns_dnspersona WHERE id = %s", [persona.pk])

    run_engine()

    assert (fresh(gen).status, fresh(gen).processed_items) == ("completed", 30)
    first = dns.jobs.filter(status="failed").order_by("batch_number").first()
    assert first.attempts == 2
    assert first.last_error == (
        f"CampaignError: the DNS persona with id {persona.pk} that this campaign uses was deleted;"
        " create a campaign with an existing one"
    )
    dns_now = fresh(dns)
    assert (dns_now.status, dns_now.error_message) == (
        "failed", f"batch {first.batch_number} failed after 2 attempts: {first.last_error}"
    )
    assert dns.jobs.filter(status="failed").count() == 5  # every batch after the first
    http_now = fresh(http)
    assert (http_now.status, http_now.processed_items, HttpResult.objects.count()) == ("completed", 3, 3)
    assert last_event(http).reason == f"its source phase “{dns.name}” failed: completed with the 3 items it was fed"

    persona.save(force_insert=True)  # the same id again
    campaign_transition(campaign_id=dns.pk, transition="retry", actor=owner)
    assert fresh(http).status == "queued"
    assert last_event(http).reason == f"its source phase “{dns.name}” was retried"

    run_engine()
    assert_pipeline_exact(world, [gen, dns, http])


def test_a_dns_phase_over_a_completed_generation_resolves_every_name_once(make_world):
    owner = UserFactory()
    world = make_world(count=23, batch_size=5)
    gen = world.generated(owner)

    dns = campaign_create(actor=owner, name="dns", campaign_type="dns_validation", source_campaign_id=gen.pk,
                          params={"personas": ["stream-dns"], "batch_size": 3}, start=True).campaign
    assert fresh(dns).total_items == 23
    assert dns.jobs.count() == 9  # 5, 5, 5, 5 and 3 names in threes: 2 + 2 + 2 + 2 + 1
    run_jobs_here(worker_id=WORKER)

    rows = list(DnsResult.objects.filter(campaign=dns).values_list("domain_name", flat=True))
    assert sorted(rows) == sorted(world.names)
    done = fresh(dns)
    assert (done.status, done.processed_items, done.successful_items) == ("completed", 23, len(world.resolved))


@pytest.mark.parametrize("source_status", ["pending", "cancelled"])
def test_a_dns_phase_cannot_start_over_a_pending_or_cancelled_source(make_world, source_status):
    owner = UserFactory()
    world = make_world(count=5, batch_size=5)
    gen = campaign_create(actor=owner, name="gen", campaign_type="domain_generation", params=world.generation_params).campaign
    if source_status == "cancelled":
        campaign_transition(campaign_id=gen.pk, transition="cancel", actor=owner)
    dns = campaign_create(actor=owner, name="dns", campaign_type="dns_validation", source_campaign_id=gen.pk,
                          params={"personas": ["stream-dns"]}).campaign

    with pytest.raises(CampaignError) as info:
        campaign_transition(campaign_id=dns.pk, transition="start", actor=owner)

    assert str(info.value) == (
        f"Cannot start “dns”: its source phase “gen” is {source_status}; start the source first"
        " (a pipeline starts from its first phase)."
    )
    assert (fresh(dns).status, dns.jobs.count()) == ("pending", 0)


HUGE = {"pattern": "prefix", "prefix_length": 7, "charset": "abcdefghijklmnopqrstuvwxyz0123456789",
        "constant": "x", "tlds": ["com"], "batch_size": 50}


@pytest.mark.parametrize("count", [generation.MAX_COUNT + 1, 2**63, 2**64])
def test_a_count_above_the_maximum_is_refused_naming_the_field(count):
    owner = UserFactory()
    with pytest.raises(InvalidCampaignParams) as info:
        campaign_create(actor=owner, name="huge", campaign_type="domain_generation", params={**HUGE, "count": count}, start=True)

    assert info.value.errors == {"count": f"must be at most 1,000,000,000 (the largest campaign); got {count:,}"}
    assert str(info.value) == f"count: must be at most 1,000,000,000 (the largest campaign); got {count:,}"
    assert written_rows() == {"campaigns": 0, "params": 0, "events": 0, "audit": 0, "jobs": 0}


def test_create_campaign_refuses_a_trillion_in_one_line():
    get_user_model().objects.create_superuser("root", "root@example.com", password=None)
    error, output = run_failing(
        "create_campaign", "--name", "huge", "--type", "domain_generation", "--pattern", "prefix", "--prefix-length", "7",
        "--charset", HUGE["charset"], "--constant", "x", "--tld", "com", "--count", "1000000000000",
    )
    assert str(error) == "--count: must be at most 1,000,000,000 (the largest campaign); got 1,000,000,000,000"
    assert output.out == ""
    assert written_rows()["campaigns"] == 0


def test_starting_the_largest_campaign_creates_one_job_at_a_time():
    owner = UserFactory()
    gen = campaign_create(actor=owner, name="largest", campaign_type="domain_generation",
                          params={**HUGE, "count": generation.MAX_COUNT}, start=True).campaign

    assert fresh(gen).total_items == generation.MAX_COUNT
    assert CampaignJob.objects.count() == 1

    engine.campaigns_activate(worker_id=WORKER)
    (job,) = jobs_claim(worker_id=WORKER, limit=1)
    run_job(job, worker_id=WORKER)

    assert list(CampaignJob.objects.order_by("batch_number").values_list("batch_number", "status")) == [
        (0, "succeeded"), (1, "queued")
    ]
    assert (fresh(gen).processed_items, GeneratedDomain.objects.count()) == (50, 50)


def test_by_default_a_generation_batch_feeds_dns_jobs_of_exactly_the_dns_batch_size(make_world):
    """The default sizes line up: a generation batch of the default size is split into DNS jobs of
    exactly the default DNS batch size, none smaller (docs/DECISIONS.md, "Batch sizes")."""
    make_world(count=1, batch_size=1)  # the DNS persona
    batch = DomainGenerationParams._meta.get_field("batch_size").default
    params = {"pattern": "prefix", "prefix_length": 6, "charset": "0123456789", "constant": "dflt",
              "tlds": ["df.test"], "count": 2 * batch}
    outcome = campaign_create(actor=UserFactory(), name="defaults", campaign_type="domain_generation", params=params,
                              chain_next=True, chain_params={"dns_validation": {"personas": ["stream-dns"]}}, start=True)
    dns = outcome.phases[0]
    engine.campaigns_activate(worker_id=WORKER)
    (first,) = jobs_claim(worker_id=WORKER, limit=1)
    assert first.campaign_id == outcome.campaign.pk
    run_job(first, worker_id=WORKER)

    fed = list(CampaignJob.objects.filter(campaign=dns).order_by("range_lo").values_list("range_lo", "range_hi"))
    assert [hi - lo for lo, hi in fed] == [DNS_BATCH_SIZE] * (batch // DNS_BATCH_SIZE)
    assert GeneratedDomain.objects.filter(campaign=outcome.campaign, offset_index__gte=fed[0][0],
                                          offset_index__lt=fed[-1][1]).count() == batch
