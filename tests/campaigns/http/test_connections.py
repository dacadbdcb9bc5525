"""Keep-alive connections across batches (campaigns.http.connections) against real servers on 127.0.0.1.

The servers here count the connections they accept and see closed (counting_server.py): reuse and
closing are counted on the server's side of the socket.
"""
from __future__ import annotations

import asyncio
import gc
import shutil
import time

import pytest

from campaigns import aio
from campaigns.http import ConnectionPool, FetchTarget, HttpOutcome, ProxyConfig, ProxyPool, fetch_many
from tests.campaigns.http.counting_server import eventually, fetch_from, fetch_ok
from tests.campaigns.test_http import LOCAL, RULES, persona

DOMAINS = [f"site{i}.df.test" for i in range(5)]

# Whether connections are closed is asserted here from the servers' side. A connection left open
# would also raise ResourceWarning when uvloop closes the test's loop; made an error by the
# project's warning filter, that warning hangs loop.close() instead of failing the test.
pytestmark = pytest.mark.filterwarnings("default::ResourceWarning")


# --------------------------------------------------------------------------- across batches


def test_responses_read_on_kept_connections_leave_no_reference_cycles_behind(server):
    # Objects in a reference cycle outlive their use until the collector finds them, and each young
    # collection walks them first: one cycle per response made most of a worker's collecting.
    domains = [f"cycle{i}.df.test" for i in range(300)]

    async def scenario() -> tuple[list[HttpOutcome], int]:
        pool = ConnectionPool()
        try:
            await fetch_ok(server, domains[:4], pool=pool)  # connections open, lazily built state exists
            gc.collect()
            gc.disable()
            try:
                outcomes = await fetch_many([FetchTarget(domain, LOCAL) for domain in domains], persona=persona(),
                                            rules=RULES, ports=(server.port,), allow_private=True,
                                            max_in_flight=4, connections=pool)
                return outcomes, gc.collect()
            finally:
                gc.enable()
        finally:
            await pool.aclose()

    outcomes, in_cycles = aio.run(scenario())

    assert [o.status for o in outcomes] == ["success"] * len(domains)
    assert server.accepted == 4
    assert in_cycles < 100, f"{in_cycles} objects freed only by the collector after {len(domains)} responses"


def test_a_second_batch_on_a_shared_pool_starts_on_the_connections_the_first_left_open(server):
    async def scenario() -> None:
        pool = ConnectionPool()
        try:
            await fetch_ok(server, DOMAINS[:3], pool=pool)
            assert (server.accepted, server.closed) == (3, [])  # three at once: three connections, kept

            await fetch_ok(server, DOMAINS[:3], pool=pool)
            assert server.accepted == 3
            assert {number for number, _ in server.requests[3:]} == {1, 2, 3}

            # Five at once: the three idle connections and two new ones.
            await fetch_ok(server, DOMAINS, pool=pool)
            assert (server.accepted, server.closed) == (5, [])
        finally:
            await pool.aclose()

    aio.run(scenario())


def test_without_a_shared_pool_each_batch_opens_its_own_connections_and_closes_them(server):
    async def scenario() -> None:
        for batch in (1, 2):
            await fetch_ok(server, DOMAINS[:3], pool=None)
            assert server.accepted == 3 * batch
            await eventually(lambda: len(server.closed) == 3 * batch and not server.open,
                             what=f"the server sees batch {batch}'s connections closed")

    aio.run(scenario())



@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "tunnel"])
def test_batches_cancelled_at_any_moment_leave_only_idle_connections_in_a_shared_pool(server, connect_proxy,
                                                                                      through_proxy):
    """Cancelled while connecting, sending or reading, a batch's busy connections end and leave
    the pool. On uvloop, a connection whose connect was cancelled just after it was made is
    closed without ever being reported lost: the pool kept it, and aclose waited for it."""
    proxies = ProxyPool([ProxyConfig("px", connect_proxy.url())]) if through_proxy else None

    async def scenario() -> None:
        pool = ConnectionPool()
        try:
            for step in range(40):  # cancellations land before, during and after the connects
                try:
                    async with asyncio.timeout(step / 4000):
                        await fetch_from(server, DOMAINS * 4, pool=pool, proxies=proxies)
                except TimeoutError:
                    pass
                await eventually(lambda: pool.all_conns <= set(pool.idle_order), timeout_s=1,
                                 what=f"only idle connections are left after a cancellation at step {step}")
                assert pool.fetchers == 0, f"a cancelled batch still counts fetchers at step {step}"
            started = time.monotonic()
            await pool.aclose()
            assert time.monotonic() - started < 1
        finally:
            await pool.aclose()

    aio.run(scenario())


# --------------------------------------------------------------------------- what a connection is kept for


def test_a_connection_is_not_handed_to_a_request_for_another_port(make_server):
    first, second = make_server(), make_server()

    async def scenario() -> None:
        pool = ConnectionPool()
        try:
            await fetch_ok(first, ["a.df.test"], pool=pool)
            await fetch_ok(second, ["a.df.test"], pool=pool)
            await fetch_ok(first, ["a.df.test"], pool=pool)
            await fetch_ok(second, ["a.df.test"], pool=pool)
        finally:
            await pool.aclose()

    aio.run(scenario())
    assert (first.accepted, second.accepted) == (1, 1)
    assert first.requests == second.requests == [(1, "a.df.test"), (1, "a.df.test")]


def test_a_tls_connection_is_reused_only_with_the_same_server_name_and_tls_settings(https_server, test_tls, tmp_path):
    # The same CA at another path: a different ca_file setting, though it verifies the same.
    ca_copy = str(tmp_path / "ca-copy.pem")
    shutil.copy(test_tls.ca_file, ca_copy)
    port = https_server.port

    async def scenario() -> None:
        pool = ConnectionPool()

        async def fetch(domain: str, *, verify: bool, ca_file: str) -> None:
            [outcome] = await fetch_many([FetchTarget(domain, LOCAL)], persona=persona(verify_tls=verify), rules=RULES,
                                         ports=(port,), tls_ports=(port,), ca_file=ca_file, allow_private=True,
                                         retries=0, connections=pool)
            assert outcome.status == "success", outcome.error

        try:
            await fetch("shop.df.test", verify=False, ca_file=test_tls.ca_file)
            await fetch("shop.df.test", verify=True, ca_file=test_tls.ca_file)
            await fetch("shop.df.test", verify=True, ca_file=ca_copy)
            await fetch("plain.df.test", verify=True, ca_file=test_tls.ca_file)
            await fetch("shop.df.test", verify=True, ca_file=test_tls.ca_file)
            await fetch("shop.df.test", verify=False, ca_file=test_tls.ca_file)
        finally:
            await pool.aclose()

    aio.run(scenario())
    unverified, verified, other_ca, other_sni, verified_again, unverified_again = https_server.requests
    assert len({r.connection for r in (unverified, verified, other_ca, other_sni)}) == 4
    assert (verified_again.connection, unverified_again.connection) == (verified.connection, unverified.connection)
    assert [r.sni for r in https_server.requests] == ["shop.df.test"] * 3 + ["plain.df.test"] + ["shop.df.test"] * 2


def test_a_tunnel_through_a_proxy_is_not_handed_to_a_direct_request(server, connect_proxy):
    proxies = ProxyPool([ProxyConfig("px", connect_proxy.url())])

    async def scenario() -> None:
        pool = ConnectionPool()
        try:
            await fetch_ok(server, ["a.df.test"], pool=pool, proxies=proxies)
            await fetch_ok(server, ["a.df.test"], pool=pool)
            await fetch_ok(server, ["a.df.test"], pool=pool, proxies=proxies)
            await fetch_ok(server, ["a.df.test"], pool=pool)
        finally:
            await pool.aclose()

    aio.run(scenario())
    assert connect_proxy.connections == 1
    assert server.accepted == 2  # the tunnel's and the direct one, each used twice
    assert [number for number, _ in server.requests] == [1, 2, 1, 2]


# --------------------------------------------------------------------------- servers that close first


def test_after_the_server_closed_an_idle_connection_the_next_batch_connects_again(server):
    async def scenario() -> None:
        pool = ConnectionPool()
        try:
            await fetch_ok(server, ["a.df.test"], pool=pool)
            [kept] = [conn for queue in pool.idle.values() for conn in queue]
            server.close_idle()
            await eventually(lambda: kept.eof, what="the client sees the server's close")

            [outcome] = await fetch_from(server, ["a.df.test"], pool=pool)
            assert (outcome.status, outcome.attempts) == ("success", 1)
            assert server.accepted == 2
        finally:
            await pool.aclose()

    aio.run(scenario())


def test_a_reused_connection_closed_as_the_request_arrives_is_retried_on_a_new_one(server):
    async def scenario() -> None:
        pool = ConnectionPool()
        try:
            await fetch_ok(server, ["a.df.test"], pool=pool)
            server.mode = "drop_reused"

            # No retries of the fetch: the second connection is the client's own retry of a reused
            # connection, which counts no attempt.
            [outcome] = await fetch_from(server, ["a.df.test"], pool=pool, retries=0)
            assert (outcome.status, outcome.attempts, outcome.title) == ("success", 1, "Pooled")
        finally:
            await pool.aclose()

    aio.run(scenario())
    assert server.requests == [(1, "a.df.test"), (1, "a.df.test"), (2, "a.df.test")]
    assert server.closed[0] == 1
