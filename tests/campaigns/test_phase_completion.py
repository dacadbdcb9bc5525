"""A phase's last two batches committing at once: the second completes the phase, with no sweep.

batch_close asks whether the phase is done only once its counters UPDATE holds the campaign row,
so the second of two last batches waits there for the first's commit and then sees it. The overlap
is forced, not hoped for: the test holds the campaign row itself (FOR NO KEY UPDATE, the strength
of that UPDATE) until both batches, their results and job rows written, wait on it, then lets
them go; the one that queued first commits first. Nothing here runs engine.phases_finish_idle.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest
from django.db import connection

from campaigns import dns
from campaigns.http import fetch_batch
from campaigns.models import Campaign, CampaignJob, DnsResult, HttpResult
from campaigns.services import engine
from campaigns.services.campaigns import campaign_create
from campaigns.services.jobs import jobs_claim
from campaigns.services.phases.dns import dns_load, dns_record_batch
from campaigns.services.phases.http import http_load, http_record_batch
from tests.conftest import our_idle_in_transaction
from tests.factories import UserFactory
from tests.support.engine import claim_http_jobs, run_jobs_here
from tests.support.threads import run_in_threads
from tests.support.waits import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = "phase-worker"
# The text of batch_close's counters UPDATE, as pg_stat_activity shows it.
COUNTERS_UPDATE = "%processed_items = processed_items + %"


@pytest.fixture(autouse=True)
def private_targets(settings):
    settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS = True


def fresh(campaign: Campaign) -> Campaign:
    return Campaign.objects.get(pk=campaign.pk)


def batches_waiting_to_count() -> int:
    """Sessions of this database whose counters UPDATE waits for a lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE %s",
            [COUNTERS_UPDATE],
        )
        return cursor.fetchone()[0]


def record_both_at_once(campaign: Campaign, first: Callable[[], object], second: Callable[[], object], *,
                        while_both_wait: Callable[[], None]) -> None:
    """Run two batch records, each in its own thread and connection, both inside their transactions
    at the campaign row before either commits; `first` takes the row first, `second` after its commit."""
    holder = psycopg.connect(**connection.get_connection_params())
    holder.execute(f"SELECT 1 FROM {Campaign._meta.db_table} WHERE id = %s FOR NO KEY UPDATE", [campaign.pk])
    first_waits = threading.Event()

    def second_after_first() -> None:
        first_waits.wait(timeout=30)
        second()

    def release() -> None:
        try:
            wait_for(lambda: batches_waiting_to_count() == 1, what="the first batch waits on the campaign row")
            first_waits.set()
            wait_for(lambda: batches_waiting_to_count() == 2, what="both batches wait on the campaign row")
            while_both_wait()
        finally:
            first_waits.set()
            holder.commit()  # the batches go on whatever happened above, so no thread is left waiting

    try:
        run_in_threads([first, second_after_first, release], timeout_s=60)
    finally:
        holder.close()


def test_two_last_http_batches_committing_together_complete_the_phase_without_the_sweep(make_world):
    world = make_world(count=4, batch_size=4, resolve_every=1)
    _, dns_phase, http_phase = world.pipeline(UserFactory(), dns_batch=4, http_batch=2)
    # Everything before the HTTP phase runs here; its two batches wait queued until claimed.
    jobs = claim_http_jobs(dns_phase, http_phase, worker_id=WORKER)
    assert [job.campaign_id for job in jobs] == [http_phase.pk] * 2
    works = [http_load(job=job) for job in jobs]
    outcomes = [fetch_batch(work.targets, **work.options) for work in works]  # before any transaction, as a worker does

    def record(i: int) -> Callable[[], int]:
        return lambda: http_record_batch(job=jobs[i], worker_id=f"worker-{i}", work=works[i], outcomes=outcomes[i])

    def nothing_committed() -> None:
        assert not HttpResult.objects.filter(campaign_id=http_phase.pk).exists()
        assert CampaignJob.objects.filter(campaign_id=http_phase.pk, status="running").count() == 2

    record_both_at_once(http_phase, record(0), record(1), while_both_wait=nothing_committed)

    after = fresh(http_phase)
    resolved, negatives = len(world.resolved), len(world.resolved) - len(world.pages)
    assert (len(works[0].targets), len(works[1].targets)) == (2, 2)
    assert after.status == "completed"
    counters = (after.total_items, after.processed_items, after.successful_items, after.negative_items,
                after.failed_items)
    assert counters == (resolved, resolved, len(world.pages), negatives, negatives)  # both batches, counted once
    # Completed once, by the batch that committed second.
    assert [e.actor_label for e in after.state_events.filter(transition="complete")] == ["worker-1"]
    assert set(HttpResult.objects.filter(campaign=after).values_list("domain_name", flat=True)) == world.resolved
    assert set(CampaignJob.objects.filter(campaign=after).values_list("status", flat=True)) == {"succeeded"}
    assert our_idle_in_transaction() == []


def test_two_last_dns_batches_committing_together_complete_the_phase_without_the_sweep(make_world):
    world = make_world(count=4, batch_size=4, resolve_every=2)
    owner = UserFactory()
    source = campaign_create(actor=owner, name="source", campaign_type="domain_generation",
                             params=world.generation_params, start=True).campaign
    run_jobs_here(until=lambda: fresh(source).status == "completed", worker_id=WORKER)
    dns_phase = campaign_create(actor=owner, name="dns", campaign_type="dns_validation", source_campaign_id=source.pk,
                                params={"personas": ["stream-dns"], "batch_size": 2}, start=True).campaign
    engine.campaigns_activate(worker_id=WORKER)
    jobs = jobs_claim(worker_id=WORKER, limit=10)
    assert [job.campaign_id for job in jobs] == [dns_phase.pk] * 2
    outcomes = []
    for job in jobs:
        work = dns_load(job=job)
        outcomes.append(dns.resolve_batch(work.domains, personas=work.personas))

    def record(i: int) -> Callable[[], int]:
        return lambda: dns_record_batch(job=jobs[i], worker_id=f"worker-{i}", outcomes=outcomes[i])

    def nothing_committed() -> None:
        assert not DnsResult.objects.filter(campaign_id=dns_phase.pk).exists()
        assert CampaignJob.objects.filter(campaign_id=dns_phase.pk, status="running").count() == 2

    record_both_at_once(dns_phase, record(0), record(1), while_both_wait=nothing_committed)

    after = fresh(dns_phase)
    count, resolved = len(world.names), len(world.resolved)
    assert (len(outcomes[0]), len(outcomes[1])) == (2, 2)
    assert after.status == "completed"
    counters = (after.total_items, after.processed_items, after.successful_items, after.negative_items,
                after.failed_items)
    assert counters == (count, count, resolved, count - resolved, count - resolved)  # both batches, counted once
    # Completed once, by the batch that committed second.
    assert [e.actor_label for e in after.state_events.filter(transition="complete")] == ["worker-1"]
    assert {(r.domain_name, r.status == "resolved") for r in DnsResult.objects.filter(campaign=after)} == {
        (name, name in world.resolved) for name in world.names}
    assert our_idle_in_transaction() == []
