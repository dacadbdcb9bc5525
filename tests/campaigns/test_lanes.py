"""A worker's lanes: the next job is claimed and fetched while the previous one writes its results,
at most one job per lane writes at a time, with several lanes the first keeps generation moving,
and one HTTP batch of a campaign at a time hands out sites in a worker."""
from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from django.db import connection

from campaigns.idle_lanes import IdleLanes
from campaigns.models import Campaign, CampaignJob, CampaignType
from campaigns.services import engine
from campaigns.services.campaigns import campaign_create
from campaigns.services.feed import PRIORITY
from campaigns.services.jobs import jobs_claim
from campaigns.outage import Outage
from campaigns.workers import Engine, LeaseKeeper, WorkerStats, run_job
from tests.campaigns.conftest import assert_pipeline_exact, run_engine
from tests.factories import UserFactory
from tests.support.engine import run_jobs_here
from tests.support.waits import raw_connection, wait_for, waiting_on_a_lock

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_lane_claims_its_next_job_while_the_previous_one_writes(make_world):
    owner = UserFactory()
    world = make_world(count=30, batch_size=30, resolve_every=3)
    gen = world.generated(owner)
    blocker = raw_connection()
    blocker.execute("BEGIN")
    blocker.execute("LOCK TABLE campaigns_dnsresult IN SHARE MODE")  # every DNS batch's write waits
    dns = campaign_create(actor=owner, name="dns", campaign_type="dns_validation", source_campaign_id=gen.pk,
                          params={"personas": ["stream-dns"], "batch_size": 10}, start=True).campaign
    worker = threading.Thread(target=run_engine, kwargs={"lanes": 1})
    worker.start()
    try:
        wait_for(lambda: waiting_on_a_lock("campaigns_dnsresult"), what="the first batch's write to wait")
        # One lane: the first job is stuck in its write, yet the second is claimed and resolved...
        wait_for(lambda: CampaignJob.objects.filter(campaign=dns, status="running").count() == 2,
                 what="a second job claimed while the first writes")
        # ...and its write waits for the first's to end before a third is claimed.
        threading.Event().wait(0.5)
        assert CampaignJob.objects.filter(campaign=dns, status="running").count() == 2
        assert CampaignJob.objects.filter(campaign=dns, status="queued").count() == 1
    finally:
        blocker.execute("COMMIT")
        blocker.close()
        worker.join(timeout=60)
        connection.close()
    after = Campaign.objects.get(pk=dns.pk)
    assert (after.status, after.processed_items, after.successful_items) == ("completed", 30, len(world.resolved))
    assert after.dns_results.count() == 30


def test_a_preferred_priority_is_claimed_first_and_the_rest_when_none_is_due(make_world):
    world = make_world(count=10, batch_size=5)
    gen, dns, _ = world.pipeline(UserFactory(), dns_batch=2)
    engine.campaigns_activate(worker_id="here")
    first = jobs_claim(worker_id="here")
    assert [job.campaign_id for job in first] == [gen.pk]
    run_job(first[0], worker_id="here")  # queues DNS jobs over its 5 names, and generation's next batch

    # Later phases first by default; with the preference, the generation batch before older DNS jobs;
    # and with no generation batch due, the preference falls back to the rest.
    assert [job.campaign_id for job in jobs_claim(worker_id="here")] == [dns.pk]
    preferred = jobs_claim(worker_id="here", prefer_priority=PRIORITY[CampaignType.DOMAIN_GENERATION])
    assert [(job.campaign_id, job.batch_number) for job in preferred] == [(gen.pk, 1)]
    fallback = jobs_claim(worker_id="here", prefer_priority=PRIORITY[CampaignType.DOMAIN_GENERATION])
    assert [job.campaign_id for job in fallback] == [dns.pk]


def test_a_claim_leaves_the_jobs_of_skipped_campaigns_to_other_workers(make_world):
    owner = UserFactory()
    world = make_world(count=10, batch_size=5)
    gen, dns, _ = world.pipeline(owner, dns_batch=2)
    engine.campaigns_activate(worker_id="here")
    run_job(jobs_claim(worker_id="here")[0], worker_id="here")  # DNS jobs queued, and generation's next batch
    skipped = jobs_claim(worker_id="here", skip=[dns.pk])
    assert [job.campaign_id for job in skipped] == [gen.pk]
    assert jobs_claim(worker_id="here", skip=[dns.pk, gen.pk]) == []
    assert [job.campaign_id for job in jobs_claim(worker_id="here", skip=[gen.pk])] == [dns.pk]


def test_a_worker_hands_out_the_sites_of_one_http_batch_of_a_campaign_at_a_time(make_world, settings):
    settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS = True
    owner = UserFactory()
    # Every page takes 0.2 s: the first batch's 6 sites on 4 fetchers (its own 2, one lane's loan of
    # 2) are all handed out only after its first pages arrive.
    world = make_world(count=12, batch_size=12, resolve_every=1, http_delay_s=0.2)
    gen = world.generated(owner)
    dns = campaign_create(actor=owner, name="dns", campaign_type="dns_validation", source_campaign_id=gen.pk,
                          params={"personas": ["stream-dns"], "batch_size": 12}, start=True).campaign
    run_jobs_here()
    params = {**world.chain_params(dns_batch=12, http_batch=6)["http_keyword_validation"], "max_in_flight": 2}
    http = campaign_create(actor=owner, name="http", campaign_type="http_keyword_validation",
                           source_campaign_id=dns.pk, params=params, start=True).campaign
    worker = threading.Thread(target=run_engine, kwargs={"lanes": 2})
    worker.start()
    try:
        wait_for(lambda: CampaignJob.objects.filter(campaign=http, status="running").exists(), what="a first claim")
        threading.Event().wait(0.1)
        # The other lane found the second batch queued and left it: it lends to the first instead.
        assert sorted(CampaignJob.objects.filter(campaign=http).values_list("status", flat=True)) == ["queued", "running"]
    finally:
        worker.join(timeout=60)
        connection.close()
    after = Campaign.objects.get(pk=http.pk)
    assert (after.status, after.processed_items, after.successful_items) == ("completed", 12, len(world.pages))
    assert sorted(after.http_results.values_list("domain_name", flat=True)) == sorted(world.names)


def test_with_two_lanes_generation_runs_on_while_the_other_lane_resolves(make_world, settings):
    settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS = True
    # Every DNS batch takes 1.5 s; generation's four batches take milliseconds each. Claimed
    # after the later phases' jobs, each generation batch would wait for a DNS batch to end.
    world = make_world(count=20, batch_size=5, dns_delay_s=1.5)
    phases = world.pipeline(UserFactory(), dns_batch=5, http_batch=5)
    run_engine(lanes=2, worker_id="two-lanes")  # its own name: a job any other worker ran shows as such
    assert_pipeline_exact(world, phases)
    gen, dns, http = (Campaign.objects.get(pk=p.pk) for p in phases)
    first_dns_batch = CampaignJob.objects.filter(campaign=dns).order_by("finished_at").first()
    # On failure, when each phase started and every job in the order it finished: which batch
    # waited, which worker ran it (one from outside this test?), and whether it was retried.
    started = [f"{c.campaign_type} started at {(c.started_at - gen.started_at).total_seconds():.3f} s" for c in (dns, http)]
    jobs = CampaignJob.objects.filter(campaign__in=phases).order_by("finished_at").values_list(
        "campaign__campaign_type", "batch_number", "locked_by", "attempts", "finished_at", "last_error")
    assert gen.finished_at < first_dns_batch.finished_at, "; ".join(started + [
        f"{kind} {batch} by {worker} (attempt {attempts}) at {(finished - gen.started_at).total_seconds():.3f} s {error}"
        for kind, batch, worker, attempts, finished, error in jobs])


def test_a_wake_up_while_no_lane_is_idle_is_kept_for_the_next_lane_to_go_idle():
    # A lane's claim can find nothing just before a job commits, and the notice then arrives
    # before the lane sleeps: the next sleep must end at once, not at the next poll.
    lanes = IdleLanes(stopping=threading.Event(), idle_sleep=1.0)

    async def sleeps() -> tuple[float, bool]:
        loop = asyncio.get_running_loop()
        lanes.ring()  # nobody idle
        started = loop.time()
        await asyncio.wait_for(lanes.wait(), 5.0)
        kept = loop.time() - started
        try:
            await asyncio.wait_for(lanes.wait(), 0.2)  # the wake-up was used once
        except TimeoutError:
            return kept, True
        return kept, False

    kept, next_sleep_waited = asyncio.run(sleeps())
    assert kept < 0.05
    assert next_sleep_waited


def test_a_wake_up_wakes_the_lane_idle_longest_and_only_it():
    lanes = IdleLanes(stopping=threading.Event(), idle_sleep=1.0)

    async def woken() -> tuple[list[int], list[int]]:
        order: list[int] = []

        async def lane(number: int) -> None:
            await lanes.wait()
            order.append(number)

        tasks = [asyncio.create_task(lane(n)) for n in range(3)]
        await asyncio.sleep(0.01)  # all three idle, lane 0 the longest
        lanes.ring()
        await asyncio.sleep(0.05)
        first = list(order)
        lanes.ring_all()
        await asyncio.wait_for(asyncio.gather(*tasks), 1.0)
        return first, order

    first, everyone = asyncio.run(woken())
    assert first == [0]
    assert sorted(everyone) == [0, 1, 2]


def test_idle_lanes_look_for_work_once_per_idle_sleep_per_worker_and_stop_together(monkeypatch):
    # Each idle lane used to poll on its own: a worker of 8 lanes made 8 claims a second that
    # found nothing, most of them through an HTTP phase. Now the poll wakes one lane at a time.
    claims = []

    def counted(**kwargs):
        claims.append(kwargs["worker_id"])
        return jobs_claim(**kwargs)

    monkeypatch.setattr("campaigns.workers.jobs_claim", counted)
    outage = Outage(logging.getLogger("domainflow.worker"))
    stopping = threading.Event()
    lanes = Engine(worker_id="poll", lanes=6, keeper=LeaseKeeper(lease_s=30, outage=outage), outage=outage,
                   stats=WorkerStats(), stopping=stopping, idle_sleep=0.1)
    worker = threading.Thread(target=lanes.run)
    worker.start()
    threading.Event().wait(1.5)
    stopping.set()
    asked_to_stop = time.monotonic()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.monotonic() - asked_to_stop < 1.0  # every idle lane woke to stop, not one per poll
    # Six first looks, then one per 0.1 s plus a claim's round trip, which a busy machine stretches;
    # six lanes each backing off to 0.1 s made about 90.
    assert 6 + 5 <= len(claims) <= 6 + 15 + 3
