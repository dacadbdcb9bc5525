"""What workers do around jobs: activate campaigns, finish them, fail attempts, reap lost leases."""
from __future__ import annotations

from django.utils import timezone

from campaigns.models import Campaign, CampaignJob, CampaignStatus, JobStatus
from campaigns.services.jobs import (
    ClaimedJob,
    LeaseLost,
    job_finish,
    job_requeue,
    jobs_finish_claimed,
    lock_job,
    retry_backoff_s,
)
from campaigns.services.transitions import apply_transition, lock_campaign
from txmetrics.decorators import safe_transaction


def campaign_finish_if_done(campaign: Campaign, *, worker_id: str, note: str = "") -> bool:
    """Complete or fail a running campaign whose jobs have all ended (caller holds its row lock)."""
    if campaign.status != CampaignStatus.RUNNING:
        return False
    statuses = set(
        CampaignJob.objects.filter(campaign=campaign)
        .exclude(status=JobStatus.SUCCEEDED)
        .order_by()  # no default ordering: it would widen the DISTINCT
        .values_list("status", flat=True)
        .distinct()
    )
    if statuses & {JobStatus.QUEUED, JobStatus.RUNNING}:
        return False
    if JobStatus.FAILED in statuses:
        failed = CampaignJob.objects.filter(campaign=campaign, status=JobStatus.FAILED).order_by("batch_number").first()
        reason = f"batch {failed.batch_number} failed after {failed.attempts} attempts: {failed.last_error}"
        apply_transition(campaign, transition="fail", actor=None, actor_label=worker_id, reason=reason)
        return True
    apply_transition(campaign, transition="complete", actor=None, actor_label=worker_id, reason=note)
    return True


@safe_transaction(operation="campaign.activate")
def campaigns_activate(*, worker_id: str, limit: int = 20) -> int:
    """Move queued campaigns to running (the worker 'picks them up'); skip ones others hold."""
    queued = list(
        Campaign.objects.select_for_update(no_key=True, skip_locked=True)
        .filter(status=CampaignStatus.QUEUED)
        .order_by("updated_at")[:limit]
    )
    for campaign in queued:
        apply_transition(campaign, transition="begin", actor=None, actor_label=worker_id)
        # A campaign resumed after its last batch already finished has nothing left to run.
        campaign_finish_if_done(campaign, worker_id=worker_id)
    return len(queued)


@safe_transaction(operation="job.fail_attempt")
def job_fail_attempt(*, job: ClaimedJob, worker_id: str, error: str, campaign_id: object = None) -> str:
    """Record a failed attempt: requeue with backoff, or fail the job and its campaign at max_attempts."""
    campaign = lock_campaign(job.campaign_id)
    try:
        row = lock_job(job)
    except LeaseLost:
        return "lease_lost"
    if row.attempts < row.max_attempts:
        job_requeue(row, error=error, delay_s=retry_backoff_s(row.attempts))
        return "requeued"
    job_finish(row, status=JobStatus.FAILED, error=error)
    campaign_finish_if_done(campaign, worker_id=worker_id)
    return "failed"


@safe_transaction(operation="job.release")
def job_release(*, job: ClaimedJob, campaign_id: object = None) -> bool:
    """Give a claimed job back untouched (worker stopping, or campaign no longer running)."""
    lock_campaign(job.campaign_id)
    try:
        row = lock_job(job)
    except LeaseLost:
        return False
    job_requeue(row, error="", count_attempt=False)
    return True


@safe_transaction(operation="job.reap")
def jobs_reap_expired(*, worker_id: str, limit: int = 100) -> int:
    """Requeue (or fail, at max_attempts) jobs whose worker stopped renewing its lease."""
    expired = list(
        CampaignJob.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=timezone.now())
        .order_by("campaign_id", "id")
        .values_list("campaign_id", "id")[:limit]
    )
    reaped = 0
    for campaign_id in sorted({campaign_id for campaign_id, _ in expired}):
        campaign = Campaign.objects.select_for_update(no_key=True, skip_locked=True).filter(pk=campaign_id).first()
        if campaign is None:
            continue
        job_ids = [job_id for cid, job_id in expired if cid == campaign_id]
        rows = CampaignJob.objects.select_for_update(skip_locked=True).filter(
            pk__in=job_ids, status=JobStatus.RUNNING, lease_expires_at__lt=timezone.now()
        )
        for row in rows:
            error = f"lease expired: worker {row.locked_by} stopped renewing it"
            if row.attempts >= row.max_attempts:
                job_finish(row, status=JobStatus.FAILED, error=error)
            else:
                job_requeue(row, error=error, delay_s=retry_backoff_s(row.attempts))
            reaped += 1
        campaign_finish_if_done(campaign, worker_id=worker_id)
    return reaped


@safe_transaction(operation="job.complete")
def jobs_complete(*, jobs: list[ClaimedJob], worker_id: str, result_counts: list[int] | None = None) -> set[int]:
    """Finish claimed jobs whose results are already written (or that had none), in one transaction.

    Returns the ids finished; a job whose lease was lost is left alone.
    """
    if not jobs:
        return set()
    finished, done = jobs_finish_claimed(jobs, result_counts)
    for campaign in Campaign.objects.filter(pk__in=done):  # already locked by jobs_finish_claimed
        campaign_finish_if_done(campaign, worker_id=worker_id)
    return finished
