"""Resolver choice per attempt by persona strategy (_Picker), with the sequential_failover cooldown."""
from __future__ import annotations

import asyncio
import bisect
import random

from campaigns.dns.config import DnsPersonaConfig

# A sequential_failover resolver that failed is skipped this long before it is tried again.
FAILOVER_COOLDOWN_S = 30.0


class _Picker:
    """Chooses the resolver for each attempt according to the persona's strategy."""

    def __init__(self, config: DnsPersonaConfig, loop: asyncio.AbstractEventLoop) -> None:
        self._strategy = config.strategy
        self._count = len(config.resolvers)
        self._weights = [r.weight for r in config.resolvers]
        self._cumulative = [sum(self._weights[: i + 1]) for i in range(self._count)]
        self._turn = 0
        self._loop = loop
        self._unhealthy_until = [0.0] * self._count

    def first(self) -> int:
        if self._count == 1:
            return 0
        strategy = self._strategy
        if strategy == "round_robin":
            index = self._turn
            self._turn = (index + 1) % self._count
            return index
        if strategy == "random":
            return random.randrange(self._count)
        if strategy == "weighted":
            return bisect.bisect(self._cumulative, random.random() * self._cumulative[-1])
        now = self._loop.time()
        for index, until in enumerate(self._unhealthy_until):
            if until <= now:
                return index
        return min(range(self._count), key=self._unhealthy_until.__getitem__)  # all failed: the earliest

    def next(self, tried: list[int]) -> int:
        """Another resolver than the last one tried, untried ones first."""
        count = self._count
        last = tried[-1]
        if count == 1:
            return 0
        if self._strategy in ("round_robin", "sequential_failover"):
            now = self._loop.time()
            order = [(last + step) % count for step in range(1, count)]
            if self._strategy == "sequential_failover":
                for index in order:
                    if index not in tried and self._unhealthy_until[index] <= now:
                        return index
            for index in order:
                if index not in tried:
                    return index
            return order[0]
        candidates = [i for i in range(count) if i not in tried] or [i for i in range(count) if i != last]
        if self._strategy == "random":
            return random.choice(candidates)
        return random.choices(candidates, weights=[self._weights[i] for i in candidates])[0]

    def failed(self, index: int) -> None:
        if self._strategy == "sequential_failover":
            self._unhealthy_until[index] = self._loop.time() + FAILOVER_COOLDOWN_S

    def succeeded(self, index: int) -> None:
        if self._strategy == "sequential_failover":
            self._unhealthy_until[index] = 0.0
