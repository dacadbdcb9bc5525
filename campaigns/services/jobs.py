"""The job queue: claim, heartbeat, finish, give back, cancel and reap batches of work.

Lock policy: a job row is locked only by the one statement that changes it.
Claims use FOR UPDATE SKIP LOCKED, so workers never wait on each other; every
write that finishes a job re-checks its lease token in the same statement, so
a worker that lost its lease writes nothing. Every time comes from the
database's clock (now()), so hosts whose clocks differ agree on leases.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.db import connection

from campaigns.models import Campaign, CampaignJob
from txmetrics.decorators import safe_transaction

JOB = CampaignJob._meta.db_table
CAMPAIGN = Campaign._meta.db_table


class LeaseLost(Exception):
    """The job's lease was taken over (it expired and was reclaimed); its work is discarded."""


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    campaign_id: UUID
    campaign_type: str
    batch_number: int
    lease_token: UUID
    attempts: int
    max_attempts: int
    source_campaign_id: UUID | None = None
    source_batch: int | None = None
    range_lo: int | None = None
    range_hi: int | None = None
    feeds: bool = False  # whether later phases read this campaign's output


def retry_backoff_s(attempts: int) -> float:
    """Delay before a failed job runs again: exponential in attempts, with jitter."""
    base = settings.DOMAINFLOW_RETRY_BACKOFF_S
    delay = min(base * (2 ** max(attempts - 1, 0)), settings.DOMAINFLOW_RETRY_BACKOFF_MAX_S)
    return delay * random.uniform(0.5, 1.0)


# A claim goes campaign by campaign (docs/DECISIONS.md, "A claim goes campaign by campaign"): the
# running campaigns it may take from, ordered by the first due job each has queued (one short
# range of job_queued_campaign_idx each), then, campaign after campaign in that order, the first
# due jobs no other claim holds, locked. It reads a few rows per running campaign however many
# jobs wait in the others: one walk of all queued jobs in order passed over every job of a paused
# campaign, and of the campaigns the claiming worker skips, on every claim. The outer ORDER BY is
# the heads' own order, so the nested loop's rows come out sorted and LIMIT stops it once it has
# them: only the jobs taken are locked. A campaign's jobs share its phase's priority, so the order
# is the walk's (later phases first, then the oldest), except that a claim of several jobs takes
# them from one campaign first.
_CLAIM_SQL = f"""
WITH picked AS (
    SELECT job.id
    FROM (
        SELECT c.id AS campaign_id, head.priority, head.created_at, head.id
        FROM {CAMPAIGN} c
        CROSS JOIN LATERAL (
            SELECT j.priority, j.created_at, j.id
            FROM {JOB} j
            WHERE j.campaign_id = c.id AND j.status = 'queued' AND j.run_after <= now() {{only}}
            ORDER BY j.priority DESC, j.created_at, j.id
            LIMIT 1
        ) head
        WHERE c.status = 'running' AND c.id <> ALL(%(skip)s::uuid[])
        ORDER BY head.priority DESC, head.created_at, head.id
    ) heads
    CROSS JOIN LATERAL (
        SELECT j.id
        FROM {JOB} j
        WHERE j.campaign_id = heads.campaign_id AND j.status = 'queued' AND j.run_after <= now() {{only}}
        ORDER BY j.priority DESC, j.created_at, j.id
        LIMIT %(limit)s
        FOR UPDATE OF j SKIP LOCKED
    ) job
    ORDER BY heads.priority DESC, heads.created_at, heads.id
    LIMIT %(limit)s
)
UPDATE {JOB} j
SET status = 'running', locked_by = %(worker)s, lease_token = gen_random_uuid(),
    lease_expires_at = now() + make_interval(secs => %(lease)s), attempts = j.attempts + 1
FROM picked, {CAMPAIGN} c
WHERE j.id = picked.id AND c.id = j.campaign_id
RETURNING j.id, j.campaign_id, c.campaign_type, j.batch_number, j.lease_token, j.attempts, j.max_attempts,
          c.source_campaign_id, j.source_batch, j.range_lo, j.range_hi,
          EXISTS (SELECT 1 FROM {CAMPAIGN} f WHERE f.source_campaign_id = c.id)
"""


_CLAIM_ANY_SQL = _CLAIM_SQL.format(only="")
# Jobs of one priority only: a range of the ordered index, so trying it first costs little.
_CLAIM_PRIORITY_SQL = _CLAIM_SQL.format(only="AND j.priority = %(priority)s")


@safe_transaction(operation="job.claim")
def jobs_claim(*, worker_id: str, limit: int = 1, lease_s: float | None = None,
               prefer_priority: int | None = None, skip: Sequence[UUID] = ()) -> list[ClaimedJob]:
    """Claim up to `limit` due jobs of running campaigns: later phases first, then the oldest (several
    jobs come from one campaign first).

    With prefer_priority, jobs of that priority come first, and the others only when none is due.
    Jobs of the campaigns in `skip` are left to other workers.
    """
    lease = settings.DOMAINFLOW_JOB_LEASE_SECONDS if lease_s is None else lease_s
    claim = {"skip": list(skip), "limit": limit, "worker": worker_id, "lease": lease}
    with connection.cursor() as cursor:
        rows = []
        if prefer_priority is not None:
            cursor.execute(_CLAIM_PRIORITY_SQL, {**claim, "priority": prefer_priority})
            rows = cursor.fetchall()
        if not rows:
            cursor.execute(_CLAIM_ANY_SQL, claim)
            rows = cursor.fetchall()
    return sorted((ClaimedJob(*row) for row in rows), key=lambda job: job.id)


@safe_transaction(operation="job.heartbeat")
def jobs_heartbeat(*, lease_tokens: list[UUID], lease_s: float | None = None) -> set[UUID]:
    """Extend the leases still held; returns the tokens that were extended."""
    if not lease_tokens:
        return set()
    lease = settings.DOMAINFLOW_JOB_LEASE_SECONDS if lease_s is None else lease_s
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {JOB} SET lease_expires_at = now() + make_interval(secs => %s)"
            " WHERE lease_token = ANY(%s) AND status = 'running' RETURNING lease_token",
            [lease, lease_tokens],
        )
        return {row[0] for row in cursor.fetchall()}


_SUCCEED_SQL = f"""
UPDATE {JOB}
SET status = 'succeeded', result_count = %s, output_lo = %s, output_hi = %s, output_count = %s,
    finished_at = now(), lease_token = NULL, lease_expires_at = NULL
WHERE id = %s AND lease_token = %s AND status = 'running'
RETURNING id
"""


def job_succeed(job: ClaimedJob, *, result_count: int, output: tuple[int | None, int | None, int]) -> None:
    """Finish a leased job inside the caller's transaction; LeaseLost if the lease is gone.

    Called first in a batch's transaction: the row lock it takes is the proof of
    the lease until commit, so results written after it can never be doubled.
    """
    with connection.cursor() as cursor:
        cursor.execute(_SUCCEED_SQL, [result_count, *output, job.id, job.lease_token])
        if cursor.fetchone() is None:
            raise LeaseLost(f"job {job.id} is no longer leased by this worker")


_GIVE_BACK_SQL = f"""
UPDATE {JOB}
SET status = CASE WHEN %(fail)s THEN 'failed' ELSE 'queued' END,
    attempts = CASE WHEN %(count)s THEN attempts ELSE greatest(attempts - 1, 0) END,
    run_after = now() + make_interval(secs => %(delay)s),
    finished_at = CASE WHEN %(fail)s THEN now() END,
    last_error = CASE WHEN %(error)s = '' THEN last_error ELSE %(error)s END,
    locked_by = '', lease_token = NULL, lease_expires_at = NULL
WHERE id = %(id)s AND lease_token = %(token)s AND status = 'running'
RETURNING status
"""


def job_give_back(job: ClaimedJob, *, error: str = "", count_attempt: bool, fail: bool = False, delay_s: float = 0.0) -> str | None:
    """Requeue (or fail) a leased job in the caller's transaction; None if the lease was lost."""
    with connection.cursor() as cursor:
        cursor.execute(
            _GIVE_BACK_SQL,
            {"fail": fail, "count": count_attempt, "delay": delay_s, "error": error[:4000], "id": job.id, "token": job.lease_token},
        )
        row = cursor.fetchone()
    return row[0] if row else None


def job_cancel(job: ClaimedJob) -> None:
    """Cancel a leased job of a cancelled campaign (caller's transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {JOB} SET status = 'cancelled', finished_at = now(), lease_token = NULL, lease_expires_at = NULL"
            " WHERE id = %s AND lease_token = %s AND status = 'running'",
            [job.id, job.lease_token],
        )


def jobs_cancel_queued(campaign_id: UUID) -> int:
    """Cancel a campaign's queued jobs; running ones end when their worker sees the campaign cancelled."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {JOB} SET status = 'cancelled', finished_at = now() WHERE campaign_id = %s AND status = 'queued'",
            [campaign_id],
        )
        return cursor.rowcount


def jobs_requeue_failed(campaign_id: UUID) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {JOB} SET status = 'queued', attempts = 0, run_after = now(), finished_at = NULL,"
            " lease_token = NULL, lease_expires_at = NULL, locked_by = ''"
            " WHERE campaign_id = %s AND status = 'failed'",
            [campaign_id],
        )
        return cursor.rowcount


_REAP_SQL = f"""
WITH expired AS (
    SELECT j.id FROM {JOB} j
    WHERE j.status = 'running' AND j.lease_expires_at < now()
    ORDER BY j.lease_expires_at
    LIMIT %(limit)s
    FOR UPDATE OF j SKIP LOCKED
)
UPDATE {JOB} j
SET status = CASE WHEN c.status = 'cancelled' THEN 'cancelled'
                  WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'queued' END,
    finished_at = CASE WHEN c.status = 'cancelled' OR j.attempts >= j.max_attempts THEN now() END,
    run_after = now() + make_interval(secs => %(delay)s),
    last_error = 'lease expired: worker ' || j.locked_by || ' stopped renewing it',
    locked_by = '', lease_token = NULL, lease_expires_at = NULL
FROM expired, {CAMPAIGN} c
WHERE j.id = expired.id AND c.id = j.campaign_id
RETURNING j.campaign_id, j.status
"""


def jobs_reap_expired_rows(*, limit: int) -> list[tuple[UUID, str]]:
    """Requeue (or fail, at max_attempts) jobs whose worker stopped renewing its lease."""
    with connection.cursor() as cursor:
        cursor.execute(_REAP_SQL, {"limit": limit, "delay": retry_backoff_s(1)})
        return cursor.fetchall()


# Whether a campaign has a job queued, or running: the first row of a partial index's range, asked
# as a scalar subquery in that index's order, so no plan but the index's can find it cheaply. Asked
# as EXISTS (which drops ORDER BY and LIMIT) of a large campaign, the planner, expecting many of
# its jobs to match, may scan the whole job table for an early one, and reads all of it when none
# matches: a phase between two feeds, at every batch (docs/DECISIONS.md, "A claim goes campaign by
# campaign"). Running jobs are few at any time, however large the campaigns.
QUEUED_JOB_SQL = (f"(SELECT 1 FROM {JOB} WHERE campaign_id = %(campaign)s AND status = 'queued'"
                  " ORDER BY priority DESC, created_at, id LIMIT 1)")
RUNNING_JOB_SQL = (f"(SELECT 1 FROM {JOB} WHERE campaign_id = %(campaign)s AND status = 'running'"
                   " ORDER BY lease_expires_at LIMIT 1)")
_OPEN_STATUSES_SQL = (f"SELECT {QUEUED_JOB_SQL} IS NOT NULL, {RUNNING_JOB_SQL} IS NOT NULL,"
                      f" EXISTS (SELECT 1 FROM {JOB} WHERE campaign_id = %(campaign)s AND status = 'failed')")


def jobs_open_statuses(campaign_id: UUID) -> set[str]:
    """Which of queued, running and failed a campaign's jobs are in: one index probe each, which stops
    at the first job (failed jobs are few, and have their (campaign, status) range), where listing
    the distinct statuses read every open job of the campaign (a phase just started over a finished
    source has thousands)."""
    with connection.cursor() as cursor:
        cursor.execute(_OPEN_STATUSES_SQL, {"campaign": campaign_id})
        found = cursor.fetchone()
    return {status for status, there in zip(("queued", "running", "failed"), found) if there}


def job_first_failure(campaign_id: UUID) -> tuple[int, int, str] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT batch_number, attempts, last_error FROM {JOB}"
            " WHERE campaign_id = %s AND status = 'failed' ORDER BY batch_number LIMIT 1",
            [campaign_id],
        )
        return cursor.fetchone()
