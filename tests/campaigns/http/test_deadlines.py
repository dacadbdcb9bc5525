"""Per-attempt deadlines: kept by one watchdog per batch, close to the persona's timeout, and never
mistaken for a cancellation that came from elsewhere."""
from __future__ import annotations

import asyncio
import time

import pytest

from campaigns import aio
from campaigns.http import FetchTarget, HttpPersonaConfig, fetch_many
from campaigns.http.client import WATCHDOG_TICK_S

LOCAL = ("127.0.0.1",)


def persona(**overrides) -> HttpPersonaConfig:
    return HttpPersonaConfig(name="deadline-test", **{"timeout_s": 5.0, **overrides})


def fetch(domains: list[str], port: int, **options):
    return fetch_many([FetchTarget(domain, LOCAL) for domain in domains], rules=[], ports=(port,), tls_ports=(),
                      allow_private=True, **options)


def test_an_attempt_ends_within_a_tick_of_its_deadline(http_server):
    started = time.monotonic()
    [outcome] = aio.run(fetch(["slow.df.test"], http_server.port, persona=persona(timeout_s=0.3), retries=0))
    elapsed = time.monotonic() - started
    assert (outcome.status, outcome.attempts) == ("timeout", 1)
    assert "timed out after 0.3s" in outcome.error
    assert 0.3 <= elapsed < 0.3 + WATCHDOG_TICK_S + 0.5


def test_each_attempt_gets_the_whole_timeout_and_fast_domains_are_unaffected(http_server):
    started = time.monotonic()
    slow, shop = aio.run(fetch(["slow.df.test", "shop.df.test"], http_server.port, persona=persona(timeout_s=0.4),
                               retries=1))
    elapsed = time.monotonic() - started
    assert (slow.status, slow.attempts) == ("timeout", 2)
    assert len(http_server.requests_for("slow.df.test")) == 2
    assert elapsed >= 0.8  # two attempts, each with its own 0.4 s
    assert (shop.status, shop.status_code) == ("success", 200)


def test_cancelling_the_batch_is_not_taken_for_a_timeout(http_server):
    async def cancel_while_waiting():
        task = asyncio.ensure_future(fetch(["slow.df.test"], http_server.port, persona=persona(timeout_s=30), retries=0))
        await asyncio.sleep(0.2)
        task.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - started

    assert aio.run(cancel_while_waiting()) < 2.0


def test_a_deadline_that_expires_as_the_batch_is_cancelled_still_cancels_the_batch(http_server):
    async def cancel_at_the_deadline():
        task = asyncio.ensure_future(fetch(["slow.df.test"], http_server.port, persona=persona(timeout_s=0.2), retries=3))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    aio.run(cancel_at_the_deadline())
