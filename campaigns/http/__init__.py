"""HTTP keyword validation: fetch pages from DNS-found addresses and match keywords (no ORM, no DB).

Modules, in dependency order:
    config     persona, proxy URL, target and outcome types (what models import)
    proxies    proxy choice and health
    errors, addresses, body, charsets
    wire       one connection; responses framed by llhttp (httptools)
    connections  keep-alive connections kept across batches
    heap       the C heap kept between page analyses (glibc)
    tunnels    CONNECT and SOCKS5
    pages      page → outcome (text, title, keywords), storable text
    client     pinned connections, redirects, retries
    lending    idle lanes' fetchers lent to the batches still running
    batch      fetch_many: analysis off the event loop, the process-wide byte budget
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from campaigns import aio
from campaigns.http.batch import DEFAULT_MAX_BUFFERED_BYTES, fetch_many
from campaigns.http.config import (
    BUSINESS_STATUSES,
    MAX_BODY_BYTES_LIMIT,
    FetchTarget,
    HttpOutcome,
    HttpPersonaConfig,
    ParsedProxy,
    ProxyConfig,
    check_max_body_bytes,
    parse_proxy_url,
)
from campaigns.http.connections import ConnectionPool
from campaigns.http.lending import Lenders, Loan
from campaigns.http.proxies import PROXY_STRATEGIES, ProxyPool, ProxyStats

__all__ = [
    "BUSINESS_STATUSES", "ConnectionPool", "DEFAULT_MAX_BUFFERED_BYTES", "MAX_BODY_BYTES_LIMIT", "PROXY_STRATEGIES", "FetchTarget",
    "HttpOutcome", "HttpPersonaConfig", "Lenders", "Loan", "ParsedProxy", "ProxyConfig", "ProxyPool", "ProxyStats",
    "check_max_body_bytes", "fetch_batch", "fetch_many", "parse_proxy_url",
]


def fetch_batch(targets: Sequence[FetchTarget], **options: Any) -> list[HttpOutcome]:
    """Synchronous fetch_many (same keyword arguments) for callers outside an event loop; call it
    outside any database transaction (it is slow I/O)."""
    return aio.run(fetch_many(targets, **options))
