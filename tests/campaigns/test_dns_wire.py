"""campaigns.dns.wire on real sockets: how names are encoded, and how the queries of one event-loop turn leave."""
from __future__ import annotations

import asyncio
import socket
import threading

import dns.message
import dns.name

from campaigns.dns import Resolver
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


def test_queries_asked_in_one_loop_turn_are_sent_together_at_its_end():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.setblocking(False)
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

    try:
        during, after = asyncio.run(ask_in_one_turn())
    finally:
        server.close()

    assert during == []
    assert [dns.message.from_wire(d).question[0].name.to_text() for d in after] == [f"{n}." for n in names]


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
