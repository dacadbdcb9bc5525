"""How many keep-alive connections a pool keeps idle, and for how long (campaigns.http.connections),
against real servers on 127.0.0.1 that count the connections they accept and see closed."""
from __future__ import annotations

import asyncio

import pytest

from campaigns import aio
from campaigns.http import ConnectionPool, connections
from tests.campaigns.http.counting_server import eventually, fetch_from, fetch_ok
from tests.campaigns.test_http import persona

# Connections left open would raise ResourceWarning when uvloop closes the test's loop, which the
# project's warning filter makes an error that hangs loop.close(); closing is asserted here instead.
pytestmark = pytest.mark.filterwarnings("default::ResourceWarning")


def test_max_idle_closes_the_oldest_idle_connection(make_server):
    oldest, middle, newest = make_server(), make_server(), make_server()

    async def scenario() -> None:
        pool = ConnectionPool(max_idle=2)
        try:
            for server in (oldest, middle, newest):
                await fetch_ok(server, ["a.df.test"], pool=pool)
            await eventually(lambda: oldest.closed == [1], what="the oldest idle connection is closed")
            assert middle.closed == newest.closed == []

            for server in (middle, newest):
                await fetch_ok(server, ["a.df.test"], pool=pool)
            assert (middle.accepted, newest.accepted) == (1, 1)
        finally:
            await pool.aclose()

    aio.run(scenario())


def test_a_batch_with_more_fetchers_than_max_idle_keeps_a_connection_for_each_until_it_ends(server):
    # Between a worker's batches every fetcher's connection comes back at once and the next batch
    # wants them all again: closing those above max_idle reconnected to one server each time.
    domains = [f"fetcher{i}.df.test" for i in range(6)]

    async def scenario() -> None:
        pool = ConnectionPool(max_idle=2)
        try:
            await fetch_ok(server, domains, pool=pool)
            assert (server.accepted, len(pool.idle_order)) == (6, 6)
            assert pool.fetchers == 0  # counted while their batch runs

            await fetch_ok(server, domains, pool=pool)
            assert server.accepted == 6  # the second batch starts on all six
            assert {number for number, _ in server.requests[6:]} == set(range(1, 7))

            # One fetcher: its connection comes back to a pool above max_idle, which drops to it.
            await fetch_ok(server, domains[:1], pool=pool)
            assert (server.accepted, len(pool.idle_order)) == (6, 2)
            await eventually(lambda: len(server.closed) == 4, what="the four oldest idle connections are closed")
        finally:
            await pool.aclose()

    aio.run(scenario())


def test_a_connection_idle_longer_than_the_keepalive_is_closed_not_reused(server, monkeypatch):
    monkeypatch.setattr(connections, "IDLE_KEEPALIVE_S", 1.0)

    async def scenario() -> None:
        pool = ConnectionPool()
        try:
            await fetch_ok(server, ["a.df.test"], pool=pool)
            await fetch_ok(server, ["a.df.test"], pool=pool)
            assert server.accepted == 1  # fresh: reused

            await asyncio.sleep(1.2)
            await fetch_ok(server, ["a.df.test"], pool=pool)
            assert server.accepted == 2
            await eventually(lambda: server.closed == [1], what="the stale connection is closed")
        finally:
            await pool.aclose()

    aio.run(scenario())


def test_aclose_closes_idle_and_busy_connections_and_the_servers_see_them_end(make_server):
    idle, busy = make_server(), make_server(mode="hold")

    async def scenario() -> None:
        pool = ConnectionPool()
        try:
            await fetch_ok(idle, ["a.df.test"], pool=pool)
            held = asyncio.create_task(fetch_from(busy, ["held.df.test"], pool=pool, persona=persona(timeout_s=30)))
            await eventually(lambda: busy.requests != [], what="the held request reaches its server")
            assert (idle.open.keys(), busy.open.keys()) == ({1}, {1})
        finally:
            await pool.aclose()
        assert (pool.all_conns, pool.idle) == (set(), {})
        await eventually(lambda: idle.closed == [1] and busy.closed == [1],
                         what="both servers see their connection end")
        [outcome] = await held
        assert (outcome.status, outcome.attempts) == ("error", 1)

    aio.run(scenario())
