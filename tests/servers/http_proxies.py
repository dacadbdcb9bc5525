"""Real proxies for tests: HTTP CONNECT (plain or over TLS) and SOCKS5, on 127.0.0.1.

They run on a `BackgroundLoop` (an asyncio loop in a daemon thread, shared with the web servers
of `tests.servers.http_server`), record every tunnel they were asked for, only ever connect to
loopback addresses, and can be told to fail:

    proxy.mode = "close"    # accept, then close at once without a word (a broken proxy)
    proxy.mode = "reject"   # answer CONNECT with 403 / SOCKS5 with "not allowed by ruleset"
    proxy.auth = ("user", "secret")   # demand these credentials (407 / SOCKS5 auth failure)

For a proxy that refuses connections outright, point a ProxyConfig at `unused_port()`.
"""
from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
_PIPE_CHUNK = 64 * 1024


def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BackgroundLoop:
    """An asyncio event loop running in a daemon thread; servers start on it and stop with it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.errors: list[dict[str, Any]] = []  # what asyncio would have logged (e.g. failed TLS handshakes)
        self.loop.set_exception_handler(lambda _loop, context: self.errors.append(context))
        self._thread = threading.Thread(target=self._run, name="test-servers", daemon=True)
        self._handlers: set[asyncio.Task[Any]] = set()
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 15) -> T:
        """Run `coro` on the loop and wait for its result from the calling thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def track(self, handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]):
        """Wrap a connection handler so stop() can cancel it and close its streams."""

        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._handlers.add(task)
            try:
                await handler(reader, writer)
            except (asyncio.CancelledError, ConnectionError, OSError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError, ssl.SSLError):
                pass
            finally:
                self._handlers.discard(task)
                writer.close()

        return tracked

    def stop_server(self, server: asyncio.Server) -> None:
        """Close a server started on this loop without dropping a connection it has just accepted.

        asyncio (3.11) takes a connection off the listening socket in one turn of the loop and
        builds its transport in the next, which fails if the server was closed in between: the
        socket is then dropped unclosed, and its ResourceWarning fails whichever later test the
        garbage collector runs in (a proxy's tunnels may still be connecting to a test's server
        when the test ends). So the server first stops taking connections, lets those it took
        get their transports, and only then closes (what still waits in its backlog is refused).
        """

        async def close() -> None:
            for sock in server.sockets:
                self.loop.remove_reader(sock.fileno())
            for _ in range(2):
                await asyncio.sleep(0)
            server.close()
            await server.wait_closed()

        self.call(close())

    async def _shutdown(self) -> None:
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        for _ in range(5):  # let closing transports finish (connection_lost callbacks)
            await asyncio.sleep(0.01)
        await self.loop.shutdown_default_executor()

    def stop(self) -> None:
        self.call(self._shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_PIPE_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, ssl.SSLError):
        pass
    finally:
        if writer.can_write_eof():
            try:
                writer.write_eof()
            except (OSError, RuntimeError):
                writer.close()
        else:
            writer.close()


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class TunnelRequest:
    """What a proxy was asked to connect to, and with which credentials (None when none were sent)."""

    target: str  # "127.0.0.1:8443"; IPv6 as "[::1]:8443"
    credentials: tuple[str, str] | None


class Proxy:
    """A test proxy on the background loop: subclasses serve each accepted connection (`_serve`)."""

    kind = ""

    def __init__(self, background: BackgroundLoop, *, tls: ssl.SSLContext | None = None) -> None:
        self.background = background
        self.tls = tls
        self.mode = "ok"
        self.auth: tuple[str, str] | None = None
        self.requests: list[TunnelRequest] = []
        self.connections = 0
        self._server = background.call(self._start())
        self.port: int = self._server.sockets[0].getsockname()[1]

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(self.background.track(self._accept), "127.0.0.1", 0, ssl=self.tls)

    @property
    def scheme(self) -> str:
        return self.kind if self.kind == "socks5" else ("https" if self.tls else "http")

    def url(self, credentials: tuple[str, str] | None = None) -> str:
        userinfo = f"{credentials[0]}:{credentials[1]}@" if credentials else ""
        return f"{self.scheme}://{userinfo}127.0.0.1:{self.port}"

    @property
    def targets(self) -> list[str]:
        return [request.target for request in self.requests]

    def reset(self) -> None:
        self.mode = "ok"
        self.auth = None
        self.requests.clear()
        self.connections = 0

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == "close":
            return
        await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.background.stop_server(self._server)


class ConnectProxy(Proxy):
    """An HTTP proxy that supports only CONNECT tunnels (over TLS when given a server context)."""

    kind = "connect"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        lines = head.split("\r\n")
        method, _, rest = lines[0].partition(" ")
        target = rest.rpartition(" ")[0]
        credentials = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "proxy-authorization":
                scheme, _, token = value.strip().partition(" ")
                if scheme.lower() == "basic":
                    user, _, password = base64.b64decode(token).decode().partition(":")
                    credentials = (user, password)
        self.requests.append(TunnelRequest(target, credentials))
        if method != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        if self.auth is not None and credentials != self.auth:
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        if self.mode == "reject" or not _loopback(host):
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()


def _socks_reply(code: int) -> bytes:
    return bytes([5, code, 0, 1]) + bytes(6)  # VER REP RSV ATYP=IPv4 0.0.0.0:0


class Socks5Proxy(Proxy):
    """A SOCKS5 proxy (CONNECT command; no auth, or username/password when `auth` is set)."""

    kind = "socks5"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        credentials = None
        if self.auth is not None:
            if version != 5 or 2 not in methods:
                writer.write(b"\x05\xff")
                return
            writer.write(b"\x05\x02")
            _, user_len = await reader.readexactly(2)
            user = (await reader.readexactly(user_len)).decode()
            (password_len,) = await reader.readexactly(1)
            password = (await reader.readexactly(password_len)).decode()
            credentials = (user, password)
            if credentials != self.auth:
                writer.write(b"\x01\x01")
                self.requests.append(TunnelRequest("", credentials))
                return
            writer.write(b"\x01\x00")
        else:
            writer.write(b"\x05\x00")
        _, command, _, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif atyp == 4:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        else:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode()
        port = int.from_bytes(await reader.readexactly(2), "big")
        self.requests.append(TunnelRequest(f"[{host}]:{port}" if ":" in host else f"{host}:{port}", credentials))
        if command != 1:
            writer.write(_socks_reply(7))  # command not supported
            return
        if self.mode == "reject" or not _loopback(host):
            writer.write(_socks_reply(2))  # connection not allowed by ruleset
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.write(_socks_reply(5))  # connection refused
            return
        writer.write(_socks_reply(0))
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()
