"""What workers do around jobs besides running them: activate campaigns, settle failed or
stopped batches, give back batches after a lost connection, and reap lost leases."""
from __future__ import annotations

from campaigns.models import Campaign, CampaignStatus
from campaigns.services import jobs
from campaigns.services.feed import phase_finish_if_done, phases_idle
from campaigns.services.jobs import ClaimedJob
from campaigns.services.state import apply_transition, lock_campaign
from txmetrics.decorators import safe_transaction

_CAMPAIGN_OF_JOB = {"campaign_of": lambda kwargs: kwargs["job"].campaign_id}


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
        # A phase resumed after its last batch, or started over a finished source, may have nothing left.
        phase_finish_if_done(campaign, actor_label=worker_id)
    return len(queued)


@safe_transaction(operation="job.fail_attempt", **_CAMPAIGN_OF_JOB)
def job_fail_attempt(*, job: ClaimedJob, worker_id: str, error: str) -> str:
    """Record a failed attempt: requeue with backoff, or fail the job and its campaign at max_attempts."""
    last = job.attempts >= job.max_attempts
    status = jobs.job_give_back(
        job, error=error, count_attempt=True, fail=last, delay_s=0 if last else jobs.retry_backoff_s(job.attempts)
    )
    if status is None:
        return "lease_lost"
    if status == "failed":
        phase_finish_if_done(lock_campaign(job.campaign_id), actor_label=worker_id)
    return status


@safe_transaction(operation="job.give_back", **_CAMPAIGN_OF_JOB)
def job_give_back_uncounted(*, job: ClaimedJob, error: str = "") -> bool:
    """Give a claimed job back at once, its attempt not counted (lost connection, worker stopping)."""
    return jobs.job_give_back(job, error=error, count_attempt=False) is not None


@safe_transaction(operation="job.settle_stopped", **_CAMPAIGN_OF_JOB)
def job_settle_stopped(*, job: ClaimedJob) -> None:
    """A batch finished after its campaign stopped: cancel it, or give it back for a retry of a failed one."""
    status = Campaign.objects.filter(pk=job.campaign_id).values_list("status", flat=True).first()
    if status == CampaignStatus.CANCELLED:
        jobs.job_cancel(job)
    else:
        jobs.job_give_back(job, count_attempt=False)


@safe_transaction(operation="job.reap")
def jobs_reap_expired(*, worker_id: str, limit: int = 100) -> int:
    """Requeue (or fail, at max_attempts) jobs whose worker stopped renewing its lease."""
    reaped = jobs.jobs_reap_expired_rows(limit=limit)
    for campaign_id in sorted({campaign_id for campaign_id, status in reaped if status == "failed"}):
        phase_finish_if_done(lock_campaign(campaign_id), actor_label=worker_id)
    return len(reaped)


@safe_transaction(operation="campaign.finish_idle")
def phases_finish_idle(*, worker_id: str, limit: int = 20) -> int:
    """Finish running phases left with nothing to do that no batch finished: the last batch failed
    for good or was given back, or two last batches passed each other (services/phases/batch)."""
    finished = 0
    for campaign_id in phases_idle(limit=limit):
        campaign = Campaign.objects.select_for_update(no_key=True, skip_locked=True).filter(pk=campaign_id).first()
        if campaign is not None and phase_finish_if_done(campaign, actor_label=worker_id):
            finished += 1
    return finished
