"""campaigns.dns.wire on real sockets: a loop turn's queries of one size leave in one segmented send
(UDP_SEGMENT), and a channel whose sockets refuse segmenting sends each query alone."""
from __future__ import annotations

import asyncio
import socket
import sys

import dns.message
import pytest

from campaigns.dns import Resolver
from campaigns.dns.wire import _HEADER_TAIL, _MAX_SEGMENTS, _OPT, UNREACHABLE, _Channel, _qname_wire

_UDP_GRO = 104  # Linux: a socket that takes a segmented send whole, with the size of its segments
_SO_NO_CHECK = 11  # Linux: send without UDP checksums, under which the kernel refuses to segment


@pytest.fixture
def gro_server():
    """A UDP socket on 127.0.0.1 in a resolver's place that receives each send whole (UDP_GRO), so a
    test sees which queries left together; a plain socket would receive them as separate datagrams."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.setsockopt(socket.SOL_UDP, _UDP_GRO, 1)
    server.setblocking(False)
    yield server
    server.close()


def _sends(server: socket.socket) -> list[list[str]]:
    """The names of each send that has reached the server so far, split into its datagrams."""
    sends = []
    while True:
        try:
            data, ancillary, _, _ = server.recvmsg(65535, socket.CMSG_SPACE(4))
        except BlockingIOError:
            return sends
        size = next((int.from_bytes(value, sys.byteorder) for _, kind, value in ancillary if kind == _UDP_GRO),
                    len(data))
        datagrams = [data[start : start + size] for start in range(0, len(data), size)]
        sends.append([dns.message.from_wire(d).question[0].name.to_text(omit_final_dot=True) for d in datagrams])


def _ask_in_turns(server: socket.socket, turns: list[list[str]], *, refusing: list[bool] | None = None) -> list[list[str]]:
    """Ask each turn's names on a one-socket channel, one event-loop turn each; the sends the server got.
    `refusing`, per turn: whether the socket sends without checksums then (the kernel refuses segments)."""

    async def ask() -> list[list[str]]:
        channel = _Channel(Resolver("127.0.0.1", server.getsockname()[1]), asyncio.get_running_loop(),
                           timeout_s=5, sockets=1)
        try:
            for names, refuse in zip(turns, refusing or [False] * len(turns)):
                channel._sockets[0].setsockopt(socket.SOL_SOCKET, _SO_NO_CHECK, int(refuse))
                for name in names:
                    question = _qname_wire(name) + b"\x00\x01\x00\x01"
                    channel.ask(_HEADER_TAIL + question + _OPT, question, lambda reply: None)
                await asyncio.sleep(0)  # the turn ends
            await asyncio.sleep(0.05)
            return _sends(server)
        finally:
            channel.close()

    return asyncio.run(ask())


def test_a_turns_queries_of_one_size_leave_in_one_send_at_most_max_segments_at_a_time(gro_server):
    same = [f"n{i:03d}.test" for i in range(2 * _MAX_SEGMENTS + 22)]
    longer = ["long0.test", "long1.test", "long2.test"]
    alone = ["x.test"]

    sends = _ask_in_turns(gro_server, [same[:5] + longer + alone + same[5:]])

    assert sorted(sends) == sorted([same[:_MAX_SEGMENTS], same[_MAX_SEGMENTS : 2 * _MAX_SEGMENTS],
                                    same[2 * _MAX_SEGMENTS :], longer, alone])


def test_a_channel_whose_socket_refuses_segments_sends_its_queries_one_by_one_and_loses_none(gro_server):
    """The kernel refuses a segmented send (here: to a socket sending without checksums); the turn's
    queries leave one by one instead, and so do later turns'."""
    turns = [[f"a{i}.test" for i in range(5)], [f"b{i}.test" for i in range(5)]]

    sends = _ask_in_turns(gro_server, turns, refusing=[True, True])

    assert sends == [[name] for names in turns for name in names]


def test_queries_too_large_to_share_a_send_leave_alone_and_are_refused_each_on_its_own(gro_server):
    """Two datagrams of one size too large for UDP (the kernel refuses each): each query ends as
    unreachable, tried on the next resolver, as one alone did."""
    replies = []

    async def ask() -> None:
        channel = _Channel(Resolver("127.0.0.1", gro_server.getsockname()[1]), asyncio.get_running_loop(),
                           timeout_s=5, sockets=1)
        try:
            channel.ask(b"x" * 70_000, b"question", replies.append)
            channel.ask(b"y" * 70_000, b"question", replies.append)
            await asyncio.sleep(0)
        finally:
            channel.close()

    asyncio.run(ask())

    assert replies == [UNREACHABLE, UNREACHABLE]


def test_once_the_kernel_refuses_segments_the_channel_sends_alone_even_where_it_no_longer_would(gro_server):
    """A refusal for lack of support (EINVAL) stops segmenting on that channel: after the socket could
    segment again, the next turn's queries still leave one per send."""
    first, later = [f"a{i}.test" for i in range(3)], [f"b{i}.test" for i in range(3)]

    sends = _ask_in_turns(gro_server, [first, later], refusing=[True, False])

    assert sends == [[name] for name in first + later]
