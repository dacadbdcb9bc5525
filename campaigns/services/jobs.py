"""The job queue: create, claim, heartbeat, release and reap batches of work (DESIGN §6).

Claims use FOR UPDATE SKIP LOCKED so workers never wait on each other; every
write that finishes a job first re-checks the job's lease token, so a worker
that lost its lease writes nothing.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign, CampaignJob, CampaignType, JobStatus
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


def retry_backoff_s(attempts: int) -> float:
    """Delay before a failed job runs again: exponential in attempts, with jitter."""
    base = settings.DOMAINFLOW_RETRY_BACKOFF_S
    delay = min(base * (2 ** max(attempts - 1, 0)), settings.DOMAINFLOW_RETRY_BACKOFF_MAX_S)
    return delay * random.uniform(0.5, 1.0)


# --- effects of campaign transitions (called inside campaign_transition) ---


def jobs_create_for_start(campaign: Campaign) -> None:
    """Create the campaign's batches and set total_items to the real amount of work."""
    if campaign.campaign_type == CampaignType.DOMAIN_GENERATION:
        params = campaign.generation_params
        batches = math.ceil(params.count / params.batch_size)
        campaign.total_items = params.count
    else:
        from campaigns.services import validation

        batches = validation.results_create_for_start(campaign)
    CampaignJob.objects.bulk_create(
        [CampaignJob(campaign=campaign, batch_number=n, max_attempts=settings.DOMAINFLOW_JOB_MAX_ATTEMPTS) for n in range(batches)],
        batch_size=5000,
    )


def jobs_requeue_failed(campaign: Campaign) -> int:
    return CampaignJob.objects.filter(campaign=campaign, status=JobStatus.FAILED).update(
        status=JobStatus.QUEUED, attempts=0, run_after=timezone.now(), lease_token=None, lease_expires_at=None, locked_by=""
    )


def jobs_cancel_unfinished(campaign: Campaign, *, except_job_id: int | None = None) -> int:
    """Cancel the jobs not yet done; a worker still running one loses its lease and writes nothing."""
    return CampaignJob.objects.filter(campaign=campaign, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exclude(
        pk=except_job_id
    ).update(
        status=JobStatus.CANCELLED, lease_token=None, lease_expires_at=None, finished_at=timezone.now()
    )


# --- the worker side ---

_CLAIM_SQL = f"""
WITH picked AS (
    SELECT j.id
    FROM {JOB} j JOIN {CAMPAIGN} c ON c.id = j.campaign_id
    WHERE j.status = 'queued' AND j.run_after <= now() AND c.status = 'running'
    ORDER BY j.priority DESC, j.created_at, j.id
    LIMIT %s
    FOR UPDATE OF j SKIP LOCKED
)
UPDATE {JOB} j
SET status = 'running', locked_by = %s, lease_token = gen_random_uuid(),
    lease_expires_at = now() + make_interval(secs => %s), attempts = j.attempts + 1
FROM picked, {CAMPAIGN} c
WHERE j.id = picked.id AND c.id = j.campaign_id
RETURNING j.id, j.campaign_id, c.campaign_type, j.batch_number, j.lease_token, j.attempts, j.max_attempts
"""


@safe_transaction(operation="job.claim")
def jobs_claim(*, worker_id: str, limit: int = 1, lease_s: float | None = None) -> list[ClaimedJob]:
    """Claim up to `limit` due jobs of running campaigns, highest priority and oldest first."""
    lease = settings.DOMAINFLOW_JOB_LEASE_SECONDS if lease_s is None else lease_s
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, [limit, worker_id, lease])
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


def lock_job(job: ClaimedJob) -> CampaignJob:
    """Lock the job row and prove the caller still holds its lease (call after locking the campaign)."""
    row = CampaignJob.objects.select_for_update().filter(pk=job.id).first()
    if row is None or row.status != JobStatus.RUNNING or row.lease_token != job.lease_token:
        raise LeaseLost(f"job {job.id} is no longer leased by this worker")
    return row


def job_finish(row: CampaignJob, *, status: str = JobStatus.SUCCEEDED, result_count: int = 0, error: str = "") -> None:
    row.status = status
    row.result_count = result_count
    row.finished_at = timezone.now()
    row.lease_token = None
    row.lease_expires_at = None
    if error:
        row.last_error = error[:4000]
    row.save(update_fields=["status", "result_count", "finished_at", "lease_token", "lease_expires_at", "last_error"])


def job_requeue(row: CampaignJob, *, error: str, delay_s: float = 0.0, count_attempt: bool = True) -> None:
    """Give the job back to the queue, to run again after delay_s."""
    row.status = JobStatus.QUEUED
    row.lease_token = None
    row.lease_expires_at = None
    row.locked_by = ""
    row.run_after = timezone.now() + timedelta(seconds=delay_s)
    if not count_attempt:
        row.attempts = max(row.attempts - 1, 0)
    if error:
        row.last_error = error[:4000]
    row.save(update_fields=["status", "lease_token", "lease_expires_at", "locked_by", "run_after", "attempts", "last_error"])


_LOCK_CAMPAIGNS_SQL = f"SELECT id FROM {CAMPAIGN} WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE"
_FINISH_JOBS_SQL = f"""
UPDATE {JOB} j
SET status = 'succeeded', result_count = u.n, finished_at = now(), lease_token = NULL, lease_expires_at = NULL
FROM unnest(%s::bigint[], %s::uuid[], %s::bigint[]) AS u(id, token, n)
WHERE j.id = ANY(%s) AND j.id = u.id AND j.lease_token = u.token AND j.status = 'running'
RETURNING j.id
"""
_DONE_CAMPAIGNS_SQL = f"""
SELECT c.id FROM {CAMPAIGN} c
WHERE c.id = ANY(%s) AND c.status = 'running'
  AND NOT EXISTS (SELECT 1 FROM {JOB} j WHERE j.campaign_id = c.id AND j.status IN ('queued', 'running'))
"""


def jobs_finish_claimed(jobs: list[ClaimedJob], result_counts: list[int] | None = None) -> tuple[set[int], list[UUID]]:
    """Mark claimed jobs succeeded in set-based statements (caller's transaction).

    Locks their campaigns first (in id order, like every other writer), so two
    workers finishing a campaign's last jobs at once cannot both miss that it
    is done. Jobs whose lease was lost are skipped. Returns the finished job
    ids and the campaigns that now have no unfinished job.
    """
    campaign_ids = sorted({job.campaign_id for job in jobs})
    counts = result_counts or [0] * len(jobs)
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_CAMPAIGNS_SQL, [campaign_ids])
        ids = [j.id for j in jobs]
        cursor.execute(_FINISH_JOBS_SQL, [ids, [j.lease_token for j in jobs], counts, ids])
        finished = {row[0] for row in cursor.fetchall()}
        cursor.execute(_DONE_CAMPAIGNS_SQL, [campaign_ids])
        done = [row[0] for row in cursor.fetchall()]
    return finished, done
