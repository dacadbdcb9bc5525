"""Running campaign jobs in the test's own process, the way a worker would, one claim at a time."""
from __future__ import annotations

from collections.abc import Callable

from campaigns.selectors import work_remaining
from campaigns.services import engine
from campaigns.services.jobs import jobs_claim
from campaigns.workers import run_job


def run_jobs_here(*, until: Callable[[], bool] | None = None, worker_id: str = "in-process", limit: int = 4) -> None:
    """Claim and run jobs (chained phases included) until `until()` holds, or until no work is left."""
    done = until or (lambda: not work_remaining())
    while not done():
        engine.campaigns_activate(worker_id=worker_id)
        for job in jobs_claim(worker_id=worker_id, limit=limit):
            run_job(job, worker_id=worker_id)
