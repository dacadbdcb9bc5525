from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from rich.console import Console
from rich.live import Live

from campaigns import aio
from campaigns.outage import Outage
from campaigns.workers import Engine, LeaseKeeper, WorkerStats, new_worker_id

logger = logging.getLogger("domainflow.worker")

RATE_WINDOW_S = 5.0
IDLE_REPORT_S = 300.0  # how often an idle worker reporting in lines says it is still there


class RecentRate:
    """Jobs and items per second over about the last RATE_WINDOW_S seconds.

    A worker runs for days and is idle between campaigns: an average over its whole life would show
    a worker that has been idle for an hour as still working. The rate is measured from the newest
    reading at least the window old (or the first) to now."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._readings: deque[tuple[float, int, int]] = deque()

    def update(self, stats: WorkerStats, now: float) -> tuple[float, float, float]:
        """(jobs/s, items/s, seconds they were measured over) up to `now` (time.monotonic())."""
        self._readings.append((now, stats.jobs_done, stats.items))
        while len(self._readings) > 1 and now - self._readings[1][0] >= self.window_s:
            self._readings.popleft()
        since, jobs, items = self._readings[0]
        span = now - since
        if span <= 0:
            return 0.0, 0.0, 0.0
        return (stats.jobs_done - jobs) / span, (stats.items - items) / span, span


class ReportPacer:
    """When a worker writes its next report line (JSON or text; a terminal of its own gets a live line).

    Every RATE_WINDOW_S seconds while it works. Once a line has shown it idle (no rate, the same
    totals), the next comes when its totals change, or after IDLE_REPORT_S: a worker idle between
    campaigns for days wrote the same line every few seconds, burying the lines around it (under
    `manage.py up`, the admin login shown once)."""

    def __init__(self) -> None:
        self._at: float | None = None
        self._last: dict[str, object] = {}

    def due(self, snapshot: dict[str, object], now: float) -> bool:
        """Whether to write this snapshot now (time.monotonic()); if so, it becomes the last line."""
        if self._at is not None:
            since = now - self._at
            if since < RATE_WINDOW_S or (self._idle(snapshot) and since < IDLE_REPORT_S):
                return False
        self._at, self._last = now, snapshot
        return True

    def _idle(self, snapshot: dict[str, object]) -> bool:
        last = self._last
        return (last["items_per_s"] == 0 and last["jobs_per_s"] == 0
                and all(snapshot[key] == last[key] for key in ("jobs_done", "jobs_failed", "items")))


class Command(BaseCommand):
    help = (
        "Run a worker: claim and run campaign batches until stopped (SIGTERM/SIGINT), or until none are left "
        "with --burst. See docs/ARCHITECTURE.md for how batches flow."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency", type=int, default=8,
            help="Lanes (1-64, default 8): each resolves or fetches one batch at a time and claims its next "
                 "while its last is written (docs/DECISIONS.md).",
        )
        parser.add_argument("--burst", action="store_true", help="Exit 0 when no work is left.")
        parser.add_argument(
            "--idle-sleep", type=float, default=1.0,
            help="Seconds between an idle worker's polls, 0.05-60: each wakes one idle lane to look (new work also "
                 "wakes the worker at once).",
        )
        parser.add_argument(
            "--report", choices=("auto", "text", "json"), default="auto",
            help="How it reports its totals and recent rates on stderr: auto (default) is a live line on a terminal "
                 "and JSON lines otherwise; text and json are lines whatever stderr is, every 5 s while it works "
                 "and every 5 minutes while idle (docs/DECISIONS.md, \"An idle worker's log goes quiet\").",
        )

    def handle(self, *args, concurrency: int, burst: bool, idle_sleep: float, report: str, **options):
        if not 1 <= concurrency <= 64:
            raise CommandError("--concurrency must be between 1 and 64")
        if not 0.05 <= idle_sleep <= 60:
            raise CommandError("--idle-sleep must be between 0.05 and 60 seconds")
        self.stopping = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        outage = Outage(logger)
        keeper = LeaseKeeper(lease_s=float(settings.DOMAINFLOW_JOB_LEASE_SECONDS), outage=outage)
        keeper.start()
        stats = WorkerStats()
        base_id = new_worker_id()
        aio.collect_less()
        aio.open_files_to_hard_limit()
        engine = Engine(worker_id=base_id, lanes=concurrency, keeper=keeper, outage=outage, stats=stats,
                        stopping=self.stopping, burst=burst, idle_sleep=idle_sleep)
        thread = threading.Thread(target=engine.run, name="engine")
        thread.start()
        if report == "auto":
            report = "live" if sys.stderr.isatty() else "json"
        if report == "live":
            self._live([thread], stats, base_id)
        else:
            self._lines([thread], stats, base_id, self._json if report == "json" else self._text)
        keeper.stop()
        connection.close()

    def _live(self, threads: list[threading.Thread], stats: WorkerStats, worker_id: str) -> None:
        """A line redrawn in place on stderr, for a terminal the worker has to itself (rich draws on
        stdout unless told otherwise: a worker whose stdout went to a file drew nothing on its terminal)."""
        rate = RecentRate()
        with Live(console=Console(stderr=True), refresh_per_second=4, transient=False) as live:
            while any(t.is_alive() for t in threads):
                live.update(self._text(self._snapshot(stats, worker_id, rate)))
                time.sleep(0.25)
            live.update(self._text(self._snapshot(stats, worker_id, rate)))

    def _lines(self, threads: list[threading.Thread], stats: WorkerStats, worker_id: str,
               line: Callable[[dict[str, object], str], str]) -> None:
        """A line when it starts and stops, and in between as ReportPacer says."""
        rate, pacer = RecentRate(), ReportPacer()
        start = self._snapshot(stats, worker_id, rate)
        pacer.due(start, time.monotonic())
        self.stderr.write(line(start, "started"))
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.2)
            snapshot = self._snapshot(stats, worker_id, rate)
            if pacer.due(snapshot, time.monotonic()):
                self.stderr.write(line(snapshot, ""))
        self.stderr.write(line(self._snapshot(stats, worker_id, rate), "stopped"))

    @staticmethod
    def _snapshot(stats: WorkerStats, worker_id: str, rate: RecentRate) -> dict[str, object]:
        """Totals since the worker started; rates over the last few seconds (`rate_over_s`)."""
        jobs_per_s, items_per_s, over_s = rate.update(stats, time.monotonic())
        return {
            "worker": worker_id,
            "jobs_done": stats.jobs_done,
            "jobs_failed": stats.jobs_failed,
            "items": stats.items,
            "items_per_s": round(items_per_s, 1),
            "jobs_per_s": round(jobs_per_s, 2),
            "rate_over_s": round(over_s, 1),
        }

    @staticmethod
    def _json(s: dict[str, object], event: str = "") -> str:
        return json.dumps({**s, "event": event} if event else s)

    @staticmethod
    def _text(s: dict[str, object], event: str = "") -> str:
        return (
            f"{s['worker']}{f' {event}:' if event else ''} jobs {s['jobs_done']} ({s['jobs_per_s']}/s) · failed"
            f" {s['jobs_failed']} · items {s['items']} ({s['items_per_s']}/s over the last {s['rate_over_s']} s)"
        )
