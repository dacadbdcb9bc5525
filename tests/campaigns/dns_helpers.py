"""Shared helpers for the DNS phase tests: a DNS persona over the test DNS servers."""
from __future__ import annotations

from campaigns.dns import DnsPersonaConfig, parse_resolver
from tests.servers.dns_server import DnsTestServer


def persona(
    *servers: DnsTestServer, name: str = "p1", weights: tuple[int, ...] = (), **options
) -> DnsPersonaConfig:
    """A persona over the given test servers."""
    weights = weights or (1,) * len(servers)
    resolvers = tuple(parse_resolver(s.address, weight=w) for s, w in zip(servers, weights, strict=True))
    return DnsPersonaConfig(name=name, resolvers=resolvers, **options)
