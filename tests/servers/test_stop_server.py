"""The test servers' own stop: a server closed while connections keep arriving leaves no socket behind.

asyncio (3.11) takes a connection off the listening socket in one turn of its loop and builds the
connection's transport in the next; on a server closed in between, that fails and the socket is
dropped unclosed. Tests that cut connections at random moments through a proxy stop their server
while the proxy may still be connecting to it, and the dropped socket's ResourceWarning then
failed whichever later test the garbage collector ran in.
"""
from __future__ import annotations

import asyncio
import gc
import socket
import threading
import warnings

from tests.servers.http_proxies import BackgroundLoop


async def _close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


def _connect_until(stop: threading.Event, port: int) -> None:
    while not stop.is_set():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            pass  # refused once the server has closed, or timed out while its backlog was full


def test_a_server_stopped_while_connections_arrive_leaves_no_socket_unclosed(test_servers_loop: BackgroundLoop):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(10):
            server = test_servers_loop.call(asyncio.start_server(_close_at_once, "127.0.0.1", 0))
            stop = threading.Event()
            clients = [threading.Thread(target=_connect_until, args=(stop, server.sockets[0].getsockname()[1]))
                       for _ in range(2)]
            for client in clients:
                client.start()
            try:
                test_servers_loop.call(asyncio.sleep(0.02))  # connections arriving all along
                test_servers_loop.stop_server(server)
            finally:
                stop.set()
                for client in clients:
                    client.join()
        test_servers_loop.call(asyncio.sleep(0.05))  # the loop runs what the last stop left queued
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
