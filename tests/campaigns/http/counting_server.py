"""A keep-alive HTTP server that counts its connections, and fetching from it, for the connection pool's tests.

Reuse and closing are counted on the server's side of the socket.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from campaigns.http import ConnectionPool, FetchTarget, HttpOutcome, fetch_many
from tests.campaigns.test_http import LOCAL, RULES, persona
from tests.servers.http_server import BackgroundLoop, html

PAGE = html("Pooled", "<p>a widget</p>").encode()
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s" % (len(PAGE), PAGE)


class CountingServer:
    """An HTTP/1.1 keep-alive server that numbers the connections it accepts and records their end.

    `mode`: "answer" serves every request; "drop_reused" closes a connection when a second request
    arrives on it (a keep-alive timeout firing as the request comes in); "hold" never answers and
    keeps the connection until the client closes it.
    """

    def __init__(self, background: BackgroundLoop, *, mode: str = "answer") -> None:
        self.background = background
        self.mode = mode
        self.accepted = 0
        self.open: dict[int, asyncio.StreamWriter] = {}
        self.closed: list[int] = []  # connection numbers, in the order their end was seen
        self.requests: list[tuple[int, str]] = []  # (connection number, Host)
        self._server = background.call(asyncio.start_server(background.track(self._serve), "127.0.0.1", 0))
        self.port: int = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        number = self.accepted
        self.open[number] = writer
        try:
            served = 0
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed the connection
                host = next((line[5:].strip() for line in head.decode("latin-1").split("\r\n")
                             if line.lower().startswith("host:")), "")
                self.requests.append((number, host.partition(":")[0]))
                if self.mode == "hold":
                    await reader.read(1)  # b"" once the client closes
                    return
                if self.mode == "drop_reused" and served:
                    return
                writer.write(RESPONSE)
                await writer.drain()
                served += 1
        finally:
            del self.open[number]
            self.closed.append(number)

    def close_idle(self) -> None:
        """Close every connection from the server's side, as a server's keep-alive timeout does."""

        async def close() -> None:
            for writer in list(self.open.values()):
                writer.close()

        self.background.call(close())

    def stop(self) -> None:
        self.background.stop_server(self._server)


async def fetch_from(server: CountingServer, domains: Sequence[str], *, pool: ConnectionPool | None,
                     **kwargs) -> list[HttpOutcome]:
    """Fetch `domains` (all at once) from `server` on 127.0.0.1, without retries unless asked."""
    kwargs.setdefault("persona", persona())
    kwargs.setdefault("retries", 0)
    return await fetch_many([FetchTarget(domain, LOCAL) for domain in domains], rules=RULES, ports=(server.port,),
                            allow_private=True, max_in_flight=len(domains), connections=pool, **kwargs)


async def fetch_ok(server: CountingServer, domains: Sequence[str], *, pool: ConnectionPool | None, **kwargs) -> None:
    """fetch_from, and every domain got the page."""
    outcomes = await fetch_from(server, domains, pool=pool, **kwargs)
    assert [(o.domain, o.status, o.error) for o in outcomes] == [(domain, "success", "") for domain in domains]


async def eventually(condition: Callable[[], bool], *, what: str, timeout_s: float = 5) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.01)
