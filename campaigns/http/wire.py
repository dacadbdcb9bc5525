"""HTTP/1.1 on one connection: a buffered stream, and responses framed by llhttp (httptools).

Framing is llhttp's and strict: a response with both Content-Length and Transfer-Encoding, a
malformed chunk size, a transfer coding other than a lone `chunked`, or bytes after the response
on a keep-alive connection refuse the response (or retire the connection). The one leniency
turned on is a bare LF as line end, which browsers accept and which cannot change where a
message ends.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httptools

from campaigns.http.body import Body
from campaigns.http.errors import Closed, FetchError

MAX_HEAD_BYTES = 64 * 1024
# The headers anything reads (framing, decoding, redirects, the outcome); the others are not
# decoded at all.
_KEPT = frozenset({b"content-type", b"server", b"location", b"content-encoding", b"transfer-encoding",
                   b"content-length"})
# Headers that must not be joined when repeated: the last one is used (as browsers do), and two
# different redirect targets are refused rather than guessed between.
_LAST_WINS = frozenset({"content-type", "server"})


class Outbox:
    """The writes of one loop's connections, sent together at the end of the loop turn they are made in.

    Fetches write their requests as responses arrive, each between other fetches' Python work:
    written at once, each request found the server asleep again and paid for waking it, on both
    sides. Sent back to back, the server is woken once and reads them all (docs/DECISIONS.md, "A
    loop turn's writes leave together"). A connection closed before the turn ends sends nothing.
    """

    __slots__ = ("_loop", "_writes")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._writes: list[tuple[asyncio.WriteTransport, bytes]] = []

    def add(self, transport: asyncio.WriteTransport, data: bytes) -> None:
        if not self._writes:
            self._loop.call_soon(self._flush)
        self._writes.append((transport, data))

    def _flush(self) -> None:
        writes, self._writes = self._writes, []
        for transport, data in writes:
            if not transport.is_closing():
                transport.write(data)


class Conn(asyncio.BufferedProtocol):
    """A byte stream over an asyncio transport, with back-pressure above `high_water` bytes.

    Reads land in one receive area shared by all connections of a client (the transport fills it
    and calls buffer_updated() at once), so no bytes object is allocated per read; writes leave
    through the loop's Outbox.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, high_water: int, receive_area: memoryview,
                 outbox: Outbox) -> None:
        self.loop = loop
        self.receive_area = receive_area
        self.outbox = outbox
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.lost: asyncio.Future[None] = loop.create_future()
        self.paused = False
        self.high_water = high_water
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.receive_area

    def buffer_updated(self, nbytes: int) -> None:
        self.buf += self.receive_area[:nbytes]
        if len(self.buf) >= self.high_water and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        if not self.lost.done():
            self.lost.set_result(None)
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def write(self, data: bytes) -> None:
        if self.eof or self.transport is None:
            raise Closed()
        self.outbox.add(self.transport, data)

    async def more(self) -> None:
        """Wait for more bytes; Closed at end of stream."""
        if self.eof:
            if self.error is not None:
                raise self.error
            raise Closed()
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        self.waiter = self.loop.create_future()
        await self.waiter
        if self.error is not None and not self.buf:
            raise self.error

    def take(self, n: int) -> bytes:
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    async def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            await self.more()
        return self.take(n)

    def abort(self) -> None:
        self.eof = True
        if self.transport is not None:
            self.transport.abort()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    reusable: bool


class _Message:
    """llhttp's callbacks for one response (1xx interim responses are skipped).

    The parser holds the message (its callbacks) and the message holds the parser (whose state
    on_headers_complete reads): a reference cycle, which reference counting cannot free. close()
    breaks it once the response is read; left to the garbage collector, the eight objects of every
    response made most of what its young collections walked (docs/DECISIONS.md).
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parser = httptools.HttpResponseParser(self)
        self.parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)
        self.head_bytes = 0
        self.headers: dict[str, str] = {}
        self.status = 0
        self.body: Body | None = None
        self.interim = False
        self.keep_alive = False
        self.until_close = False
        self.done = False
        self.error: FetchError | None = None

    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered not in _KEPT:
            return
        key = lowered.decode("latin-1")
        text = value.decode("latin-1").strip()
        known = self.headers.get(key)
        if known is None or key in _LAST_WINS:
            self.headers[key] = text
        elif key == "location":
            if text != known:
                self._refuse(FetchError("conflicting Location headers in one response"))
        else:
            self.headers[key] = f"{known}, {text}"

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if self.status == 101:
            self._refuse(FetchError("server switched protocols (101) on a plain GET"))
        if self.status < 200:
            self.interim = True
            self.headers = {}
            return
        coding = self.headers.get("transfer-encoding")
        if coding is not None and coding.strip().lower() != "chunked":
            self._refuse(FetchError(f"unsupported transfer coding {coding[:40]!r}"))
        self.keep_alive = self.parser.should_keep_alive()
        self.until_close = coding is None and "content-length" not in self.headers and self.status not in (204, 304)
        try:
            self.body = Body(self.headers.get("content-encoding", "").strip().lower(), self.cap)
        except FetchError as exc:
            self._refuse(exc)

    def on_body(self, data: bytes) -> None:
        try:
            self.body.feed(data)  # type: ignore[union-attr]
        except FetchError as exc:
            self._refuse(exc)

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
        else:
            self.done = True

    def close(self) -> None:
        del self.parser

    def _refuse(self, error: FetchError) -> None:
        self.error = error
        raise error

    def feed(self, data: bytes) -> None:
        """Parse `data`; FetchError when the response is malformed or refused."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            raise self.error or FetchError("malformed HTTP response") from None
        except httptools.HttpParserUpgrade:
            raise FetchError("server switched protocols on a plain GET") from None
        except httptools.HttpParserError as exc:
            if self.error is not None:
                raise self.error from None
            if self.done:  # bytes after a complete response: the connection is not reused
                self.keep_alive = False
                return
            raise FetchError(f"malformed HTTP response: {exc}") from None
        if self.body is None:  # still in the head (bytes after a complete head are body)
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD_BYTES:
                raise FetchError("response headers larger than 64 KiB")


async def read_response(conn: Conn, cap: int) -> Response:
    """The next response on `conn`, its decoded body cut at `cap` bytes; Closed if none came."""
    message = _Message(cap)
    try:
        while not message.done and not (message.body is not None and message.body.full):
            if conn.buf:
                data = bytes(conn.buf)
                conn.buf.clear()
                message.feed(data)
                continue
            try:
                await conn.more()
            except Closed:
                if message.body is None:
                    raise
                if message.until_close:
                    break
                raise FetchError(_truncated(message)) from None
    finally:
        message.close()
    body = message.body
    assert body is not None
    reusable = message.keep_alive and message.done and not body.full and not conn.buf
    return Response(message.status, message.headers, body.value(), reusable)


def _truncated(message: _Message) -> str:
    if "transfer-encoding" in message.headers:
        return "connection closed in the middle of a chunked body"
    raw = message.body.raw if message.body is not None else 0
    return f"connection closed after {raw} of {message.headers.get('content-length')} body bytes"


async def read_connect_reply(conn: Conn) -> int:
    """The status of a proxy's answer to CONNECT; only its head is read (a tunnel follows it)."""
    while True:
        end = conn.buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(conn.buf) > MAX_HEAD_BYTES:
            raise FetchError("response headers larger than 64 KiB")
        await conn.more()
    message = _Message(1)
    try:
        message.feed(conn.take(end + 4))
    finally:
        message.close()
    if message.status == 0:
        raise FetchError("incomplete response head")
    return message.status
