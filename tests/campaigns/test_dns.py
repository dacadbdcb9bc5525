"""campaigns.dns against test DNS servers: resolver and persona configuration, and each outcome."""
from __future__ import annotations

import asyncio
import time

import dns.message
import pytest

from campaigns.dns import (
    DnsOutcome,
    DnsPersonaConfig,
    Resolver,
    parse_resolver,
    resolve_batch,
    resolve_many,
)
from tests.campaigns.dns_helpers import persona


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", Resolver(host="192.0.2.1", port=53)),
        (" 192.0.2.1:5353 ", Resolver(host="192.0.2.1", port=5353)),
        ("2001:db8::1", Resolver(host="2001:db8::1", port=53)),
        ("[2001:DB8::1]:853", Resolver(host="2001:db8::1", port=853)),
        ("[::1]", Resolver(host="::1", port=53)),
    ],
)
def test_parse_resolver_reads_ip_and_optional_port(text, expected):
    assert parse_resolver(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dns.google", "invalid resolver 'dns.google': must be an IP address, optionally with :port"),
        ("", "invalid resolver '': must be an IP address, optionally with :port"),
        ("192.0.2.1:0", "invalid resolver '192.0.2.1:0': port must be 1-65535"),
        ("192.0.2.1:65536", "invalid resolver '192.0.2.1:65536': port must be 1-65535"),
        ("192.0.2.1:dns", "invalid resolver '192.0.2.1:dns': port must be 1-65535"),
        ("[2001:db8::1]53", "invalid resolver '[2001:db8::1]53': expected [IPv6]:port"),
        ("[192.0.2.1]:53", "invalid resolver '[192.0.2.1]:53': brackets are for IPv6 addresses only"),
    ],
)
def test_parse_resolver_rejects_bad_input_with_one_clear_line(text, message):
    with pytest.raises(ValueError) as excinfo:
        parse_resolver(text)
    assert str(excinfo.value) == message


def test_resolver_address_round_trips_through_parse_resolver():
    for resolver in (Resolver(host="192.0.2.1", port=5353), Resolver(host="2001:db8::1", port=53)):
        assert parse_resolver(resolver.address) == resolver


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"resolvers": ()}, "persona 'p': at least one resolver is required"),
        (
            {"strategy": "fastest"},
            "persona 'p': strategy must be one of random, weighted, round_robin, sequential_failover",
        ),
        ({"timeout_s": 0}, "persona 'p': timeout_s must be positive"),
        ({"retries": -1}, "persona 'p': retries must be 0 or more"),
        ({"max_in_flight": 0}, "persona 'p': max_in_flight must be at least 1"),
        ({"rate_limit_qps": 0}, "persona 'p': rate_limit_qps must be positive or None"),
        ({"record_types": ("MX",)}, "persona 'p': record_types must be A and/or AAAA"),
    ],
)
def test_persona_config_rejects_bad_settings(options, message):
    options = {"resolvers": (Resolver(host="127.0.0.1"),), **options}
    with pytest.raises(ValueError) as excinfo:
        DnsPersonaConfig(name="p", **options)
    assert str(excinfo.value) == message


def test_resolve_needs_at_least_one_persona():
    with pytest.raises(ValueError, match="at least one DNS persona is required"):
        resolve_batch(["a.test"], personas=[])


# -- outcomes ------------------------------------------------------------------------------------


def test_addresses_resolve_deduplicated_and_sorted(dns_server):
    dns_server.set(
        "shop.test",
        a=["10.0.0.10", "10.0.0.2", "10.0.0.10", "9.255.255.255"],
        aaaa=["2001:db8::a", "2001:db8::1", "2001:db8::a"],
    )

    [outcome] = resolve_batch(["shop.test"], personas=[persona(dns_server)])

    assert outcome == DnsOutcome(
        domain="shop.test",
        status="resolved",
        business_status="valid_dns",
        ips=("9.255.255.255", "10.0.0.2", "10.0.0.10", "2001:db8::1", "2001:db8::a"),
        rcode="NOERROR",
        resolver=dns_server.address,
        persona="p1",
        attempts=2,
        latency_ms=outcome.latency_ms,
    )
    assert [(q.qname, q.qtype) for q in dns_server.queries] == [("shop.test", "A"), ("shop.test", "AAAA")]


def test_one_address_type_is_enough_to_resolve(dns_server):
    dns_server.set("v6only.test", aaaa=["2001:db8::5"])

    [outcome] = resolve_batch(["v6only.test"], personas=[persona(dns_server)])

    assert (outcome.status, outcome.ips, outcome.attempts) == ("resolved", ("2001:db8::5",), 2)


def test_only_configured_record_types_are_queried(dns_server):
    dns_server.set("shop.test", a=["192.0.2.1"], aaaa=["2001:db8::1"])

    [outcome] = resolve_batch(["shop.test"], personas=[persona(dns_server, record_types=("AAAA",))])

    assert outcome.ips == ("2001:db8::1",)
    assert dns_server.count(qtype="A") == 0


def test_names_are_sent_lower_case_and_the_domain_is_reported_as_given(dns_server):
    dns_server.set("shop.test", a=["192.0.2.1"])

    [outcome] = resolve_batch(["Shop.TEST."], personas=[persona(dns_server)])

    assert (outcome.domain, outcome.status) == ("Shop.TEST.", "resolved")
    assert {q.qname for q in dns_server.queries} == {"shop.test"}


def test_a_cname_chain_resolves_to_the_target_addresses(dns_server):
    dns_server.set("www.shop.test", cname="edge.cdn.test")
    dns_server.set("edge.cdn.test", a=["192.0.2.7"], aaaa=["2001:db8::7"])

    [outcome] = resolve_batch(["www.shop.test"], personas=[persona(dns_server)])

    assert (outcome.status, outcome.ips) == ("resolved", ("192.0.2.7", "2001:db8::7"))


def test_nxdomain_is_final_unresolved_and_not_retried(make_dns_server):
    servers = [make_dns_server(), make_dns_server()]

    [outcome] = resolve_batch(["gone.test"], personas=[persona(*servers, retries=3)])

    assert (outcome.status, outcome.business_status, outcome.rcode) == ("unresolved", "", "NXDOMAIN")
    assert outcome.ips == ()
    # One A query; the name does not exist, so AAAA is not asked either.
    assert outcome.attempts == 1
    assert sum(s.count() for s in servers) == 1


def test_nodata_is_final_unresolved_and_not_retried(make_dns_server):
    servers = [make_dns_server(), make_dns_server()]
    for server in servers:
        server.set("empty.test")

    [outcome] = resolve_batch(["empty.test"], personas=[persona(*servers, retries=3)])

    assert (outcome.status, outcome.rcode, outcome.ips) == ("unresolved", "NOERROR", ())
    assert outcome.attempts == 2
    assert sum(s.count() for s in servers) == 2


@pytest.mark.parametrize("rcode", ["SERVFAIL", "REFUSED"])
def test_server_failures_are_retried_on_another_resolver_then_error(make_dns_server, rcode):
    servers = [make_dns_server(), make_dns_server()]
    for server in servers:
        server.set_default(rcode=rcode)

    [outcome] = resolve_batch(["a.test"], personas=[persona(*servers, retries=1, record_types=("A",))])

    assert (outcome.status, outcome.business_status, outcome.rcode) == ("error", "", rcode)
    assert outcome.attempts == 2
    assert [s.count() for s in servers] == [1, 1]


def test_timeouts_are_retried_on_another_resolver_then_timeout(make_dns_server):
    servers = [make_dns_server(), make_dns_server()]
    for server in servers:
        server.set_default(drop=True)

    started = time.monotonic()
    config = persona(*servers, retries=1, timeout_s=0.2, record_types=("A",))
    [outcome] = resolve_batch(["a.test"], personas=[config])

    assert (outcome.status, outcome.rcode, outcome.ips) == ("timeout", "", ())
    assert outcome.attempts == 2
    assert [s.count() for s in servers] == [1, 1]
    assert outcome.resolver in {s.address for s in servers}
    assert 0.4 <= time.monotonic() - started < 1.5
    assert 400 <= outcome.latency_ms < 1000


def test_retries_are_spread_over_the_resolvers_when_there_are_more_retries_than_resolvers(make_dns_server):
    servers = [make_dns_server(), make_dns_server()]
    for server in servers:
        server.set_default(rcode="SERVFAIL")

    [outcome] = resolve_batch(["a.test"], personas=[persona(*servers, retries=3, record_types=("A",))])

    assert outcome.attempts == 4
    assert [s.count() for s in servers] == [2, 2]


@pytest.mark.parametrize("failure", [{"rcode": "SERVFAIL"}, {"rcode": "REFUSED"}, {"drop": True}])
def test_a_failed_attempt_is_retried_on_a_working_resolver(make_dns_server, failure):
    broken, working = make_dns_server(), make_dns_server()
    broken.set_default(**failure)
    working.set("a.test", a=["192.0.2.1"])
    config = persona(broken, working, strategy="sequential_failover", timeout_s=0.2, record_types=("A",))

    [outcome] = resolve_batch(["a.test"], personas=[config])

    assert (outcome.status, outcome.ips, outcome.resolver) == ("resolved", ("192.0.2.1",), working.address)
    assert outcome.attempts == 2
    assert (broken.count(), working.count()) == (1, 1)


@pytest.mark.parametrize(
    ("first", "second", "status", "rcode"),
    [
        ({"drop": True}, {"rcode": "SERVFAIL"}, "error", "SERVFAIL"),
        ({"rcode": "REFUSED"}, {"drop": True}, "timeout", ""),
    ],
)
def test_the_last_failure_decides_between_timeout_and_error(make_dns_server, first, second, status, rcode):
    servers = [make_dns_server(), make_dns_server()]
    servers[0].set_default(**first)
    servers[1].set_default(**second)
    config = persona(*servers, strategy="sequential_failover", retries=1, timeout_s=0.2, record_types=("A",))

    [outcome] = resolve_batch(["a.test"], personas=[config])

    assert (outcome.status, outcome.rcode, outcome.resolver) == (status, rcode, servers[1].address)


def test_a_failure_on_one_record_type_is_not_hidden_by_nodata_on_the_other(dns_server):
    dns_server.set("half.test", rcode_by_type={"AAAA": "SERVFAIL"})  # A: NOERROR without records

    [outcome] = resolve_batch(["half.test"], personas=[persona(dns_server, retries=0)])

    assert (outcome.status, outcome.rcode, outcome.attempts) == ("error", "SERVFAIL", 2)


def test_addresses_win_over_a_failure_on_the_other_record_type(dns_server):
    dns_server.set("half.test", a=["192.0.2.1"], rcode_by_type={"AAAA": "SERVFAIL"})

    [outcome] = resolve_batch(["half.test"], personas=[persona(dns_server, retries=0)])

    assert (outcome.status, outcome.ips, outcome.rcode) == ("resolved", ("192.0.2.1",), "NOERROR")


def test_invalid_names_are_errors_without_any_query(dns_server):
    names = ["", ".", "-shop.test", "shop-.test", "a..test", "x" * 64 + ".test", "ünïcode.test", "sh_op.test"]
    names.append("192.0.2.1")  # an IP address is not a domain
    names.append(".".join(["a" * 63] * 4))  # 255 characters: over the 253 limit

    outcomes = resolve_batch(names, personas=[persona(dns_server)])

    assert [(o.domain, o.status, o.rcode, o.attempts, o.ips) for o in outcomes] == [
        (name, "error", "", 0, ()) for name in names
    ]
    assert dns_server.count() == 0


def test_a_spoofed_answer_to_another_question_is_ignored(dns_server):
    dns_server.set("a.test", a=["192.0.2.66"], wrong_question=True)

    config = persona(dns_server, retries=0, timeout_s=0.2, record_types=("A",))
    [outcome] = resolve_batch(["a.test"], personas=[config])

    assert (outcome.status, outcome.ips) == ("timeout", ())


def test_a_truncated_answer_is_asked_again_over_tcp(dns_server):
    dns_server.set("big.test", a=["192.0.2.1", "192.0.2.2"], truncate=True)

    [outcome] = resolve_batch(["big.test"], personas=[persona(dns_server, record_types=("A",))])

    assert (outcome.status, outcome.ips) == ("resolved", ("192.0.2.1", "192.0.2.2"))
    assert [q.transport for q in dns_server.queries] == ["udp", "tcp"]
    assert outcome.attempts == 2


def test_queries_are_what_dnspython_would_send_with_edns(dns_server):
    dns_server.set("shop.test", a=["192.0.2.1"], aaaa=["2001:db8::1"])

    resolve_batch(["shop.test"], personas=[persona(dns_server)])

    for query in dns_server.queries:
        expected = dns.message.make_query(query.qname, query.qtype, use_edns=0, payload=1232)
        expected.id = int.from_bytes(query.wire[:2], "big")
        assert query.wire == expected.to_wire()


def test_output_order_matches_input_order(dns_server):
    domains = [f"d{i}.test" for i in range(40)]
    for i, domain in enumerate(domains):
        # Earlier names answer later, so completion order is the reverse of the input order.
        dns_server.set(domain, a=[f"192.0.2.{i}"], delay_s=0.002 * (40 - i))

    outcomes = resolve_batch(domains, personas=[persona(dns_server, max_in_flight=40, record_types=("A",))])

    assert [o.domain for o in outcomes] == domains
    assert [o.ips for o in outcomes] == [(f"192.0.2.{i}",) for i in range(40)]


def test_resolve_many_runs_inside_an_event_loop(dns_server):
    dns_server.set("a.test", a=["192.0.2.1"])

    outcomes = asyncio.run(resolve_many(["a.test", "b.test"], personas=[persona(dns_server)]))

    assert [o.status for o in outcomes] == ["resolved", "unresolved"]


def test_latency_reflects_slow_answers(dns_server):
    dns_server.set("slow.test", a=["192.0.2.1"], delay_s=0.15)

    [outcome] = resolve_batch(["slow.test"], personas=[persona(dns_server, record_types=("A",))])

    assert 150 <= outcome.latency_ms < 600
