"""The worker engine: batches claimed, run and recorded side by side in one event loop.

A `run_worker` process runs `lanes` batches at once. Each lane claims a job,
reads its input, does the network part in the shared event loop (so a
persona's queries stay in flight across batch boundaries: one batch resolves
while another is written), and records the outcomes in one short transaction.
Database calls run on a thread pool, one connection per thread, never on the
loop. New work wakes an idle lane through LISTEN/NOTIFY, and a lane that finds
work wakes the next; a poll remains the fallback, one idle lane per worker at a time.
A lane with no job lends its fetchers to an HTTP batch still running
(campaigns/http/lending.py), so the last batches of a phase do not fetch
alone at their own allowance while the other lanes wait; and a worker
hands out the sites of one HTTP batch of a campaign at a time, leaving the
others to the other workers (campaigns/fetch_share.py).
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable
from uuid import UUID, uuid4

from django.db import DatabaseError, close_old_connections, connection

from campaigns import aio, dns, http
from campaigns.fetch_share import FetchShare
from campaigns.idle_lanes import IdleLanes
from campaigns.models import CampaignType
from campaigns.notify import WorkListener
from campaigns.outage import DatabaseUnavailable, Outage
from campaigns.selectors import work_remaining
from campaigns.services import engine
from campaigns.services.feed import PRIORITY
from campaigns.services.jobs import ClaimedJob, LeaseLost, jobs_claim, jobs_heartbeat
from campaigns.services.phases.batch import CampaignStopped
from campaigns.services.phases.dns import dns_load, dns_record_batch
from campaigns.services.phases.generation import generation_run_batch
from campaigns.services.phases.http import http_load, http_record_batch, proxies_record_health
from campaigns.services.phases.rows import record_or_isolate
from campaigns.services.ratelimit import SharedRateLimits
from txmetrics.decorators import connection_lost
from txmetrics.errors import TransactionRetriesExhausted, TransactionTimeout

logger = logging.getLogger("domainflow.worker")

MAINTENANCE_EVERY_S = 1.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:6]}"


@dataclass
class WorkerStats:
    jobs_done: int = 0
    jobs_failed: int = 0
    items: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, *, done: int = 0, failed: int = 0, items: int = 0) -> None:
        with self.lock:
            self.jobs_done += done
            self.jobs_failed += failed
            self.items += items


def db_call(outage: Outage, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Run a service on this thread's connection; a lost connection becomes DatabaseUnavailable."""
    try:
        close_old_connections()
        result = fn(**kwargs)
    except DatabaseError as exc:
        if not connection_lost(exc):
            raise
        connection.close()
        outage.failed(exc)
        raise DatabaseUnavailable(str(exc)) from exc
    outage.ok()
    return result


def _close_own_connection(barrier: threading.Barrier) -> None:
    try:
        barrier.wait(timeout=5)
    except threading.BrokenBarrierError:
        pass  # a thread that never started has no connection to close
    connection.close()


class LeaseKeeper:
    """Extends the leases of the jobs this process holds, from a thread of its own."""

    def __init__(self, *, lease_s: float, outage: Outage | None = None) -> None:
        self.lease_s = lease_s
        self.held: set[UUID] = set()
        self._outage = outage or Outage(logger)
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
            if tokens:
                try:
                    db_call(self._outage, jobs_heartbeat, lease_tokens=tokens, lease_s=self.lease_s)
                except DatabaseUnavailable:
                    pass  # logged once by the outage; the next beat tries again
        connection.close()


class Engine:
    """The lanes of one worker process and what they share: the loop, the pool, the wake-ups."""

    def __init__(self, *, worker_id: str, lanes: int, keeper: LeaseKeeper, outage: Outage, stats: WorkerStats,
                 stopping: threading.Event, burst: bool = False, idle_sleep: float = 1.0) -> None:
        self.worker_id = worker_id
        self.lanes = lanes
        self.keeper = keeper
        self.outage = outage
        self.stats = stats
        self.stopping = stopping
        self.burst = burst
        # Two calls per lane (a job's write beside the next job's claim or input) and one for
        # maintenance, so no lane's writes can hold back the others' or maintenance.
        self._threads = 2 * lanes + 1
        self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="db")
        self._idle = IdleLanes(stopping=stopping, idle_sleep=idle_sleep)
        # Set when a campaign is announced as queued: maintenance activates it at once.
        self._announced: asyncio.Event | None = None
        self._rates: SharedRateLimits | None = None
        self._connections: http.ConnectionPool | None = None
        self._lenders = http.Lenders()
        # A batch whose last site went to a fetcher wakes an idle lane: it may claim the next.
        self._share = FetchShare(on_release=self._idle.ring)
        self._claiming = asyncio.Lock()

    def run(self) -> None:
        """Run every lane until stopped (or, with burst, until no work is left); blocks."""
        aio.run(self._main())

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._announced = asyncio.Event()
        self._rates = SharedRateLimits()
        # Keep-alive connections outlive a batch: the next batch to the same hosts starts on them.
        self._connections = http.ConnectionPool()
        listener = WorkListener(on_work=lambda queued: loop.call_soon_threadsafe(self._announce, queued))
        listener.start()
        try:
            helpers = [asyncio.create_task(self._maintain()), asyncio.create_task(self._idle.poll())]
            # With several lanes, the first claims generation batches before any other: a pipeline's
            # generation runs one batch at a time, and behind the later phases' queue (claimed first)
            # it starved them of input and left lanes idle (docs/DECISIONS.md).
            await asyncio.gather(*(self._lane(generation_first=number == 0 and self.lanes > 1)
                                   for number in range(self.lanes)))
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
        finally:
            listener.stop()
            self._rates.close()
            await self._connections.aclose()
            # Each pool thread closes its own connection: `connection` must be looked up in the pool
            # thread (connection.close bound here would close this thread's), and the barrier makes
            # every thread take exactly one of the closes.
            barrier = threading.Barrier(self._threads)
            for _ in range(self._threads):
                self._pool.submit(_close_own_connection, barrier)
            self._pool.shutdown(wait=True)

    async def call(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(db_call, self.outage, fn, **kwargs))

    async def _maintain(self) -> None:
        """Pick up queued campaigns, requeue lost leases, finish idle phases: once a second, and
        pick up a campaign at once when one is announced as queued."""
        due = 0.0
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            try:
                if await self.call(engine.campaigns_activate, worker_id=self.worker_id):
                    self._idle.ring()
                if loop.time() >= due:
                    due = loop.time() + MAINTENANCE_EVERY_S
                    await self.call(engine.jobs_reap_expired, worker_id=self.worker_id)
                    await self.call(engine.phases_finish_idle, worker_id=self.worker_id)
            except DatabaseUnavailable:
                pass
            except (TransactionTimeout, TransactionRetriesExhausted) as exc:
                # Contention, not a fault: the next round tries again.
                logger.warning("worker %s: maintenance gave up for this round: %s", self.worker_id, exc)
            except Exception:  # noqa: BLE001 - no one failure may end maintenance: without it this worker
                # would never again start a queued campaign, requeue a lost lease or finish an idle phase.
                logger.warning("worker %s: maintenance failed", self.worker_id, exc_info=True)
            # Lanes only claim jobs of running campaigns, so a campaign just queued is activated
            # at once, not at the next poll.
            try:
                await asyncio.wait_for(self._announced.wait(), timeout=max(0.0, due - loop.time()))
            except TimeoutError:
                pass
            self._announced.clear()

    def _announce(self, queued: bool) -> None:
        """New work was announced (on the loop's thread): wake an idle lane, and maintenance for a campaign."""
        self._idle.ring()
        if queued:
            self._announced.set()

    async def _lane(self, *, generation_first: bool = False) -> None:
        prefer = PRIORITY[CampaignType.DOMAIN_GENERATION] if generation_first else None
        idle = 0
        loan: http.Loan | None = None  # this lane's fetchers, lent to a running batch while it has no job
        writing: asyncio.Task | None = None  # the lane's previous job, still writing its results
        while not self.stopping.is_set():
            try:
                claimed = await self._claim(prefer)
            except DatabaseUnavailable:
                await asyncio.sleep(min(2.0, 0.1 * 2 ** min(idle, 5)))
                idle += 1
                continue
            if claimed is not None:
                job, release = claimed
                idle = 0
                self._idle.ring()  # there may be more: the next idle lane looks
                if loan is not None:
                    self._lenders.recall(loan)
                    loan = None
                # The next job is claimed as soon as this one's network part is done: its write
                # overlaps the next job's input and network. At most one job per lane writes.
                networked = asyncio.Event()
                running = asyncio.create_task(self.run_job(job, networked=networked, all_taken=release))
                try:
                    await networked.wait()
                finally:
                    release()
                if writing is not None:
                    await writing
                writing = running
                continue
            if self.burst and not await self._work_left():
                self._idle.ring_all()  # the other idle lanes find the same and leave too
                break
            if loan is None:
                loan = self._lenders.lend()
            await self._idle.wait()
        if loan is not None:
            self._lenders.recall(loan)
        if writing is not None:
            await writing

    async def _claim(self, prefer: int | None) -> tuple[ClaimedJob, Callable[[], None]] | None:
        """A job for a lane, with the call that ends its count in the worker's HTTP share. A worker's
        lanes claim one at a time, so lanes claiming together cannot overrun a share."""
        async with self._claiming:
            jobs = await self.call(jobs_claim, worker_id=self.worker_id, limit=1, lease_s=self.keeper.lease_s,
                                   prefer_priority=prefer, skip=self._share.full())
            return (jobs[0], self._share.hold(jobs[0])) if jobs else None

    async def _work_left(self) -> bool:
        try:
            return await self.call(work_remaining)
        except DatabaseUnavailable:
            return True

    async def run_job(self, job: ClaimedJob, networked: asyncio.Event | None = None,
                      all_taken: Callable[[], None] | None = None) -> None:
        """Run a job to its end; `networked` is set once only its write is left (or it has ended)."""
        networked = networked if networked is not None else asyncio.Event()
        self.keeper.hold(job.lease_token)
        try:
            items = await self._run(job, networked, all_taken)
            self.stats.add(done=1, items=items)
        except LeaseLost:
            logger.info("worker %s: lost the lease of job %s; its work was discarded", self.worker_id, job.id)
        except CampaignStopped:
            await self._settle(engine.job_settle_stopped, job=job)
        except DatabaseUnavailable:
            # Not the batch's fault: given back, its attempt not counted, as soon as the database answers.
            await self._settle(engine.job_give_back_uncounted, job=job, error="database connection lost")
        except Exception as exc:  # noqa: BLE001 - any failure of a batch is recorded on the job
            logger.warning("worker %s: job %s failed: %s", self.worker_id, job.id, exc)
            self.stats.add(failed=1)
            error = f"{type(exc).__name__}: {exc}"
            await self._settle(engine.job_fail_attempt, job=job, worker_id=self.worker_id, error=error)
        finally:
            self.keeper.release(job.lease_token)
            networked.set()

    async def _settle(self, fn: Callable[..., Any], /, **kwargs: Any) -> None:
        """Record what became of a job, waiting out an outage (while the lease keeper still holds it)."""
        delay = 0.1
        while not self.stopping.is_set():
            try:
                await self.call(fn, **kwargs)
                return
            except DatabaseUnavailable:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        # Stopping: the lease expires and the reaper gives the job back.

    async def _run(self, job: ClaimedJob, networked: asyncio.Event, all_taken: Callable[[], None] | None) -> int:
        if job.campaign_type == CampaignType.DOMAIN_GENERATION:
            return await self.call(generation_run_batch, job=job, worker_id=self.worker_id)
        if job.campaign_type == CampaignType.DNS_VALIDATION:
            work = await self.call(dns_load, job=job)
            outcomes = await dns.resolve_many(work.domains, personas=work.personas, rate_reserver=self._rates) if work.domains else []
            networked.set()
            return await self._record(dns_record_batch, job=job, outcomes=outcomes)
        work = await self.call(http_load, job=job)
        outcomes = await http.fetch_many(work.targets, connections=self._connections, lenders=self._lenders,
                                         on_all_taken=all_taken, **work.options) if work.targets else []
        networked.set()
        if work.proxies is not None:
            await self.call(proxies_record_health, stats=work.proxies.stats())
        return await self._record(http_record_batch, job=job, work=work, outcomes=outcomes)

    async def _record(self, fn: Callable[..., int], /, **kwargs: Any) -> int:
        return await self.call(partial(record_or_isolate, fn), worker_id=self.worker_id, **kwargs)


def run_job(job: ClaimedJob, *, worker_id: str) -> int:
    """Run one claimed job in this thread, step after step (tests and tools; workers use Engine)."""
    if job.campaign_type == CampaignType.DOMAIN_GENERATION:
        return generation_run_batch(job=job, worker_id=worker_id)
    if job.campaign_type == CampaignType.DNS_VALIDATION:
        work = dns_load(job=job)
        with SharedRateLimits() as rates:
            outcomes = dns.resolve_batch(work.domains, personas=work.personas, rate_reserver=rates) if work.domains else []
        return record_or_isolate(dns_record_batch, job=job, worker_id=worker_id, outcomes=outcomes)
    work = http_load(job=job)
    outcomes = http.fetch_batch(work.targets, **work.options) if work.targets else []
    if work.proxies is not None:
        proxies_record_health(stats=work.proxies.stats())
    return record_or_isolate(http_record_batch, job=job, worker_id=worker_id, work=work, outcomes=outcomes)
