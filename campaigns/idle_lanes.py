"""A worker's idle lanes: who waits, who is woken, and the poll that remains the fallback.

New work wakes one idle lane, the one waiting longest, and a lane that claims a job wakes the
next: as many lanes claim as there are jobs, plus one. Waking every idle lane instead made all of
them claim for each job queued alone, a generation's next batch say, in every worker. The poll,
for work nothing announces (a retry coming due, a job given back, a lost notice), wakes one lane
every idle_sleep: through an HTTP phase most lanes of a worker idle (one batch of a campaign hands
out sites at a time, campaigns/fetch_share.py), and their own looks were most of the claims that
found nothing (docs/DECISIONS.md, "The worker engine" and "One idle lane looks at a time").
Used from the event loop's thread only.
"""
from __future__ import annotations

import asyncio
import threading
from collections import deque

STOP_CHECK_S = 0.25  # how soon idle lanes see that the worker is stopping, whatever idle_sleep is


class IdleLanes:
    """The idle lanes of one worker, longest waiting first."""

    def __init__(self, *, stopping: threading.Event, idle_sleep: float) -> None:
        self.stopping = stopping
        self.idle_sleep = idle_sleep
        self._waiting: deque[asyncio.Future[None]] = deque()
        # A wake-up that found no lane waiting: the next lane to go idle looks once more at once.
        self._rung = False

    async def wait(self) -> None:
        """Wait until this lane is woken: by new work or the poll (ring), or for stopping (ring_all)."""
        # Work was announced while this lane was claiming, or the worker is stopping: no wait.
        if self._rung or self.stopping.is_set():
            self._rung = False
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._waiting:  # cancelled: no longer waiting
                self._waiting.remove(waiter)

    def ring(self) -> None:
        """Wake one idle lane, the one waiting longest."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():  # a cancelled one may not have left the queue yet
                waiter.set_result(None)
                return
        # No lane waits: one may have found nothing just before the work committed. The next lane
        # to go idle looks again, as the notice would have made it.
        self._rung = True

    def ring_all(self) -> None:
        """Wake every idle lane: the worker is stopping, or (burst) no work is left."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def poll(self) -> None:
        """Wake the lane idle longest every idle_sleep while lanes are idle; when stopping, all of them."""
        loop = asyncio.get_running_loop()
        due = loop.time() + self.idle_sleep
        while not self.stopping.is_set():
            await asyncio.sleep(min(STOP_CHECK_S, self.idle_sleep))
            if loop.time() >= due:
                due = loop.time() + self.idle_sleep
                if self._waiting:
                    self.ring()
        self.ring_all()
