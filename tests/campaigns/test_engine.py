"""The job engine under real concurrency: threads, worker processes, SIGKILL, dropped connections."""
from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import generation
from campaigns.dns import DnsOutcome
from campaigns.models import Campaign, CampaignJob, DnsPersona, DomainGenerationConfigState, GeneratedDomain
from campaigns.services import engine
from campaigns.services.campaigns import campaign_create
from campaigns.services.phases.dns import dns_load, dns_record_batch
from campaigns.services.phases.generation import generation_run_batch
from campaigns.services.jobs import LeaseLost, jobs_claim
from campaigns.services.transitions import campaign_transition
from campaigns.workers import LeaseKeeper, run_job
from tests.conftest import our_idle_in_transaction
from tests.factories import UserFactory
from tests.support.processes import start_worker
from tests.support.threads import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = "test-worker"


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.DOMAINFLOW_RETRY_BACKOFF_S = 0.01
    settings.DOMAINFLOW_RETRY_BACKOFF_MAX_S = 0.05


@pytest.fixture
def owner():
    return UserFactory()


def create(owner, *, start=True, **params):
    base = {"pattern": "prefix", "prefix_length": 2, "charset": "abcdefghij", "constant": "x", "tlds": ["com"]}
    base.update(params)
    campaign = campaign_create(actor=owner, name="engine", campaign_type="domain_generation", params=base, start=start).campaign
    if start:
        engine.campaigns_activate(worker_id=WORKER)
    return Campaign.objects.get(pk=campaign.pk)


def expected_names(params: dict, *, start: int, count: int) -> list[str]:
    spec = generation.normalise(**{k: params[k] for k in ("pattern", "prefix_length", "suffix_length", "charset", "constant", "tlds")})
    return generation.generate(spec, start_offset=start, want=count).names


def names_of(campaign) -> list[str]:
    return list(GeneratedDomain.objects.filter(campaign=campaign).order_by("offset_index").values_list("domain_name", flat=True))


def in_threads(n, target):
    run_in_threads([lambda i=i: target(i) for i in range(n)])


def test_thirty_workers_racing_over_a_hundred_jobs_run_each_exactly_once(owner):
    campaign = create(owner, count=100, batch_size=1)
    claimed: list[int] = []
    lock = threading.Lock()

    def work(i):
        while True:
            jobs = jobs_claim(worker_id=f"w{i}", limit=1, lease_s=60)
            if not jobs:
                return
            with lock:
                claimed.extend(job.id for job in jobs)
            for job in jobs:
                run_job(job, worker_id=f"w{i}")

    in_threads(30, work)

    assert len(claimed) == 100 and len(set(claimed)) == 100
    assert Counter(CampaignJob.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"succeeded": 100}
    after = Campaign.objects.get(pk=campaign.pk)
    assert (after.status, after.processed_items, after.total_items) == ("completed", 100, 100)
    params = dict(pattern="prefix", prefix_length=2, suffix_length=0, charset="abcdefghij", constant="x", tlds=["com"])
    assert names_of(campaign) == expected_names(params, start=0, count=100)
    assert our_idle_in_transaction() == []


def test_campaign_of_several_batches_generates_exactly_count_domains(owner):
    campaign = create(owner, count=95, batch_size=10)
    while (jobs := jobs_claim(worker_id=WORKER, limit=3)):
        for job in jobs:
            run_job(job, worker_id=WORKER)
    after = Campaign.objects.get(pk=campaign.pk)
    assert (after.status, after.processed_items, after.successful_items) == ("completed", 95, 95)
    assert len(set(names_of(campaign))) == 95
    assert CampaignJob.objects.filter(campaign=campaign).count() == 10


def test_space_smaller_than_wanted_after_other_campaigns_completes_with_fewer_and_says_so(owner):
    create(owner, count=90, batch_size=50)
    while (jobs := jobs_claim(worker_id=WORKER)):
        run_job(jobs[0], worker_id=WORKER)
    second = create(owner, count=30, batch_size=20)
    while (jobs := jobs_claim(worker_id=WORKER)):
        run_job(jobs[0], worker_id=WORKER)

    after = Campaign.objects.get(pk=second.pk)
    assert (after.status, after.processed_items, after.total_items) == ("completed", 10, 10)
    assert after.state_events.order_by("-sequence").first().reason == (
        "offset space exhausted: generated 10 of 30 requested domains"
    )


def test_worker_that_lost_its_lease_writes_nothing(owner):
    campaign = create(owner, count=5, batch_size=5)
    [job] = jobs_claim(worker_id="slow", lease_s=0.01)
    time.sleep(0.05)
    assert engine.jobs_reap_expired(worker_id=WORKER) == 1
    row = CampaignJob.objects.get(pk=job.id)
    assert (row.status, row.attempts, row.lease_token) == ("queued", 1, None)
    assert row.run_after > row.created_at
    assert "lease expired" in row.last_error

    with pytest.raises(LeaseLost):
        generation_run_batch(job=job, worker_id="slow")
    assert GeneratedDomain.objects.filter(campaign=campaign).count() == 0

    time.sleep(0.1)  # past the backoff
    [again] = jobs_claim(worker_id=WORKER)
    assert (again.id, again.attempts) == (job.id, 2)
    run_job(again, worker_id=WORKER)
    assert Campaign.objects.get(pk=campaign.pk).status == "completed"


def test_job_failing_max_attempts_fails_the_campaign_with_the_reason(owner, settings):
    settings.DOMAINFLOW_JOB_MAX_ATTEMPTS = 2
    campaign = create(owner, count=5, batch_size=5)
    for _ in range(2):
        time.sleep(0.06)
        [job] = jobs_claim(worker_id=WORKER)
        outcome = engine.job_fail_attempt(job=job, worker_id=WORKER, error="RuntimeError: resolver exploded")
    assert outcome == "failed"
    after = Campaign.objects.get(pk=campaign.pk)
    assert after.status == "failed"
    assert after.error_message == "batch 0 failed after 2 attempts: RuntimeError: resolver exploded"

    campaign_transition(campaign_id=campaign.pk, transition="retry", actor=owner)
    engine.campaigns_activate(worker_id=WORKER)
    [job] = jobs_claim(worker_id=WORKER)
    run_job(job, worker_id=WORKER)
    assert Campaign.objects.get(pk=campaign.pk).status == "completed"


def test_pause_racing_batch_completion_pause_wins_and_resume_finishes_exactly(owner):
    params = dict(pattern="prefix", prefix_length=2, suffix_length=0, charset="abcdefghij", constant="x", tlds=["com"])
    for _ in range(6):
        DomainGenerationConfigState.objects.all().delete()
        campaign = create(owner, count=40, batch_size=10)
        [job] = jobs_claim(worker_id=WORKER, limit=2)
        go = threading.Barrier(2, timeout=20)

        def act(i):
            go.wait()
            if i == 0:
                generation_run_batch(job=job, worker_id=WORKER)  # a batch in flight when paused is still written
            else:
                campaign_transition(campaign_id=campaign.pk, transition="pause", actor=owner)

        in_threads(2, act)

        paused = Campaign.objects.get(pk=campaign.pk)
        assert paused.status == "paused"
        assert paused.processed_items == GeneratedDomain.objects.filter(campaign=campaign).count()
        campaign_transition(campaign_id=campaign.pk, transition="resume", actor=owner)
        engine.campaigns_activate(worker_id=WORKER)
        while (more := jobs_claim(worker_id=WORKER)):
            run_job(more[0], worker_id=WORKER)
        done = Campaign.objects.get(pk=campaign.pk)
        assert (done.status, done.processed_items) == ("completed", 40)
        assert names_of(campaign) == expected_names(params, start=0, count=40)
        Campaign.objects.filter(pk=campaign.pk).delete()


def test_same_config_campaigns_share_the_offset_space_without_overlap(owner):
    params = dict(pattern="prefix", prefix_length=2, suffix_length=0, charset="abcdefghij", constant="x", tlds=["com"])
    first = create(owner, count=40, batch_size=5)
    second = create(owner, count=30, batch_size=5)

    def work(i):
        while (jobs := jobs_claim(worker_id=f"w{i}")):
            run_job(jobs[0], worker_id=f"w{i}")

    in_threads(4, work)
    a, b = set(names_of(first)), set(names_of(second))
    assert (len(a), len(b)) == (40, 30)
    assert a.isdisjoint(b)
    assert sorted(a | b) == sorted(expected_names(params, start=0, count=70))

    third = create(owner, count=10, batch_size=10)
    work(0)
    assert names_of(third) == expected_names(params, start=70, count=10)


@pytest.mark.slow
def test_worker_killed_mid_batch_is_redone_by_another_with_exact_results(owner):
    params = dict(pattern="prefix", prefix_length=6, suffix_length=0, charset="abcdefghij", constant="k", tlds=["com"])
    campaign = create(owner, count=300_000, batch_size=100_000, **{k: v for k, v in params.items() if k != "suffix_length"})
    victim = start_worker("--burst")
    try:
        # Wait until the victim is inside a batch transaction, then kill it outright.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND query ILIKE 'COPY%%' "
                )
                if cursor.fetchone()[0]:
                    break
            time.sleep(0.005)
        else:
            pytest.fail("the worker never reached COPY")
        os.kill(victim.pid, signal.SIGKILL)
    finally:
        if victim.poll() is None:
            victim.kill()
        victim.communicate(timeout=10)
    killed = Campaign.objects.get(pk=campaign.pk)
    assert killed.processed_items == GeneratedDomain.objects.filter(campaign=campaign).count()

    rescuer = start_worker("--burst")
    out, err = rescuer.communicate(timeout=240)
    assert rescuer.returncode == 0, err

    done = Campaign.objects.get(pk=campaign.pk)
    assert (done.status, done.processed_items, done.successful_items) == ("completed", 300_000, 300_000)
    assert names_of(campaign) == expected_names(params, start=0, count=300_000)
    assert CampaignJob.objects.filter(campaign=campaign, attempts__gte=2).exists()
    assert our_idle_in_transaction() == []


@pytest.mark.slow
def test_workers_reconnect_after_their_connections_are_terminated(owner):
    params = dict(pattern="prefix", prefix_length=4, suffix_length=0, charset="abcdefghij", constant="t", tlds=["com"])
    campaign = create(owner, count=6000, batch_size=50, **{k: v for k, v in params.items() if k != "suffix_length"})
    workers = [start_worker("--burst", "--concurrency", "2") for _ in range(2)]
    try:
        terminated = 0
        while any(w.poll() is None for w in workers) and terminated < 12:
            time.sleep(0.25)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                )
                terminated += cursor.fetchone()[0]
        for w in workers:
            w.communicate(timeout=240)
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.communicate(timeout=10)
    assert terminated > 0
    assert all(w.returncode == 0 for w in workers)
    done = Campaign.objects.get(pk=campaign.pk)
    assert (done.status, done.processed_items) == ("completed", 6000)
    assert names_of(campaign) == expected_names(params, start=0, count=6000)


def test_a_batch_whose_lease_was_lost_writes_nothing(owner):
    campaign = create(owner, count=6, batch_size=3)
    [job] = jobs_claim(worker_id=WORKER)
    CampaignJob.objects.filter(pk=job.id).update(lease_expires_at=timezone.now())
    assert engine.jobs_reap_expired(worker_id=WORKER) == 1

    with pytest.raises(LeaseLost):
        generation_run_batch(job=job, worker_id=WORKER)
    assert GeneratedDomain.objects.filter(campaign=campaign).count() == 0
    assert Campaign.objects.get(pk=campaign.pk).processed_items == 0


def test_two_last_dns_batches_recorded_at_once_complete_their_phase_exactly_once(owner):
    DnsPersona.objects.create(name="unused", resolvers=["127.0.0.1:9"])
    for round_ in range(5):
        source = create(owner, count=4, batch_size=4, constant=f"r{round_}")
        while (jobs := jobs_claim(worker_id=WORKER)):
            run_job(jobs[0], worker_id=WORKER)
        dns_phase = campaign_create(
            actor=owner, name="dns", campaign_type="dns_validation", source_campaign_id=source.pk,
            params={"personas": ["unused"], "batch_size": 2}, start=True,
        ).campaign
        engine.campaigns_activate(worker_id=WORKER)
        jobs = jobs_claim(worker_id=WORKER, limit=2)
        assert len(jobs) == 2
        go = threading.Barrier(2, timeout=10)

        def record(i):
            names = dns_load(job=jobs[i]).domains
            outcomes = [DnsOutcome(n, "unresolved", "", (), "NXDOMAIN", "127.0.0.1:9", "unused", 1, 1) for n in names]
            go.wait()
            dns_record_batch(job=jobs[i], worker_id=f"w{i}", outcomes=outcomes)

        in_threads(2, record)
        # Each may have seen the other still running: the workers' sweep finishes the phase then.
        engine.phases_finish_idle(worker_id=WORKER)
        engine.phases_finish_idle(worker_id=WORKER)
        after = Campaign.objects.get(pk=dns_phase.pk)
        assert (after.status, after.processed_items, after.negative_items) == ("completed", 4, 4)
        assert after.state_events.filter(transition="complete").count() == 1


def test_heartbeats_keep_a_long_batch_leased(owner):
    create(owner, count=5, batch_size=5)
    [job] = jobs_claim(worker_id=WORKER, lease_s=0.6)
    keeper = LeaseKeeper(lease_s=0.6)
    keeper.start()
    keeper.hold(job.lease_token)
    try:
        time.sleep(1.5)  # well past the first lease
        assert engine.jobs_reap_expired(worker_id="reaper") == 0
        assert CampaignJob.objects.get(pk=job.id).status == "running"
    finally:
        keeper.release(job.lease_token)
        keeper.stop()
    time.sleep(0.8)
    assert engine.jobs_reap_expired(worker_id="reaper") == 1


def test_sigterm_stops_a_worker_cleanly_leaving_no_job_leased(owner):
    params = dict(pattern="prefix", prefix_length=6, charset="abcdefghij", constant="s", tlds=["com"])
    campaign = create(owner, count=600_000, batch_size=5_000, **params)
    worker = start_worker("--concurrency", "2")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not CampaignJob.objects.filter(campaign=campaign, status="succeeded").exists():
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate(timeout=10)
    assert worker.returncode == 0, err
    assert '"event": "stopped"' in err.splitlines()[-1]
    assert not CampaignJob.objects.filter(campaign=campaign, status="running").exists()
    after = Campaign.objects.get(pk=campaign.pk)
    assert after.status == "running" and 0 < after.processed_items < 600_000  # stopped part-way
    assert after.processed_items == GeneratedDomain.objects.filter(campaign=campaign).count()
