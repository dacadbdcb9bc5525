"""DNS validation: resolve many domains through personas of resolvers (the only DNS network I/O).

config: types and parsing (no I/O); wire: query/reply encoding and sockets; picker: resolver
choice by strategy; limits: in-flight slots and rate buckets; lookup: one name's lookup through
the personas; resolver: resolve_many/resolve_batch.
"""
from campaigns.dns.config import (
    BUSINESS_STATUSES,
    RATE_GRANT_S,
    RECORD_TYPES,
    STRATEGIES,
    DnsOutcome,
    DnsPersonaConfig,
    RateReserver,
    Resolver,
    parse_resolver,
)
from campaigns.dns.picker import FAILOVER_COOLDOWN_S
from campaigns.dns.resolver import resolve_batch, resolve_many

__all__ = [
    "BUSINESS_STATUSES",
    "FAILOVER_COOLDOWN_S",
    "RATE_GRANT_S",
    "RECORD_TYPES",
    "STRATEGIES",
    "DnsOutcome",
    "DnsPersonaConfig",
    "RateReserver",
    "Resolver",
    "parse_resolver",
    "resolve_batch",
    "resolve_many",
]
