"""campaigns.dns.wire on real sockets: how names are encoded, how the queries of one event-loop turn leave, and
what a hostile server's bytes do."""
from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
import threading
from collections.abc import Callable

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from campaigns import aio
from campaigns.dns import Resolver, resolve_many
from campaigns.dns.wire import (
    _HEADER_TAIL,
    _MAX_SOCKETS,
    _MAX_SUFFIXES,
    _OPT,
    _SUFFIXES,
    UNREACHABLE,
    _answers_per_socket,
    _Channel,
    _qname_wire,
    channel_sockets,
)
from tests.campaigns.dns_helpers import persona


def test_names_sharing_an_ending_are_encoded_and_refused_exactly_as_each_alone():
    """A name's labels after the first are encoded once per ending and reused: the wire form must
    still be each name's own (as dnspython writes it), and an invalid ending refuses every name
    that has it, however often it is seen; the cache of endings stays bounded."""
    valid = ["a.shop.test", "B.shop.test.", "a-1.shop.test", "shop.test", "test", "x.y.shop.test", "9.shop.test"]
    invalid = ["a.-shop.test", "b.-shop.test", "a.shop.123", "b.shop.123", "a..shop.test", "a.sh_op.test", "123"]
    # The first label, checked on its own for every name: each way an LDH label can be wrong.
    valid += ["a--b.shop.test", "A" * 63 + ".shop.test", "0-0.shop.test"]
    invalid += ["-a.shop.test", "a-.shop.test", "-.shop.test", "a_b.shop.test", "a" * 64 + ".shop.test",
                "é.shop.test", ".shop.test", "a b.shop.test"]

    for _ in range(2):  # the second time, every ending comes from the cache
        assert [_qname_wire(n) for n in valid] == [dns.name.from_text(n.lower()).to_wire() for n in valid]
        assert [_qname_wire(n) for n in invalid] == [None] * len(invalid)

    for i in range(_MAX_SUFFIXES + 10):
        assert _qname_wire(f"a.s{i}.test") == dns.name.from_text(f"a.s{i}.test").to_wire()
    assert len(_SUFFIXES) <= _MAX_SUFFIXES


# -- queries of one loop turn ---------------------------------------------------------------------


def _datagrams(server: socket.socket) -> list[bytes]:
    """What has reached the server so far (a non-blocking socket)."""
    received = []
    while True:
        try:
            received.append(server.recv(4096))
        except BlockingIOError:
            return received


@pytest.fixture
def udp_server():
    """A non-blocking UDP socket on 127.0.0.1 in a resolver's place: it answers only what a test sends."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.setblocking(False)
    yield server
    server.close()


def test_queries_asked_in_one_loop_turn_are_sent_together_at_its_end(udp_server):
    server = udp_server
    names = [f"n{i}.test" for i in range(5)]

    async def ask_in_one_turn() -> tuple[list[bytes], list[bytes]]:
        channel = _Channel(Resolver("127.0.0.1", server.getsockname()[1]), asyncio.get_running_loop(),
                           timeout_s=5, sockets=2)
        try:
            for name in names:
                question = _qname_wire(name) + b"\x00\x01\x00\x01"
                channel.ask(_HEADER_TAIL + question + _OPT, question, lambda reply: None)
            during = _datagrams(server)
            await asyncio.sleep(0)  # the turn ends
            return during, _datagrams(server)
        finally:
            channel.close()

    during, after = asyncio.run(ask_in_one_turn())

    assert during == []
    assert sorted(dns.message.from_wire(d).question[0].name.to_text() for d in after) == [f"{n}." for n in names]


def test_a_query_the_network_refuses_to_send_ends_as_unreachable():
    """A send the kernel refuses (here a datagram too large for UDP) answers the query as unreachable,
    an error tried on the next resolver, not a timeout."""
    replies = []

    async def ask() -> None:
        channel = _Channel(Resolver("127.0.0.1", 9), asyncio.get_running_loop(), timeout_s=5, sockets=1)
        try:
            channel.ask(b"x" * 70_000, b"question", replies.append)
            await asyncio.sleep(0)
        finally:
            channel.close()

    asyncio.run(ask())

    assert replies == [UNREACHABLE]


def test_each_query_times_out_at_its_own_deadline_even_after_a_datagram_that_was_not_its_answer(udp_server):
    """Unanswered queries time out in the order asked, none before timeout_s; one that received bytes
    with its id but another question (not its answer) keeps its deadline: it times out before a query
    asked later is due."""
    server = udp_server
    timeout_s = 0.4

    async def ask() -> tuple[dict[str, float], dict[str, float]]:
        loop = asyncio.get_running_loop()
        channel = _Channel(Resolver("127.0.0.1", server.getsockname()[1]), loop, timeout_s=timeout_s, sockets=1)
        asked: dict[str, float] = {}
        timed_out: dict[str, float] = {}

        def ask_for(name: str) -> None:
            def on_reply(reply: object) -> None:
                assert reply is None
                timed_out[name] = loop.time()
            question = _qname_wire(name) + b"\x00\x01\x00\x01"
            asked[name] = loop.time()
            channel.ask(_HEADER_TAIL + question + _OPT, question, on_reply)

        try:
            ask_for("first.test")
            await asyncio.sleep(0.2)
            ask_for("second.test")
            await asyncio.sleep(0.05)
            first = _datagrams(server)[0]
            # The first query's id, another question: not its answer, and after the second was asked.
            other = dns.message.make_response(dns.message.make_query("other.test", "A"))
            other.id = int.from_bytes(first[:2], "big")
            server.sendto(other.to_wire(), ("127.0.0.1", channel._sockets[0].getsockname()[1]))
            for _ in range(100):
                if len(timed_out) == 2:
                    break
                await asyncio.sleep(0.05)
            return asked, timed_out
        finally:
            channel.close()

    asked, timed_out = asyncio.run(ask())

    assert list(timed_out) == ["first.test", "second.test"]
    assert all(timed_out[name] - asked[name] >= timeout_s for name in asked)
    assert timed_out["first.test"] < asked["second.test"] + timeout_s


def test_a_burst_of_answers_while_the_loop_is_busy_waits_in_the_sockets_instead_of_being_dropped():
    """As many queries as a channel of the most sockets holds the answers of, every answer sent while the
    event loop runs something else: each query gets its answer, none waits out its timeout. With the
    queries on fewer sockets than channel_sockets gives, the kernel drops what their buffers cannot hold."""
    in_flight = _MAX_SOCKETS * _answers_per_socket()
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    server.bind(("127.0.0.1", 0))
    server.settimeout(30)
    queries: list[tuple[bytes, tuple]] = []
    all_in = threading.Event()

    def collect() -> None:
        while len(queries) < in_flight:
            queries.append(server.recvfrom(512))
        all_in.set()

    replies: list = []

    async def burst() -> None:
        channel = _Channel(Resolver("127.0.0.1", server.getsockname()[1]), asyncio.get_running_loop(),
                           timeout_s=5, sockets=channel_sockets(in_flight))
        try:
            for i in range(in_flight):
                question = _qname_wire(f"n{i}.test") + b"\x00\x01\x00\x01"
                channel.ask(_HEADER_TAIL + question + _OPT, question, replies.append)
                if i % 200 == 199:
                    await asyncio.sleep(0.002)  # sent at the turn's end; the server's reader keeps up
            await asyncio.sleep(0)
            assert all_in.wait(30)
            for data, address in queries:  # the loop is held here: every answer arrives meanwhile
                server.sendto(data[:2] + b"\x81\x80" + data[4:], address)  # NOERROR, no records
            while len(replies) < in_flight:  # each query ends with its answer, or None at its timeout
                await asyncio.sleep(0.01)
        finally:
            channel.close()

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    try:
        asyncio.run(burst())
    finally:
        server.close()

    assert len(replies) == in_flight
    assert replies.count(None) == 0
    assert {reply[0] for reply in replies} == {0}


# -- hostile answers ------------------------------------------------------------------------------


def _mutations(length: int) -> list[Callable[[bytes], bytes]]:
    """Ways to spoil an answer of `length` bytes: cut short anywhere, any byte after the id set to a
    value that means something else in a header, a label or a count, counts overstated, junk
    appended, bodies of random bytes behind the right id."""
    rng = random.Random(7)
    mutations: list[Callable[[bytes], bytes]] = [lambda b, k=k: b[:k] for k in range(length)]
    for i in range(2, length):
        for value in (0x00, 0x01, 0x3F, 0x40, 0xC0, 0xFF):
            mutations.append(lambda b, i=i, v=value: b[:i] + bytes([v]) + b[i + 1 :])
    for count in (0, 1, 3, 0xFFFF):
        mutations.append(lambda b, c=count: b[:6] + c.to_bytes(2, "big") + b[8:])  # ANCOUNT
    for size in (1, 13, 600):
        mutations.append(lambda b, s=size: b + rng.randbytes(s))
    for size in (10, 12, 40, 200, 1000):
        mutations.append(lambda b, s=size: b[:2] + rng.randbytes(s))
    return mutations


def _expected(sent: bytes, name: str, transport: str, scripted: tuple[str, ...]) -> tuple | None:
    """(status, ips, rcode) for an answer to `name` over `transport`, where dnspython can read it;
    None where it cannot. What is not an answer to the query waits out its timeout over UDP (a
    spoofed datagram must not end it) and is an error over TCP (the connection carries nothing else)."""
    not_an_answer = ("timeout", (), "") if transport == "udp" else ("error", (), "")
    if len(sent) < 12:
        return not_an_answer
    try:
        message = dns.message.from_wire(sent)
    except Exception:  # noqa: BLE001 - anything dnspython refuses: no expectation, only the call's own
        return None
    if (not message.flags & dns.flags.QR or message.opcode() != 0
            or message.question != dns.message.make_query(name, "A").question):
        return not_an_answer
    rcode = message.flags & 0x0F
    found = sorted({r.address for rrset in message.answer if rrset.rdtype == dns.rdatatype.A
                    and rrset.rdclass == dns.rdataclass.IN for r in rrset}, key=ipaddress.IPv4Address)
    if transport == "udp" and message.flags & dns.flags.TC and not found:
        return ("resolved", scripted, "NOERROR")  # asked again over TCP, which answers in full
    if rcode in (0, 3):
        if found:
            return ("resolved", tuple(found), "NOERROR")
        return ("unresolved", (), dns.rcode.to_text(rcode))
    return ("error", (), dns.rcode.to_text(rcode))


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_no_bytes_a_server_sends_fail_a_call_or_disturb_its_other_names(dns_server, transport):
    """Each name's answer spoiled one way over one transport (over TCP, after a truncated UDP
    answer): the call ends, every name gets an outcome, each as dnspython reads its bytes where
    dnspython can read them, and names with honest answers in the same call resolve as scripted."""
    scripted = ("192.0.2.1", "198.51.100.7")
    sent: dict[str, bytes] = {}
    names = []

    def mangler(name: str, mutate: Callable[[bytes], bytes]) -> Callable[[bytes, str], bytes]:
        def mangle(answer: bytes, over: str) -> bytes:
            if over != transport:
                return answer
            sent[name] = mutate(answer)
            return sent[name]
        return mangle

    probe = dns.message.make_query("m0000.hostile.test", "A", use_edns=0, payload=1232)
    length = len(dns.message.make_response(probe).to_wire()) + 2 * 16  # and two A records, owner a pointer
    for i, mutate in enumerate(_mutations(length)):
        name = f"m{i:04d}.hostile.test"
        dns_server.set(name, a=scripted, truncate=transport == "tcp", mangle=mangler(name, mutate))
        names.append(name)
        if i % 25 == 0:
            dns_server.set(f"h{i:04d}.hostile.test", a=scripted)
            names.append(f"h{i:04d}.hostile.test")

    # Over UDP, what is not an answer waits out the timeout; over TCP every query gets its bytes, and
    # hundreds of connections at once to the test server can take longer than a second.
    timeout_s = 1 if transport == "udp" else 10
    config = persona(dns_server, retries=0, timeout_s=timeout_s, max_in_flight=1000, record_types=("A",))
    # Bounded: an answer that broke a socket's read callback would leave its name waiting for ever.
    outcomes = aio.run(asyncio.wait_for(resolve_many(names, personas=[config]), 60))  # a worker's loop

    assert [o.domain for o in outcomes] == names
    checked = 0
    for outcome in outcomes:
        got = (outcome.status, outcome.ips, outcome.rcode)
        if outcome.domain.startswith("h"):
            assert got == ("resolved", scripted, "NOERROR")
            continue
        assert outcome.status in ("resolved", "unresolved", "timeout", "error")
        assert all(ipaddress.IPv4Address(ip) for ip in outcome.ips)
        wanted = _expected(sent[outcome.domain], outcome.domain, transport, scripted)
        if wanted is not None:
            assert got == wanted, (outcome.domain, sent[outcome.domain])
            checked += 1
    assert checked > len(outcomes) // 2  # most spoiled answers have an expectation to meet
