"""Query pacing: per-loop persona in-flight slots, the local token bucket and the shared (cross-process) bucket."""
from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Callable

from campaigns.dns.config import RATE_GRANT_S, DnsPersonaConfig, RateReserver

class _Slots:
    """At most `limit` holders at once; a released slot goes straight to a waiter of the oldest call.

    A worker runs several batches' queries against one cap, so most queries
    wait for a slot. Waiters are callbacks, called with the slot in hand, so a
    released slot becomes the next query at once, without a task waking up to
    take it (see campaigns/dns/lookup.py). A waiter returns whether it took
    the slot: one whose lookup was abandoned while it waited declines it, and
    the slot goes on to the next.

    Each resolve_many call waits in a queue of its own, and a slot goes to the
    oldest call that has a waiter: a worker's batches then finish one after
    another, each written while the next resolves, instead of all together
    with their writes piled up at the end (docs/DECISIONS.md, "The oldest DNS
    batch of a worker resolves first").
    """

    __slots__ = ("_free", "_queues")

    def __init__(self, limit: int) -> None:
        self._free = limit
        # By call, oldest first: calls join in the order they start (dicts keep insertion order).
        self._queues: dict[int, deque[Callable[[], bool]]] = {}

    def join(self, call: int) -> None:
        """A call starts queueing under this number, after every call already here."""
        self._queues[call] = deque()

    def leave(self, call: int) -> None:
        """The call ended: its waiters, all of them abandoned by now, are dropped."""
        self._queues.pop(call, None)

    def acquire(self, call: int, granted: Callable[[], bool]) -> None:
        """Call `granted` with a slot: now if one is free, else when one is released to it."""
        if self._free:
            self._free -= 1
            granted()
        else:
            self._queues[call].append(granted)

    def release(self) -> None:
        for waiters in self._queues.values():
            while waiters:
                if waiters.popleft()():
                    return
        self._free += 1


# A persona's in-flight cap holds for its whole process, across every batch resolving at once
# in one event loop: a worker runs several batches side by side to keep that many in flight.
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, int], _Slots]] = (
    weakref.WeakKeyDictionary()
)


def _persona_slots(loop: asyncio.AbstractEventLoop, config: DnsPersonaConfig) -> _Slots:
    slots = _SLOTS.setdefault(loop, {})
    key = (config.name, config.max_in_flight)
    if key not in slots:
        slots[key] = _Slots(config.max_in_flight)
    return slots[key]


class _TokenBucket:
    """Spaces queries at `rate` per second, with a burst of at most 10 ms worth (at least one query)."""

    def __init__(self, rate: float, loop: asyncio.AbstractEventLoop) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate / 100)
        self._tokens = self._capacity
        self._loop = loop
        self._stamp = loop.time()

    async def take(self) -> None:
        now = self._loop.time()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        self._tokens -= 1
        if self._tokens < 0:
            # In debt: each waiter sleeps until its own token is due, so waits never pile up late.
            await asyncio.sleep(-self._tokens / self._rate)


class _SharedBucket:
    """Spaces queries at `rate` per second across every process that reserves under the same key.

    Time is cut into windows reserved one after another from a shared store (the
    reserver): a grant of n queries owns a window of n / rate seconds that starts
    where the previous grant, anyone's, ended. Queries inside a grant are spaced
    1 / rate apart, so however many workers share a persona, together they stay
    at its rate. Grants are sized to the `expected` queries still to come (first
    attempts) and retries beyond them take small grants, so a grant left partly
    unused when a batch ends wastes little of the shared time.
    """

    def __init__(
        self, key: str, rate: float, reserver: RateReserver, loop: asyncio.AbstractEventLoop, *, expected: int
    ) -> None:
        self._key = key
        self._rate = rate
        self._reserver = reserver
        self._loop = loop
        self._full_grant = max(1, round(rate * RATE_GRANT_S))
        self._small_grant = max(1, self._full_grant // 10)
        self._expected = expected
        self._taken = 0
        self._lock = asyncio.Lock()
        self._start = 0.0
        self._granted = self._used = 0

    async def take(self) -> None:
        async with self._lock:  # one refill at a time; the wait itself happens outside the lock
            if self._used == self._granted:
                still_expected = self._expected - self._taken
                size = min(self._full_grant, still_expected) if still_expected > 0 else self._small_grant
                delay = await self._reserver(self._key, size, self._rate)
                self._start = self._loop.time() + max(0.0, delay)
                self._granted, self._used = size, 0
            due = self._start + self._used / self._rate
            self._used += 1
            self._taken += 1
        wait = due - self._loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
