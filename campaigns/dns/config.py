"""DNS configuration types and parsing: resolvers, personas, outcomes, rate-reserver contract (pure, no I/O).

Models and the config import/export read these; the network client lives in wire/resolver.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple

STRATEGIES = ("random", "weighted", "round_robin", "sequential_failover")
RECORD_TYPES = {"A": 1, "AAAA": 28}


# Reserves `count` queries at `rate` per second under `key` for every process sharing the key;
# answers how many seconds from now the reserved window starts (see _SharedBucket).
RateReserver = Callable[[str, int, float], Awaitable[float]]
# A shared rate limit is taken in grants of this many seconds' worth of queries (one query at least).
RATE_GRANT_S = 0.2


@dataclass(frozen=True, slots=True)
class Resolver:
    """One recursive resolver, by IP address (never a name: resolving it would need DNS)."""

    host: str
    port: int = 53
    weight: int = 1

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            raise ValueError(f"invalid resolver {self.host!r}: must be an IP address") from None
        if not 1 <= self.port <= 65535:
            raise ValueError(f"invalid resolver port {self.port}: must be 1-65535")
        if self.weight < 1:
            raise ValueError(f"invalid resolver weight {self.weight}: must be at least 1")

    @property
    def address(self) -> str:
        """The resolver as "ip:port" ("[v6]:port" for IPv6), the form parse_resolver reads."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_resolver(text: str, *, weight: int = 1) -> Resolver:
    """Parse "ip", "ip:port", "v6" or "[v6]:port" into a Resolver."""
    raw = text.strip()
    host, port = raw, "53"
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"invalid resolver {text!r}: expected [IPv6]:port")
        port = rest[1:] if rest else "53"
        if "." in host:
            raise ValueError(f"invalid resolver {text!r}: brackets are for IPv6 addresses only")
    elif raw.count(":") == 1:
        host, _, port = raw.partition(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"invalid resolver {text!r}: must be an IP address, optionally with :port") from None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"invalid resolver {text!r}: port must be 1-65535")
    return Resolver(host=str(address), port=int(port), weight=weight)


@dataclass(frozen=True, slots=True)
class DnsPersonaConfig:
    """How to resolve: which resolvers, how to pick them, how hard to push them."""

    name: str
    resolvers: tuple[Resolver, ...]
    strategy: str = "round_robin"
    timeout_s: float = 2.0
    retries: int = 2
    max_in_flight: int = 100
    rate_limit_qps: float | None = None
    record_types: tuple[str, ...] = ("A", "AAAA")

    def __post_init__(self) -> None:
        if not self.resolvers:
            raise ValueError(f"persona {self.name!r}: at least one resolver is required")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"persona {self.name!r}: strategy must be one of {', '.join(STRATEGIES)}")
        if not self.timeout_s > 0:
            raise ValueError(f"persona {self.name!r}: timeout_s must be positive")
        if self.retries < 0:
            raise ValueError(f"persona {self.name!r}: retries must be 0 or more")
        if self.max_in_flight < 1:
            raise ValueError(f"persona {self.name!r}: max_in_flight must be at least 1")
        if self.rate_limit_qps is not None and not self.rate_limit_qps > 0:
            raise ValueError(f"persona {self.name!r}: rate_limit_qps must be positive or None")
        if not self.record_types or any(t not in RECORD_TYPES for t in self.record_types):
            raise ValueError(f"persona {self.name!r}: record_types must be A and/or AAAA")


# The business status of a resolved domain; every other outcome has none.
BUSINESS_STATUSES = ("valid_dns",)


class DnsOutcome(NamedTuple):
    """The final answer for one domain (a named tuple: one is made per name, tens of thousands a
    second, and tuples of plain values cost the least to build and drop out of the collector's scans)."""

    domain: str
    status: str
    business_status: str
    ips: tuple[str, ...]
    rcode: str
    resolver: str
    persona: str
    attempts: int
    latency_ms: int
