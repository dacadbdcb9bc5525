"""Running campaign jobs in the test's own process, the way a worker would, one claim at a time."""
from __future__ import annotations

from collections.abc import Callable

from campaigns.models import Campaign
from campaigns.selectors import work_remaining
from campaigns.services import engine
from campaigns.services.jobs import ClaimedJob, jobs_claim
from campaigns.services.transitions import campaign_transition
from campaigns.workers import run_job


def run_jobs_here(*, until: Callable[[], bool] | None = None, worker_id: str = "in-process", limit: int = 4) -> None:
    """Claim and run jobs (chained phases included) until `until()` holds, or until no work is left."""
    done = until or (lambda: not work_remaining())
    while not done():
        engine.campaigns_activate(worker_id=worker_id)
        for job in jobs_claim(worker_id=worker_id, limit=limit):
            run_job(job, worker_id=worker_id)


def claim_http_jobs(dns_phase: Campaign, http_phase: Campaign, *, worker_id: str = "in-process",
                    limit: int = 10) -> list[ClaimedJob]:
    """Run a pipeline here up to its HTTP phase (held paused until DNS completes), then claim the
    HTTP phase's jobs, to be run step by step by the test."""
    campaign_transition(campaign_id=http_phase.pk, transition="pause", actor=None)
    run_jobs_here(until=lambda: Campaign.objects.get(pk=dns_phase.pk).status == "completed", worker_id=worker_id)
    campaign_transition(campaign_id=http_phase.pk, transition="resume", actor=None)
    engine.campaigns_activate(worker_id=worker_id)
    return jobs_claim(worker_id=worker_id, limit=limit)
