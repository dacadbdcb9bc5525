"""Writes of one event-loop turn leave together (campaigns.http.wire.Outbox), seen from the server's end
of real sockets on 127.0.0.1."""
from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from campaigns import aio
from campaigns.http import ConnectionPool


def _received(peer: socket.socket) -> bytes:
    """What has reached the server's end of a connection so far (a non-blocking socket)."""
    data = b""
    while True:
        try:
            chunk = peer.recv(65536)
        except (BlockingIOError, ConnectionResetError):
            return data
        if not chunk:
            return data
        data += chunk


def _in_one_turn(writes: Callable[[list], None]) -> tuple[list[bytes], list[bytes]]:
    """Two pooled connections to a plain server socket; what each peer has received right after
    `writes(conns)` ran, and after the loop turn it ran in has ended."""
    listener = socket.create_server(("127.0.0.1", 0))

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        loop = asyncio.get_running_loop()
        pool = ConnectionPool()
        peers: list[socket.socket] = []
        try:
            conns = [pool.new(1 << 16) for _ in range(2)]
            for conn in conns:
                await loop.create_connection(lambda conn=conn: conn, "127.0.0.1", listener.getsockname()[1])
                peer, _ = listener.accept()  # already in the kernel's backlog: returns at once
                peer.setblocking(False)
                peers.append(peer)
            writes(conns)
            during = [_received(peer) for peer in peers]
            await asyncio.sleep(0)  # the turn ends
            await asyncio.sleep(0.05)
            return during, [_received(peer) for peer in peers]
        finally:
            await pool.aclose()
            for peer in peers:
                peer.close()

    try:
        return aio.run(scenario())
    finally:
        listener.close()


def test_requests_written_in_one_loop_turn_leave_together_at_its_end():
    def writes(conns: list) -> None:
        conns[0].write(b"GET /a")
        conns[1].write(b"GET /b")
        conns[0].write(b" HTTP/1.1")

    during, after = _in_one_turn(writes)

    assert during == [b"", b""]
    assert after == [b"GET /a HTTP/1.1", b"GET /b"]


def test_a_write_to_a_connection_closed_in_the_same_turn_is_dropped_and_the_others_leave():
    def writes(conns: list) -> None:
        conns[0].write(b"GET /a")
        conns[1].write(b"GET /b")
        conns[0].abort()

    _, after = _in_one_turn(writes)

    assert after == [b"", b"GET /b"]
