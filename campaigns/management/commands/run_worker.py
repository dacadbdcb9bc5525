from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections, connection

from campaigns.selectors import work_remaining
from campaigns.workers import LeaseKeeper, Worker, WorkerStats, lease_seconds, new_worker_id

logger = logging.getLogger("domainflow.worker")


class Command(BaseCommand):
    help = "Run a worker: claim and run campaign jobs until stopped (SIGTERM/SIGINT), or until none are left with --burst."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=1, help="Claiming loops (threads) in this process.")
        parser.add_argument("--burst", action="store_true", help="Exit 0 when no work is left.")
        parser.add_argument("--idle-sleep", type=float, default=1.0, help="Longest sleep when idle, in seconds.")

    def handle(self, *args, concurrency: int, burst: bool, idle_sleep: float, **options):
        if not 1 <= concurrency <= 64:
            raise CommandError("--concurrency must be between 1 and 64")
        self.stopping = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        keeper = LeaseKeeper(lease_s=lease_seconds())
        keeper.start()
        stats = WorkerStats()
        base_id = new_worker_id()
        threads = [
            threading.Thread(
                target=self._loop,
                args=(Worker(worker_id=f"{base_id}/{n}", keeper=keeper, stats=stats), burst, idle_sleep),
                name=f"worker-{n}",
            )
            for n in range(concurrency)
        ]
        for thread in threads:
            thread.start()
        self._report(threads, stats, base_id)
        keeper.stop()
        connection.close()

    def _loop(self, worker: Worker, burst: bool, idle_sleep: float) -> None:
        idle = 0
        try:
            while not self.stopping.is_set():
                if worker.process_one():
                    idle = 0
                    continue
                if burst and self._nothing_left():
                    return
                idle += 1
                # Back off while idle: 50 ms, doubling, up to idle_sleep.
                self.stopping.wait(min(idle_sleep, 0.05 * 2 ** min(idle, 6)))
        finally:
            connection.close()

    @staticmethod
    def _nothing_left() -> bool:
        try:
            close_old_connections()
            return not work_remaining()
        except DatabaseError:
            connection.close()
            return False

    def _report(self, threads: list[threading.Thread], stats: WorkerStats, worker_id: str) -> None:
        """A live line on a terminal; a structured log line every few seconds otherwise."""
        if sys.stderr.isatty():
            from rich.live import Live

            with Live(refresh_per_second=4, transient=False) as live:
                while any(t.is_alive() for t in threads):
                    live.update(self._line(stats, worker_id))
                    time.sleep(0.25)
                live.update(self._line(stats, worker_id))
            return
        last = time.monotonic()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.2)
            if time.monotonic() - last >= 5:
                last = time.monotonic()
                self.stderr.write(json.dumps(self._snapshot(stats, worker_id)))
        self.stderr.write(json.dumps({**self._snapshot(stats, worker_id), "event": "stopped"}))

    @staticmethod
    def _snapshot(stats: WorkerStats, worker_id: str) -> dict[str, object]:
        elapsed = max(time.monotonic() - stats.started, 1e-3)
        return {
            "worker": worker_id,
            "jobs_done": stats.jobs_done,
            "jobs_failed": stats.jobs_failed,
            "items": stats.items,
            "items_per_s": round(stats.items / elapsed, 1),
            "jobs_per_s": round(stats.jobs_done / elapsed, 2),
        }

    def _line(self, stats: WorkerStats, worker_id: str) -> str:
        s = self._snapshot(stats, worker_id)
        return (
            f"[bold]{worker_id}[/] jobs {s['jobs_done']} ({s['jobs_per_s']}/s) · failed {s['jobs_failed']}"
            f" · items {s['items']} ({s['items_per_s']}/s)"
        )
