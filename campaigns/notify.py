"""New work announced by PostgreSQL: LISTEN on the channel the job and campaign triggers NOTIFY.

The triggers notify when jobs are inserted and when a campaign becomes
queued (migration 0007) or running (0011: a started campaign's jobs exist
before it runs, and lanes claim only jobs of running campaigns). A
notification is delivered when its transaction commits, so a woken worker
always finds the work committed. The listener runs on a thread of its own
with its own connection; polling stays the fallback.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

import psycopg
from django.db import connections

CHANNEL = "domainflow_work"

logger = logging.getLogger("domainflow.worker")


class WorkListener:
    """Calls on_work(queued) for each notification: queued is True when a campaign became queued
    (then maintenance activates it), False for new jobs or a campaign now running (lanes claim)."""

    def __init__(self, *, on_work: Callable[[bool], None]) -> None:
        self._on_work = on_work
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="work-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        params = connections["default"].get_connection_params()
        while not self._stop.is_set():
            try:
                with psycopg.connect(**params, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._on_work(True)  # anything announced while not listening
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            self._on_work(notice.payload == "campaigns_campaign")
            except psycopg.Error:
                # The database is down or restarting: the lanes' own calls report the outage.
                self._stop.wait(1.0)
