"""campaigns.dns against test DNS servers: persona order, resolver strategies, in-flight and rate limits."""
from __future__ import annotations

import asyncio

import pytest

from campaigns.dns import resolve_batch, resolve_many
from campaigns.dns.limits import _Slots
from tests.campaigns.dns_helpers import persona
from tests.servers.dns_server import DnsBehaviour, DnsTestServer


# -- personas ------------------------------------------------------------------------------------


def test_personas_are_tried_in_order_until_one_resolves(make_dns_server):
    first = make_dns_server()
    second = make_dns_server(records={"a.test": DnsBehaviour(a=("192.0.2.2",))})
    third = make_dns_server(records={"a.test": DnsBehaviour(a=("192.0.2.3",))})
    personas = [persona(first, name="first"), persona(second, name="second"), persona(third, name="third")]

    [outcome] = resolve_batch(["a.test"], personas=personas)

    assert (outcome.status, outcome.persona, outcome.ips) == ("resolved", "second", ("192.0.2.2",))
    assert outcome.resolver == second.address
    assert outcome.attempts == 1 + 2  # NXDOMAIN on the first (A only), A and AAAA on the second
    assert (first.count(), second.count(), third.count()) == (1, 2, 0)


def test_the_last_personas_outcome_is_kept_when_none_resolves(make_dns_server):
    first, second = make_dns_server(), make_dns_server()
    first.set_default(drop=True)
    personas = [
        persona(first, name="first", timeout_s=0.1, retries=1, record_types=("A",)),
        persona(second, name="second", record_types=("A",)),
    ]

    [outcome] = resolve_batch(["a.test"], personas=personas)

    assert (outcome.status, outcome.rcode, outcome.persona, outcome.resolver) == (
        "unresolved",
        "NXDOMAIN",
        "second",
        second.address,
    )
    assert outcome.attempts == 3


# -- strategies ----------------------------------------------------------------------------------


def answer_everything(servers: list[DnsTestServer]) -> None:
    for server in servers:
        server.set_default(a=["192.0.2.1"])


def test_round_robin_spreads_queries_evenly(make_dns_server):
    servers = [make_dns_server() for _ in range(3)]
    answer_everything(servers)

    config = persona(*servers, strategy="round_robin")
    outcomes = resolve_batch([f"d{i}.test" for i in range(150)], personas=[config])

    assert {o.status for o in outcomes} == {"resolved"}
    assert [s.count() for s in servers] == [100, 100, 100]


def test_random_uses_every_resolver_about_equally(make_dns_server):
    servers = [make_dns_server() for _ in range(3)]
    answer_everything(servers)

    config = persona(*servers, strategy="random", record_types=("A",))
    resolve_batch([f"d{i}.test" for i in range(300)], personas=[config])

    # 300 queries, p = 1/3 each: a standard deviation of 8.2 around 100.
    assert all(60 <= s.count() <= 140 for s in servers), [s.count() for s in servers]


def test_weighted_is_roughly_proportional_to_weights(make_dns_server):
    servers = [make_dns_server() for _ in range(3)]
    answer_everything(servers)
    config = persona(*servers, strategy="weighted", weights=(1, 3, 6), record_types=("A",))

    resolve_batch([f"d{i}.test" for i in range(1000)], personas=[config])

    counts = [s.count() for s in servers]
    # Expected 100 / 300 / 600, standard deviations 9.5 / 14.5 / 15.5: allow more than 4 of them.
    assert abs(counts[0] - 100) <= 45 and abs(counts[1] - 300) <= 65 and abs(counts[2] - 600) <= 70, counts


def test_sequential_failover_sticks_to_the_first_resolver_until_it_fails(make_dns_server):
    first, second = make_dns_server(), make_dns_server()
    answer_everything([first, second])
    first.set("bad.test", rcode="REFUSED")
    domains = [f"ok{i}.test" for i in range(10)] + ["bad.test"] + [f"late{i}.test" for i in range(10)]
    config = persona(first, second, strategy="sequential_failover", max_in_flight=1)

    outcomes = resolve_batch(domains, personas=[config])

    assert {o.status for o in outcomes} == {"resolved"}
    refused_at = next(q.received for q in first.queries if q.qname == "bad.test")
    assert all(q.received <= refused_at for q in first.queries)
    assert all(q.received > refused_at for q in second.queries)
    assert first.count() == 21  # ten names twice, then the refused one
    assert second.count() == 22  # the retry and AAAA of bad.test, then ten names twice
    assert {o.resolver for o in outcomes[:10]} == {first.address}
    assert {o.resolver for o in outcomes[10:]} == {second.address}


# -- limits --------------------------------------------------------------------------------------


def test_in_flight_queries_never_exceed_the_cap(dns_server):
    dns_server.set_default(a=["192.0.2.1"], delay_s=0.05)

    outcomes = resolve_batch(
        [f"d{i}.test" for i in range(60)], personas=[persona(dns_server, max_in_flight=5, record_types=("A",))]
    )

    assert {o.status for o in outcomes} == {"resolved"}
    assert dns_server.max_concurrency() == 5


def test_in_flight_cap_applies_per_persona(make_dns_server):
    first, second = make_dns_server(), make_dns_server()
    first.set_default(delay_s=0.03)  # NXDOMAIN, slowly: every name goes on to the second persona
    second.set_default(a=["192.0.2.1"], delay_s=0.03)
    personas = [
        persona(first, name="first", max_in_flight=3, record_types=("A",)),
        persona(second, name="second", max_in_flight=7, record_types=("A",)),
    ]

    outcomes = resolve_batch([f"d{i}.test" for i in range(80)], personas=personas)

    assert {o.persona for o in outcomes} == {"second"}
    assert first.max_concurrency() == 3
    assert second.max_concurrency() <= 7


def test_slots_are_handed_to_waiters_in_order_and_never_exceed_the_limit():
    slots = _Slots(3)
    slots.join(0)
    holding, most, order = [], 0, []

    def waiter(n: int):
        def granted() -> bool:
            nonlocal most
            order.append(n)
            holding.append(n)
            most = max(most, len(holding))
            return True
        return granted

    for n in range(40):
        slots.acquire(0, waiter(n))
    assert order == [0, 1, 2]  # three at once, the rest wait
    while holding:
        holding.pop(0)
        slots.release()  # each release hands the slot to the oldest waiter, at once

    assert most == 3
    assert order == list(range(40))


def test_a_waiter_that_declines_passes_its_slot_on_and_none_is_lost():
    slots = _Slots(1)
    slots.join(0)
    got: list[str] = []
    slots.acquire(0, lambda: got.append("first") or True)
    slots.acquire(0, lambda: got.append("declined") and False)  # its lookup was abandoned meanwhile
    slots.acquire(0, lambda: got.append("next") or True)

    slots.release()  # from "first": "declined" refuses it, "next" takes it
    slots.release()  # from "next": nobody waits, the slot is free again
    slots.acquire(0, lambda: got.append("after") or True)

    assert got == ["first", "declined", "next", "after"]


def test_a_released_slot_goes_to_the_oldest_call_with_a_waiter_and_a_call_that_left_gets_none():
    slots = _Slots(1)
    for call in (1, 2, 3):
        slots.join(call)
    got: list[str] = []
    slots.acquire(1, lambda: got.append("1a") or True)  # the free slot
    slots.acquire(3, lambda: got.append("3a") or True)
    slots.acquire(2, lambda: got.append("2a") or True)
    slots.acquire(1, lambda: got.append("1b") or True)
    slots.acquire(2, lambda: got.append("2b") or True)

    slots.release()  # call 1 is the oldest and has a waiter, though it asked after 3 and 2
    slots.leave(2)  # call 2 ended: its waiters are gone with it
    slots.release()
    slots.release()  # nobody waits now: the slot is free
    slots.acquire(3, lambda: got.append("3b") or True)

    assert got == ["1a", "1b", "3a", "3b"]


def test_of_two_calls_sharing_a_cap_the_first_resolves_its_names_before_the_second_takes_slots(dns_server):
    """A worker's batches share its persona's cap: the batch that started first gets the slots, so
    it ends (and is written) while the next still resolves, instead of all of them ending together."""
    dns_server.set_default(a=["192.0.2.1"], delay_s=0.01)
    cap = persona(dns_server, max_in_flight=4, record_types=("A",), timeout_s=5.0)

    async def scenario() -> tuple[list, list]:
        first = asyncio.create_task(resolve_many([f"a{i}.test" for i in range(40)], personas=[cap]))
        second = asyncio.create_task(resolve_many([f"b{i}.test" for i in range(40)], personas=[cap]))
        return await asyncio.gather(first, second)

    first, second = asyncio.run(scenario())

    assert [o.status for o in first + second] == ["resolved"] * 80
    arrivals = [q.qname[0] for q in dns_server.queries]
    last_of_first = max(i for i, name in enumerate(arrivals) if name == "a")
    # Before the first call's last query, the second got only the slots the first had no name
    # waiting for (shared in turn, it would have sent about half of its 40 by then).
    assert arrivals[:last_of_first].count("b") <= 4
    assert dns_server.max_concurrency() <= 4


def test_a_cancelled_call_gives_back_every_slot_it_held_or_waited_for(dns_server):
    """The in-flight cap is shared by every call on a loop: a call cancelled with queries in flight
    and names waiting for a slot must leave the whole cap to the next call."""
    dns_server.set_default(a=["192.0.2.1"], delay_s=0.2)
    cap = persona(dns_server, max_in_flight=4, record_types=("A",), timeout_s=5.0)

    async def scenario() -> list:
        first = asyncio.create_task(resolve_many([f"a{i}.test" for i in range(40)], personas=[cap]))
        await asyncio.sleep(0.05)  # four queries in flight, the other names waiting for a slot
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        dns_server.clear()
        return await asyncio.wait_for(resolve_many([f"b{i}.test" for i in range(8)], personas=[cap]), timeout=5)

    outcomes = asyncio.run(scenario())

    assert [o.status for o in outcomes] == ["resolved"] * 8
    assert dns_server.max_concurrency() == 4  # all four slots came back: 8 names took two rounds of 4
    assert dns_server.count() == 8



def test_calls_cancelled_at_any_moment_leave_the_whole_cap(dns_server):
    """Cancelled before, among and after their answers, calls hand back exactly the slots they took:
    a later call on the same loop gets the whole cap, and no more."""
    dns_server.set_default(a=["192.0.2.1"])
    cap = persona(dns_server, max_in_flight=8, record_types=("A",), timeout_s=5.0)
    cancelled = 0

    async def scenario() -> list:
        nonlocal cancelled
        for delay_ms in range(1, 40):
            try:
                async with asyncio.timeout(delay_ms / 2000):
                    await resolve_many([f"c{delay_ms}-{i}.test" for i in range(300)], personas=[cap])
            except TimeoutError:
                cancelled += 1
        logged = -1
        while dns_server.count() != logged:  # queries sent before a cancellation may still be arriving
            logged = dns_server.count()
            await asyncio.sleep(0.05)
        dns_server.set_default(a=["192.0.2.1"], delay_s=0.2)
        dns_server.clear()
        return await asyncio.wait_for(resolve_many([f"b{i}.test" for i in range(16)], personas=[cap]), timeout=5)

    outcomes = asyncio.run(scenario())

    assert cancelled > 20
    assert [o.status for o in outcomes] == ["resolved"] * 16
    assert dns_server.max_concurrency() == 8  # every slot came back, none twice
    assert dns_server.count() == 16

def test_rate_limit_is_honoured(dns_server):
    dns_server.set_default(a=["192.0.2.1"])

    resolve_batch(
        [f"d{i}.test" for i in range(200)], personas=[persona(dns_server, rate_limit_qps=100, record_types=("A",))]
    )

    times = [q.received for q in dns_server.queries]
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert len(times) == 200
    assert 90 <= rate <= 110, rate


def test_rate_limit_counts_retries(make_dns_server):
    servers = [make_dns_server(), make_dns_server()]
    for server in servers:
        server.set_default(rcode="SERVFAIL")
    config = persona(*servers, rate_limit_qps=50, retries=1, record_types=("A",))

    resolve_batch([f"d{i}.test" for i in range(40)], personas=[config])

    times = sorted(q.received for s in servers for q in s.queries)
    assert len(times) == 80
    assert 45 <= (len(times) - 1) / (times[-1] - times[0]) <= 55


def test_a_failing_rate_reserver_fails_the_call_and_leaves_the_cap_whole(dns_server):
    """A step that waits outside the socket (here the shared rate limit's reservation) and fails
    ends the whole call with its error, instead of leaving the call waiting for that name forever."""
    dns_server.set_default(a=["192.0.2.1"])
    limited = persona(dns_server, name="limited", max_in_flight=2, record_types=("A",), rate_limit_qps=1000)
    plain = persona(dns_server, name="limited", max_in_flight=2, record_types=("A",))

    async def broken_reserver(key: str, count: int, rate: float) -> float:
        raise RuntimeError("the rate store is gone")

    async def scenario() -> list:
        with pytest.raises(RuntimeError, match="the rate store is gone"):
            await asyncio.wait_for(
                resolve_many([f"a{i}.test" for i in range(10)], personas=[limited], rate_reserver=broken_reserver),
                timeout=5,
            )
        # Same name and cap: the same process-wide slots, all of them free again.
        return await asyncio.wait_for(resolve_many([f"b{i}.test" for i in range(6)], personas=[plain]), timeout=5)

    outcomes = asyncio.run(scenario())

    assert [o.status for o in outcomes] == ["resolved"] * 6
