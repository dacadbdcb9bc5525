"""Streaming pipelines under faults: killed workers, a database that drops every connection, idle workers woken."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from django.db import connection

from campaigns.models import Campaign, CampaignJob, DomainGenerationConfigState, GeneratedDomain
from campaigns.services import engine
from campaigns.services.campaigns import campaign_create
from campaigns.services.jobs import ClaimedJob, jobs_claim
from tests.campaigns.conftest import assert_pipeline_exact
from tests.factories import UserFactory
from tests.servers.http_proxies import unused_port
from txmetrics.models import TransactionMetric
from tests.support.engine import run_jobs_here
from tests.support.processes import start_worker
from tests.support.waits import raw_connection, wait_for, waiting_on_a_lock

pytestmark = pytest.mark.django_db(transaction=True)

PRIVATE = {"DOMAINFLOW_ALLOW_PRIVATE_TARGETS": "1"}


def listeners() -> int:
    """Workers listening for new work (each holds one connection that LISTENs)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                       " AND query = 'LISTEN domainflow_work'")
        return cursor.fetchone()[0]


def finish(process, *, timeout_s: float = 60) -> tuple[str, str]:
    try:
        out, err = process.communicate(timeout=timeout_s)
    except BaseException:
        process.kill()
        process.communicate(timeout=10)
        raise
    assert process.returncode == 0, err
    return out, err


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["generation", "dns", "http"])
def test_a_worker_killed_at_any_stage_leaves_every_phase_exact(make_world, stage):
    world = make_world(count=60, batch_size=10, dns_delay_s=0.4 if stage == "dns" else 0.0,
                       http_delay_s=0.6 if stage == "http" else 0.0)
    gen, dns, http = world.pipeline(UserFactory(), dns_batch=5, http_batch=3)
    target = {"generation": gen, "dns": dns, "http": http}[stage]
    blocker = None
    if stage == "generation":
        # Batch 0 here; then hold the config's offset row, so the worker's next generation batch
        # waits inside its transaction (names generated, nothing committed) when it is killed.
        run_jobs_here(until=GeneratedDomain.objects.exists, worker_id="test", limit=1)
        blocker = raw_connection()
        blocker.execute("BEGIN")
        blocker.execute(
            f"SELECT 1 FROM {DomainGenerationConfigState._meta.db_table} WHERE config_hash = %s FOR UPDATE",
            [gen.generation_params.config_hash],
        )
    connection.close()

    victim = start_worker("--concurrency", "4", **PRIVATE)
    try:
        wait_for(lambda: target.jobs.filter(status="running").exists(), what=f"a running {stage} batch")
        if blocker is not None:
            wait_for(lambda: waiting_on_a_lock("configstate"), what="the generation batch to wait on its offset row")
        else:
            time.sleep(0.15)  # inside the network part: every answer is delayed longer than this
        running = set(target.jobs.filter(status="running").values_list("id", flat=True))
        os.kill(victim.pid, signal.SIGKILL)
    finally:
        if victim.poll() is None:
            victim.kill()
        victim.communicate(timeout=10)
        if blocker is not None:
            blocker.close()

    finish(start_worker("--burst", **PRIVATE))

    assert_pipeline_exact(world, [gen, dns, http])
    # The batches in flight were redone after their lease expired (one may have committed
    # between the look and the kill: then it is simply done).
    killed = list(CampaignJob.objects.filter(id__in=running).values_list("status", "attempts", "last_error"))
    assert len(killed) == len(running) > 0
    assert {status for status, _, _ in killed} == {"succeeded"}
    redone = [(attempts, error) for _, attempts, error in killed if attempts == 2]
    assert redone and all(error.startswith("lease expired: worker ") for _, error in redone), killed


@pytest.mark.slow
def test_a_worker_waits_out_connections_terminated_every_tenth_of_a_second(make_world):
    world = make_world(count=2000, batch_size=100, resolve_every=20)
    gen, dns, http = world.pipeline(UserFactory(), dns_batch=100, http_batch=10)
    connection.close()
    rounds = terminated = 0
    stop = threading.Event()

    def storm() -> None:
        nonlocal rounds, terminated
        with raw_connection() as conn:
            end = time.monotonic() + 5
            while time.monotonic() < end and not stop.is_set():
                rows = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchall()
                rounds += 1
                terminated += sum(1 for (done,) in rows if done)
                time.sleep(0.1)

    worker = start_worker("--burst", **PRIVATE)
    stormer = threading.Thread(target=storm)
    stormer.start()
    try:
        stormer.join(timeout=30)
        _, err = finish(worker, timeout_s=120)
    finally:
        stop.set()
        stormer.join(timeout=10)
    connection.close()  # ours was terminated too

    assert_pipeline_exact(world, [gen, dns, http])
    assert not CampaignJob.objects.filter(status="failed").exists()
    # A lost connection gives a batch back uncounted; at most one attempt may go to a lease that
    # expired while its heartbeat could not get through (what a crash explains).
    jobs = list(CampaignJob.objects.values_list("attempts", "max_attempts"))
    assert all(attempts <= 2 and attempts < limit for attempts, limit in jobs), sorted(jobs)[-5:]
    assert "Traceback" not in err
    down = [line for line in err.splitlines() if "database unavailable (" in line and "waiting for it" in line]
    back = [line for line in err.splitlines() if "database available again after" in line]
    # The storm ended a backend in every round on average: the worker kept connecting again through it.
    assert rounds >= 30 and terminated >= rounds
    assert 1 <= len(down) < rounds, (len(down), rounds, terminated)
    assert len(back) in (len(down) - 1, len(down))


@pytest.mark.slow
def test_an_idle_worker_starts_a_new_campaign_at_once(make_world):
    world = make_world(count=5, batch_size=5)
    owner = UserFactory()
    worker = start_worker("--idle-sleep", "30")
    try:
        wait_for(lambda: listeners() == 1, what="the worker to listen")
        time.sleep(2)  # idle: maintenance settles into its once-a-second poll, the lanes' is 30 s away
        latencies = []
        # The maintenance poll runs once a second: only a wake-up explains every start under half of that.
        for n in range(3):
            campaign = campaign_create(actor=owner, name=f"wake {n}", campaign_type="domain_generation",
                                       params={**world.generation_params, "constant": f"{world.constant}w{n}"},
                                       start=True).campaign
            started = time.monotonic()
            wait_for(lambda: Campaign.objects.get(pk=campaign.pk).status != "queued", timeout_s=5, what="running")
            latencies.append(time.monotonic() - started)
            wait_for(lambda: Campaign.objects.get(pk=campaign.pk).status == "completed", timeout_s=5, what="completed")
            time.sleep(0.7)
        assert max(latencies) < 0.5, latencies
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=20)


@pytest.mark.slow
def test_every_idle_worker_claims_a_started_campaigns_batches_at_once(make_world):
    # A started campaign's jobs exist while it is still queued; only the worker that moves it to
    # running would know when to claim them, if becoming running were not announced to every worker.
    owner = UserFactory()
    world = make_world(count=40, batch_size=40, dns_delay_s=0.5)
    gen = world.generated(owner)
    connection.close()
    workers = [start_worker("--concurrency", "1", "--idle-sleep", "30") for _ in range(2)]
    try:
        wait_for(lambda: listeners() == 2, what="both workers to listen")
        time.sleep(2)  # idle: the lanes' next poll is 30 s away
        dns = campaign_create(actor=owner, name="dns", campaign_type="dns_validation", source_campaign_id=gen.pk,
                              params={"personas": ["stream-dns"], "batch_size": 5}, start=True).campaign
        created = time.monotonic()

        def claimed_by() -> set[str]:
            return {worker.split(":")[1] for worker in dns.jobs.exclude(locked_by="").values_list("locked_by", flat=True)}
        # Eight batches of 0.5 s each with one lane per worker: the first worker alone is still busy
        # long before the second's next poll, so only a wake-up explains both claiming at once.
        wait_for(lambda: len(claimed_by()) == 2, timeout_s=10, what="both workers to claim")
        assert time.monotonic() - created < 1.0
        assert claimed_by() == {str(worker.pid) for worker in workers}
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.communicate(timeout=20)


@pytest.mark.slow
def test_new_work_wakes_one_idle_lane_at_a_time_not_all_of_them(make_world):
    # An idle worker is told of new work a few times for each one-batch campaign (it is queued, it
    # is running, its job exists). Each notice wakes one lane; a lane that finds work wakes the
    # next. Waking every idle lane instead made all of them claim on every notice: a job queued one
    # at a time (a generation's next batch) cost a claim per idle lane of every worker.
    world = make_world(count=5, batch_size=5)
    owner = UserFactory()
    lanes, campaigns = 16, 4
    worker = start_worker("--concurrency", str(lanes), "--idle-sleep", "30")
    try:
        wait_for(lambda: listeners() == 1, what="the worker to listen")
        time.sleep(2)  # idle: the lanes' next poll is 30 s away
        since = TransactionMetric.objects.order_by("-id").values_list("id", flat=True).first() or 0
        started = time.monotonic()
        for n in range(campaigns):
            campaign = campaign_create(actor=owner, name=f"one batch {n}", campaign_type="domain_generation",
                                       params={**world.generation_params, "constant": f"{world.constant}b{n}"},
                                       start=True).campaign
            wait_for(lambda: Campaign.objects.get(pk=campaign.pk).status == "completed", timeout_s=5, what="completed")
        elapsed = time.monotonic() - started
        time.sleep(1.5)  # metrics are written at most a second after their transaction
        claims = TransactionMetric.objects.filter(id__gt=since, operation="job.claim").count()
        # A handful of claims per campaign (one per notice, the cascade's last, the running lane's
        # next); every lane on every notice was 2-3 times more.
        assert claims < campaigns * lanes, (claims, elapsed)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=20)


def vanished_at_the_last_attempt(constant: str) -> tuple[Campaign, ClaimedJob]:
    """A running generation campaign of one job, claimed at its last attempt by a worker that is gone
    (its lease already over): the next reaper's round fails the job and finishes the phase."""
    params = {"pattern": "prefix", "prefix_length": 1, "charset": "0123456789", "constant": constant,
              "tlds": ["df.test"], "count": 10, "batch_size": 10}
    gen = campaign_create(actor=UserFactory(), name=constant, campaign_type="domain_generation", params=params,
                          start=True).campaign
    engine.campaigns_activate(worker_id="gone")
    [job] = jobs_claim(worker_id="gone", limit=1, lease_s=0.1)
    CampaignJob.objects.filter(pk=job.id).update(max_attempts=job.attempts)
    return gen, job


@pytest.mark.slow
def test_maintenance_goes_on_after_a_round_that_timed_out():
    # A job whose worker vanished during its last attempt: the reaper fails it and finishes its
    # phase, which locks the campaign row. Held here past the transaction's timeout, that round of
    # maintenance fails; the next, once the lock is gone, must still run, or a burst worker would
    # wait for ever for a job nobody requeues.
    gen, job = vanished_at_the_last_attempt("reap")
    connection.close()

    with raw_connection() as holder:
        holder.execute("BEGIN")
        holder.execute(f"SELECT 1 FROM {Campaign._meta.db_table} WHERE id = %s FOR UPDATE", [gen.pk])
        worker = start_worker("--burst", **PRIVATE)
        try:
            wait_for(TransactionMetric.objects.filter(operation="job.reap", success=False).exists,
                     timeout_s=60, what="the reaper's round to time out on the locked campaign")
        finally:
            holder.execute("ROLLBACK")
        _, err = finish(worker, timeout_s=30)

    assert "maintenance gave up for this round: job.reap: a statement ran longer than" in err
    assert "Traceback" not in err
    assert Campaign.objects.get(pk=gen.pk).status == "failed"
    assert CampaignJob.objects.get(pk=job.id).status == "failed"


@pytest.mark.slow
@pytest.mark.parametrize(("errcode", "logged"), [
    ("40001", "maintenance gave up for this round: job.reap: gave up after 4 attempts (SQLSTATE 40001)"),
    ("P0001", "maintenance failed"),
])
def test_maintenance_goes_on_after_a_round_that_failed(errcode, logged):
    # As above, but the reaper's round fails inside PostgreSQL: a trigger refuses the update of the
    # job, with a serialization failure (retried, then given up: one line) or any other error (a
    # traceback). Once the trigger is gone, the next round must fail the job and the phase.
    gen, job = vanished_at_the_last_attempt("refuse")
    table = CampaignJob._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("CREATE FUNCTION test_refuse_job() RETURNS trigger LANGUAGE plpgsql AS"
                       f" $$ BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = '{errcode}'; END $$")
        cursor.execute(f"CREATE TRIGGER test_refuse_job BEFORE UPDATE ON {table} FOR EACH ROW"
                       f" WHEN (OLD.id = {int(job.id)}) EXECUTE FUNCTION test_refuse_job()")
    worker = start_worker("--burst", **PRIVATE)
    try:
        wait_for(TransactionMetric.objects.filter(operation="job.reap", success=False).exists,
                 timeout_s=60, what="the reaper's round to fail on the refused update")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER test_refuse_job ON {table}")
            cursor.execute("DROP FUNCTION test_refuse_job()")
    _, err = finish(worker, timeout_s=30)

    assert logged in err, err[-2000:]
    assert ("Traceback" in err) == (errcode == "P0001"), err[-2000:]
    assert Campaign.objects.get(pk=gen.pk).status == "failed"
    assert CampaignJob.objects.get(pk=job.id).status == "failed"


@pytest.mark.slow
def test_a_worker_whose_database_is_down_logs_one_line_not_a_traceback_per_try():
    # Nothing listens on the port: every connection is refused, as while PostgreSQL restarts. Each
    # failed transaction also fails to record its own metric; that must not be logged again.
    worker = start_worker(DATABASE_URL=f"postgres://postgres@127.0.0.1:{unused_port()}/domainflow", **PRIVATE)
    time.sleep(3)
    worker.send_signal(signal.SIGTERM)
    _, err = finish(worker, timeout_s=30)

    down = [line for line in err.splitlines() if "database unavailable (" in line]
    assert len(down) == 1, err[-2000:]
    assert "Connection refused" in down[0]
    assert "Traceback" not in err and "could not record" not in err, err[-2000:]
