"""Proxy choice and health for one batch: strategies, failure counting, stats to persist (no I/O)."""
from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from campaigns.http.config import ParsedProxy, ProxyConfig, parse_proxy_url

PROXY_STRATEGIES = ("round_robin", "random", "least_used")


@dataclass(frozen=True)
class ProxyStats:
    key: str
    uses: int  # attempts made through this pool (not counting the `usage` it was seeded with)
    successes: int
    failures: int
    consecutive_failures: int
    healthy: bool


class ProxyPool:
    """Proxies chosen per attempt by strategy; one failing `unhealthy_after` times in a row is skipped.

    The caller seeds `usage` (earlier use counts, which least_used adds to this pool's own) and the
    `unhealthy` keys from what it persisted, and afterwards persists `stats()`: use, success and
    failure counts of this pool only (add them to the stored ones), consecutive failures and health.
    Used from one event loop only.
    """

    def __init__(
        self,
        proxies: Sequence[ProxyConfig],
        *,
        strategy: str = "round_robin",
        unhealthy_after: int = 3,
        usage: Mapping[str, int] | None = None,
        unhealthy: Iterable[str] = (),
        seed: int | None = None,
    ) -> None:
        if strategy not in PROXY_STRATEGIES:
            raise ValueError(f"unknown proxy strategy {strategy!r} (expected {', '.join(PROXY_STRATEGIES)})")
        if unhealthy_after < 1:
            raise ValueError(f"unhealthy_after must be >= 1, got {unhealthy_after}")
        keys = [proxy.key for proxy in proxies]
        if len(set(keys)) != len(keys):
            raise ValueError("proxy keys must be unique")
        self.strategy = strategy
        self.unhealthy_after = unhealthy_after
        self._proxies = list(proxies)
        self._parsed = {proxy.key: parse_proxy_url(proxy.url) for proxy in proxies}
        usage = usage or {}
        self._earlier_uses = {key: int(usage.get(key, 0)) for key in keys}
        self._uses = dict.fromkeys(keys, 0)
        self._successes = dict.fromkeys(keys, 0)
        self._failures = dict.fromkeys(keys, 0)
        down = set(unhealthy)
        self._consecutive = {key: (unhealthy_after if key in down else 0) for key in keys}
        self._cursor = 0
        self._rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self._proxies)

    def parsed(self, key: str) -> ParsedProxy:
        return self._parsed[key]

    def is_healthy(self, key: str) -> bool:
        return self._consecutive[key] < self.unhealthy_after

    def choose(self, *, avoid: Iterable[str] = ()) -> ProxyConfig | None:
        """The next healthy proxy by strategy, preferring ones not in `avoid`; None when none is healthy."""
        healthy = [proxy for proxy in self._proxies if self.is_healthy(proxy.key)]
        if not healthy:
            return None
        avoid = set(avoid)
        candidates = [proxy for proxy in healthy if proxy.key not in avoid] or healthy
        if self.strategy == "random":
            chosen = self._rng.choice(candidates)
        elif self.strategy == "least_used":
            chosen = min(candidates, key=lambda proxy: self._earlier_uses[proxy.key] + self._uses[proxy.key])
        else:
            allowed = {proxy.key for proxy in candidates}
            for step in range(len(self._proxies)):
                proxy = self._proxies[(self._cursor + step) % len(self._proxies)]
                if proxy.key in allowed:
                    self._cursor = (self._cursor + step + 1) % len(self._proxies)
                    chosen = proxy
                    break
        self._uses[chosen.key] += 1
        return chosen

    def record_success(self, key: str) -> None:
        self._successes[key] += 1
        self._consecutive[key] = 0

    def record_failure(self, key: str) -> None:
        self._failures[key] += 1
        self._consecutive[key] += 1

    def stats(self) -> tuple[ProxyStats, ...]:
        return tuple(
            ProxyStats(p.key, self._uses[p.key], self._successes[p.key], self._failures[p.key],
                       self._consecutive[p.key], self.is_healthy(p.key))
            for p in self._proxies
        )

