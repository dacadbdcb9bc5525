"""The worker loop: claim a job, run it outside any transaction, record it in one.

`Worker.process_one()` returns whether it found work, like a healthchecks
sender; `run_worker` calls it in a loop and sleeps with backoff when idle.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from uuid import UUID, uuid4

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from campaigns.models import CampaignType
from campaigns.services import engine, generation
from campaigns.services.jobs import ClaimedJob, LeaseLost, jobs_claim, jobs_heartbeat

logger = logging.getLogger("domainflow.worker")


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:6]}"


@dataclass
class WorkerStats:
    jobs_done: int = 0
    jobs_failed: int = 0
    items: int = 0
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, *, done: int = 0, failed: int = 0, items: int = 0) -> None:
        with self.lock:
            self.jobs_done += done
            self.jobs_failed += failed
            self.items += items


class LeaseKeeper:
    """Extends the leases of the jobs this process holds, from a thread of its own."""

    def __init__(self, *, lease_s: float) -> None:
        self.lease_s = lease_s
        self.held: set[UUID] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def hold(self, token: UUID) -> None:
        with self._lock:
            self.held.add(token)

    def release(self, token: UUID) -> None:
        with self._lock:
            self.held.discard(token)

    def _run(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            with self._lock:
                tokens = list(self.held)
            if not tokens:
                continue
            try:
                close_old_connections()
                jobs_heartbeat(lease_tokens=tokens, lease_s=self.lease_s)
            except DatabaseError:
                logger.warning("heartbeat failed; will retry", exc_info=True)
                connection.close()
        connection.close()


class Worker:
    """One claiming loop; several run as threads of a `run_worker --concurrency N` process."""

    MAINTENANCE_EVERY_S = 1.0

    def __init__(self, *, worker_id: str, keeper: LeaseKeeper, stats: WorkerStats | None = None) -> None:
        self.worker_id = worker_id
        self.keeper = keeper
        self.stats = stats or WorkerStats()
        self._last_maintenance = 0.0

    def maintain(self) -> None:
        """Pick up queued campaigns and requeue jobs whose worker died (at most once a second)."""
        now = time.monotonic()
        if now - self._last_maintenance < self.MAINTENANCE_EVERY_S:
            return
        self._last_maintenance = now
        engine.campaigns_activate(worker_id=self.worker_id)
        engine.jobs_reap_expired(worker_id=self.worker_id)

    def process_one(self) -> bool:
        """Claim and run one job; False when there was nothing to do."""
        close_old_connections()
        try:
            self.maintain()
            jobs = jobs_claim(worker_id=self.worker_id, limit=1, lease_s=self.keeper.lease_s)
        except DatabaseError:
            # A dropped connection (database restart, terminated backend): reconnect next time.
            logger.warning("worker %s: database unavailable", self.worker_id, exc_info=True)
            connection.close()
            return False
        if not jobs:
            return False
        for job in jobs:
            self.run(job)
        return True

    def run(self, job: ClaimedJob) -> None:
        self.keeper.hold(job.lease_token)
        try:
            items = run_job(job, worker_id=self.worker_id)
            self.stats.add(done=1, items=items)
        except LeaseLost:
            logger.info("worker %s: lost the lease of job %s; its work was discarded", self.worker_id, job.id)
        except Exception as exc:  # noqa: BLE001 - any failure of a batch is recorded on the job
            logger.warning("worker %s: job %s failed: %s", self.worker_id, job.id, exc, exc_info=True)
            self.stats.add(failed=1)
            self._record_failure(job, exc)
        finally:
            self.keeper.release(job.lease_token)

    def _record_failure(self, job: ClaimedJob, exc: Exception) -> None:
        if isinstance(exc, DatabaseError):
            connection.close()
        try:
            engine.job_fail_attempt(job=job, worker_id=self.worker_id, error=f"{type(exc).__name__}: {exc}", campaign_id=job.campaign_id)
        except DatabaseError:
            # Could not even record it: the lease expires and the reaper requeues the job.
            connection.close()


def run_job(job: ClaimedJob, *, worker_id: str) -> int:
    """Run one claimed job to completion; returns the number of items it recorded."""
    if job.campaign_type == CampaignType.DOMAIN_GENERATION:
        outcome = generation.generation_run_batch(job=job, worker_id=worker_id, campaign_id=job.campaign_id)
        return outcome.generated
    from campaigns.services import validation

    return validation.run_validation_job(job=job, worker_id=worker_id)


def lease_seconds() -> float:
    return float(settings.DOMAINFLOW_JOB_LEASE_SECONDS)
