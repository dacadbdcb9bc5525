"""A claim goes campaign by campaign: later phases first, then the oldest due job; it reads a few
rows whatever waits in campaigns it may not take (paused, or skipped by its worker), and passes
over the jobs another claim holds instead of coming back empty. Asking whether a phase has jobs
queued or running (at every batch's end), and which open statuses they are in, reads a few rows
too, however many jobs it has, and whatever the planner's statistics say.

Boundedness is measured, not timed: the statement is re-run under EXPLAIN ANALYZE and the rows its
scans of the job table read (returned or filtered out) are counted.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import CampaignJob
from campaigns.services.feed import phase_may_end_soon, phase_maybe_done
from campaigns.services.jobs import jobs_claim, jobs_open_statuses
from tests.console.live_data import arrange
from tests.factories import UserFactory
from tests.support.plans import rows_read
from tests.support.waits import raw_connection

pytestmark = pytest.mark.django_db(transaction=True)

JOB_TABLE = CampaignJob._meta.db_table
WAITING = 3000  # queued jobs in each campaign a claim may not take


def queue(campaign, count: int, *, priority: int, first_created=None, every_s: float = 1.0, run_after=None):
    """`count` queued jobs of `campaign`, created `every_s` apart from `first_created` on."""
    start = first_created or timezone.now() - timedelta(hours=1)
    CampaignJob.objects.bulk_create([
        CampaignJob(campaign=campaign, batch_number=n, status="queued", priority=priority,
                    created_at=start + timedelta(seconds=n * every_s), run_after=run_after or timezone.now())
        for n in range(count)
    ])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {JOB_TABLE}")


def job_rows_read(statement: str, *, as_planned: bool = False) -> int:
    """The job rows `statement` reads, re-run under EXPLAIN ANALYZE; unless `as_planned`, with the planner
    kept off whole-table scans, as on a job table of many campaigns (here one campaign's jobs are
    most of the table)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if not as_planned:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement)
        return rows_read(cursor.fetchone()[0][0]["Plan"], (JOB_TABLE,))


def claimed(**kwargs) -> list[tuple[str, int]]:
    return [(str(job.campaign_id), job.batch_number) for job in jobs_claim(worker_id="here", **kwargs)]


def test_a_claim_reads_a_few_rows_whatever_waits_in_campaigns_it_may_not_take():
    owner = UserFactory()
    older = timezone.now() - timedelta(days=1)
    # Both hold older jobs of a later phase, which every claim would try first if it could.
    paused = arrange(owner=owner, name="paused", campaign_type="http_keyword_validation", status="paused")
    queue(paused, WAITING, priority=2, first_created=older)
    skipped = arrange(owner=owner, name="skipped", campaign_type="http_keyword_validation")
    queue(skipped, WAITING, priority=2, first_created=older)
    target = arrange(owner=owner, name="target")
    queue(target, 3, priority=1)

    with CaptureQueriesContext(connection) as captured:
        assert claimed(skip=[skipped.pk]) == [(str(target.pk), 0)]
    [statement] = [q["sql"] for q in captured if JOB_TABLE in q["sql"] and "UPDATE" in q["sql"]]
    # The same claim again, measured: it takes the next job.
    assert job_rows_read(statement) <= 20, "a claim walked past the jobs of campaigns it may not take"
    assert list(CampaignJob.objects.filter(campaign=target, status="running").values_list("batch_number", flat=True)
                .order_by("batch_number")) == [0, 1]
    # Not skipped, the later phase's oldest job comes first; the paused one's never.
    assert claimed() == [(str(skipped.pk), 0)]
    assert not CampaignJob.objects.filter(campaign=paused, status="running").exists()


def test_claims_take_later_phases_first_then_the_oldest_due_job_of_any_campaign():
    owner = UserFactory()
    start = timezone.now() - timedelta(hours=1)
    first = arrange(owner=owner, name="first")
    queue(first, 2, priority=1, first_created=start, every_s=10)  # at 0 s and 10 s
    second = arrange(owner=owner, name="second")
    queue(second, 2, priority=1, first_created=start + timedelta(seconds=5), every_s=10)  # at 5 s and 15 s
    # The oldest job of all, but waiting out its retry backoff: the campaign's next due job is claimed.
    backing_off = arrange(owner=owner, name="backing off")
    queue(backing_off, 1, priority=1, first_created=start - timedelta(hours=1), run_after=timezone.now() + timedelta(hours=1))
    CampaignJob.objects.create(campaign=backing_off, batch_number=1, status="queued", priority=1,
                               created_at=start + timedelta(seconds=12), run_after=timezone.now())
    later_phase = arrange(owner=owner, name="later phase", campaign_type="http_keyword_validation")
    queue(later_phase, 1, priority=2, first_created=timezone.now())

    order = [claimed()[0] for _ in range(6)]
    assert order == [
        (str(later_phase.pk), 0), (str(first.pk), 0), (str(second.pk), 0), (str(first.pk), 1),
        (str(backing_off.pk), 1), (str(second.pk), 1),
    ]
    assert claimed() == []


def test_a_claim_passes_over_the_jobs_another_claim_holds():
    owner = UserFactory()
    start = timezone.now() - timedelta(hours=1)
    busy = arrange(owner=owner, name="busy")
    queue(busy, 2, priority=1, first_created=start)
    other = arrange(owner=owner, name="other")
    queue(other, 1, priority=1, first_created=start + timedelta(minutes=1))
    ids = dict(CampaignJob.objects.filter(campaign=busy).values_list("batch_number", "id"))

    holder = raw_connection()
    try:
        holder.execute("BEGIN")
        # Another worker's claim, between its lock and its commit: busy's first job.
        holder.execute(f"SELECT id FROM {JOB_TABLE} WHERE id = %s FOR UPDATE", [ids[0]])
        assert claimed() == [(str(busy.pk), 1)]  # the campaign's next job, not nothing
        assert claimed() == [(str(other.pk), 0)]  # busy's only due job is held: the next campaign's
        assert claimed() == []
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert claimed() == [(str(busy.pk), 0)]


def test_which_open_statuses_a_phases_jobs_are_in_reads_a_few_rows_however_many_are_queued():
    phase = arrange(owner=UserFactory(), name="just started over a finished source")
    queue(phase, WAITING, priority=1)
    CampaignJob.objects.create(campaign=phase, batch_number=WAITING, status="failed", priority=1)
    with CaptureQueriesContext(connection) as captured:
        assert jobs_open_statuses(phase.pk) == {"queued", "failed"}
    [statement] = [q["sql"] for q in captured]
    assert job_rows_read(statement) <= 10
    CampaignJob.objects.filter(campaign=phase).update(status="succeeded")
    assert jobs_open_statuses(phase.pk) == set()


def test_whether_a_phase_has_open_jobs_reads_a_few_rows_with_statistics_from_when_thousands_were_queued():
    owner = UserFactory()
    source = arrange(owner=owner, name="source", campaign_type="domain_generation", status="completed")
    phase = arrange(owner=owner, name="phase", source=source)
    queue(phase, WAITING, priority=1)  # analyzed while thousands are queued...
    CampaignJob.objects.filter(campaign=phase).update(status="succeeded")  # ...and all done since
    with CaptureQueriesContext(connection) as captured:
        assert phase_may_end_soon(campaign_id=phase.pk, source_id=source.pk)
        assert phase_maybe_done(campaign_id=phase.pk, source_id=source.pk)
        assert jobs_open_statuses(phase.pk) == set()
    # As the planner plans them: expecting many matches, a whole-table scan for an early one would
    # read every job of the phase.
    assert [job_rows_read(q["sql"], as_planned=True) for q in captured] == [0, 0, 0]
