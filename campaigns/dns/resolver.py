"""Resolving domains through personas: resolve_many/resolve_batch, a call's names looked up side by side."""
from __future__ import annotations

import asyncio
from collections.abc import Sequence

from campaigns.dns.config import DnsOutcome, DnsPersonaConfig, RateReserver
from campaigns.dns.lookup import _Lookup, _PersonaRun


def resolve_batch(
    domains: Sequence[str], *, personas: Sequence[DnsPersonaConfig], rate_reserver: RateReserver | None = None
) -> list[DnsOutcome]:
    """Resolve domains from synchronous code (workers call it outside any transaction)."""
    return asyncio.run(resolve_many(domains, personas=personas, rate_reserver=rate_reserver))


async def resolve_many(
    domains: Sequence[str], *, personas: Sequence[DnsPersonaConfig], rate_reserver: RateReserver | None = None
) -> list[DnsOutcome]:
    """Resolve domains through the personas, in order; outcomes come back in input order.

    A persona's rate limit holds for this call alone, or, with `rate_reserver`, for every
    caller sharing the reserver's store (all workers of all hosts): see _SharedBucket.
    """
    if not personas:
        raise ValueError("at least one DNS persona is required")
    loop = asyncio.get_running_loop()
    runs: list[_PersonaRun] = []
    try:
        for config in personas:
            runs.append(_PersonaRun(config, loop, rate_reserver, expected_names=len(domains)))
        return await _Call(domains, runs, loop).outcomes()
    finally:
        for run in runs:
            run.close()


class _Call:
    """One resolve_many call: its names looked up side by side, each next name as one finishes."""

    def __init__(self, domains: Sequence[str], runs: list[_PersonaRun], loop: asyncio.AbstractEventLoop) -> None:
        self._domains = domains
        self._runs = runs
        self._count = len(domains)
        self._outcomes: list[DnsOutcome | None] = [None] * self._count
        self._left = self._count
        self._next = 0
        # A lookup has at most one query in flight, so half this many can fill every persona's cap;
        # the other half already waits when a slot comes free, so that the oldest call, which the
        # slots serve first, keeps every slot it can use (limits._Slots).
        self._width = min(len(domains), 2 * sum(run.max_in_flight for run in runs))
        self._active: set[_Lookup] = set()
        self._filling = False
        self._done: asyncio.Future[list[DnsOutcome]] = loop.create_future()

    async def outcomes(self) -> list[DnsOutcome]:
        if not self._domains:
            return []
        try:
            self._fill()
            return await self._done
        finally:  # cancelled or failed: the lookups still running stop, then their slots go back
            held = [lookup.abandon() for lookup in self._active]
            self._active.clear()
            for slots in held:
                if slots is not None:
                    slots.release()

    def finished(self, lookup: _Lookup, outcome: DnsOutcome) -> None:
        self._outcomes[lookup.index] = outcome
        self._active.discard(lookup)
        self._left -= 1
        if self._left:
            if self._next < self._count:
                self._fill()
        elif not self._done.done():
            self._done.set_result(self._outcomes)  # type: ignore[arg-type]

    def failed(self, error: Exception) -> None:
        if not self._done.done():
            self._done.set_exception(error)

    def _fill(self) -> None:
        """Start names until `width` are running; a lookup that ends at once (an invalid name) does
        not start the next one itself, so a run of them loops here instead of recursing."""
        if self._filling:
            return
        self._filling = True
        try:
            active, count, width, done = self._active, self._count, self._width, self._done
            while len(active) < width and self._next < count and not done.done():
                index = self._next
                self._next = index + 1
                lookup = _Lookup(self._domains[index], index, self._runs, self)
                active.add(lookup)
                lookup.start()
        finally:
            self._filling = False
