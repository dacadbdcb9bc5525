"""HTTP keyword validation: fetch pages from DNS-found addresses and match keywords (no ORM, no DB).

The client is a small asyncio HTTP/1.1 client of our own rather than aiohttp. Every request must go
to an address chosen by the DNS phase, also through CONNECT and SOCKS5 proxies, while Host and TLS
SNI carry the domain; the body cap must hold for the decompressed size too; and this is the hot loop
of the HTTP phase. Owning the connection, the framing and the decompression makes all of that
direct, and only GET, HTTP/1.1 and identity/gzip/deflate/br are needed.

Choices worth knowing:
- Through an HTTP(S) proxy every target, plain HTTP too, is reached with `CONNECT ip:port`: the
  absolute-form `GET http://…` would make the proxy resolve the domain (or rewrite Host to the IP).
- Plain-HTTP keep-alive connections are pooled by address, so one connection to a shared host
  serves every domain on it; TLS connections are pooled by address and SNI.
- System calls are expensive in this sandbox, so the hot path makes exactly one send and one
  receive per response: a BufferedProtocol reading into a preallocated area, and one watchdog
  timer per client instead of asyncio.timeout() per attempt.
- Fetched pages are analysed (text, title, keywords) in small groups, not one by one between
  network events; see fetch_many.
"""
from __future__ import annotations

import asyncio
import base64
import codecs
import functools
import hashlib
import ipaddress
import random
import re
import socket
import ssl
import time
import zlib
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from urllib.parse import quote, unquote, urljoin, urlsplit

import brotli

from campaigns.keywords import CompiledRule, KeywordHit, match_keywords, page_text

PROXY_SCHEMES = ("http", "https", "socks5")
PROXY_STRATEGIES = ("round_robin", "random", "least_used")
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
SNIPPET_CHARS = 300
SERVER_MAX_CHARS = 200
MAX_HEAD_BYTES = 64 * 1024
MAX_LINE_BYTES = 8 * 1024
IDLE_KEEPALIVE_S = 15.0
ANALYSE_GROUP_PAGES = 32
ANALYSE_GROUP_BYTES = 2 * 1024 * 1024
# Headers the client owns: letting a persona set them would break framing, decoding or pinning.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
     "upgrade", "accept-encoding", "proxy-authorization", "proxy-connection", "user-agent"}
)
_PATH_SAFE = "!#$%&'()*+,/:;=?@[]~"
_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]{1,40})""", re.IGNORECASE)
_HTML_TYPES = frozenset({"", "text/html", "application/xhtml+xml", "text/xml", "application/xml"})
_WHATWG_LATIN1 = frozenset({"latin_1", "ascii", "iso8859_1"})
_SOCKS_REPLIES = {
    1: "general SOCKS server failure", 2: "connection not allowed by ruleset", 3: "network unreachable",
    4: "host unreachable", 5: "connection refused", 6: "TTL expired", 7: "command not supported",
    8: "address type not supported",
}


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class HttpPersonaConfig:
    name: str
    user_agent: str = "DomainFlow/1.0"
    headers: tuple[tuple[str, str], ...] = ()
    timeout_s: float = 10.0
    follow_redirects: bool = True
    max_redirects: int = 5
    verify_tls: bool = True
    allowed_status_codes: tuple[int, ...] = ()  # empty = 200–299
    max_body_bytes: int = 1_048_576

    def __post_init__(self) -> None:
        _check_header_value("User-Agent", self.user_agent)
        for name, value in self.headers:
            if not _TOKEN_RE.fullmatch(name):
                raise ValueError(f"invalid header name {name!r}")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by the client and cannot be overridden")
            _check_header_value(name, value)
        if not self.timeout_s > 0:
            raise ValueError(f"timeout must be positive, got {self.timeout_s}")
        if self.max_redirects < 0:
            raise ValueError(f"max redirects must be >= 0, got {self.max_redirects}")
        if self.max_body_bytes < 1:
            raise ValueError(f"max body bytes must be >= 1, got {self.max_body_bytes}")
        for code in self.allowed_status_codes:
            if not 100 <= code <= 599:
                raise ValueError(f"allowed status code {code} is not between 100 and 599")

    def status_allowed(self, code: int) -> bool:
        return code in self.allowed_status_codes if self.allowed_status_codes else 200 <= code <= 299


def _check_header_value(name: str, value: str) -> None:
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"header {name!r} must not contain CR, LF or NUL")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"header {name!r} must be Latin-1 text") from None


@dataclass(frozen=True)
class ProxyConfig:
    key: str
    url: str  # http://, https://, socks5:// with optional user:pass@


@dataclass(frozen=True)
class ParsedProxy:
    scheme: str
    host: str
    port: int
    username: str
    password: str


def parse_proxy_url(url: str) -> ParsedProxy:
    """Parse and validate a proxy URL; ValueError with a one-line reason when it is unusable."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid proxy URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:
        raise ValueError(f"unsupported proxy scheme {parts.scheme!r} in {url!r} (expected http, https or socks5)")
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"proxy URL {url!r} has no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _valid_hostname(host):
            raise ValueError(f"proxy URL {url!r} has an invalid host {host!r}") from None
    if port is None:
        if parts.netloc.endswith(":"):
            raise ValueError(f"proxy URL {url!r} has an empty port")
        port = {"http": 80, "https": 443, "socks5": 1080}[scheme]
    if port == 0:
        raise ValueError(f"proxy URL {url!r} has port 0 (expected 1-65535)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"proxy URL {url!r} must not have a path, query or fragment")
    return ParsedProxy(scheme, host, port, unquote(parts.username or ""), unquote(parts.password or ""))


def _valid_hostname(host: str) -> bool:
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(
        0 < len(label) <= 63 and re.fullmatch(r"[A-Za-z0-9_-]+", label) and not label.startswith("-")
        for label in labels
    )


@dataclass(frozen=True)
class ProxyStats:
    key: str
    uses: int  # attempts made through this pool (not counting the `usage` it was seeded with)
    successes: int
    failures: int
    consecutive_failures: int
    healthy: bool


class ProxyPool:
    """Proxies chosen per attempt by strategy; one failing `unhealthy_after` times in a row is skipped.

    The caller seeds `usage` (earlier use counts, which least_used adds to this pool's own) and the
    `unhealthy` keys from what it persisted, and afterwards persists `stats()`: use, success and
    failure counts of this pool only (add them to the stored ones), consecutive failures and health.
    Used from one event loop only.
    """

    def __init__(
        self,
        proxies: Sequence[ProxyConfig],
        *,
        strategy: str = "round_robin",
        unhealthy_after: int = 3,
        usage: Mapping[str, int] | None = None,
        unhealthy: Iterable[str] = (),
        seed: int | None = None,
    ) -> None:
        if strategy not in PROXY_STRATEGIES:
            raise ValueError(f"unknown proxy strategy {strategy!r} (expected {', '.join(PROXY_STRATEGIES)})")
        if unhealthy_after < 1:
            raise ValueError(f"unhealthy_after must be >= 1, got {unhealthy_after}")
        keys = [proxy.key for proxy in proxies]
        if len(set(keys)) != len(keys):
            raise ValueError("proxy keys must be unique")
        self.strategy = strategy
        self.unhealthy_after = unhealthy_after
        self._proxies = list(proxies)
        self._parsed = {proxy.key: parse_proxy_url(proxy.url) for proxy in proxies}
        usage = usage or {}
        self._earlier_uses = {key: int(usage.get(key, 0)) for key in keys}
        self._uses = dict.fromkeys(keys, 0)
        self._successes = dict.fromkeys(keys, 0)
        self._failures = dict.fromkeys(keys, 0)
        down = set(unhealthy)
        self._consecutive = {key: (unhealthy_after if key in down else 0) for key in keys}
        self._cursor = 0
        self._rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self._proxies)

    def parsed(self, key: str) -> ParsedProxy:
        return self._parsed[key]

    def is_healthy(self, key: str) -> bool:
        return self._consecutive[key] < self.unhealthy_after

    def choose(self, *, avoid: Iterable[str] = ()) -> ProxyConfig | None:
        """The next healthy proxy by strategy, preferring ones not in `avoid`; None when none is healthy."""
        healthy = [proxy for proxy in self._proxies if self.is_healthy(proxy.key)]
        if not healthy:
            return None
        avoid = set(avoid)
        candidates = [proxy for proxy in healthy if proxy.key not in avoid] or healthy
        if self.strategy == "random":
            chosen = self._rng.choice(candidates)
        elif self.strategy == "least_used":
            chosen = min(candidates, key=lambda proxy: self._earlier_uses[proxy.key] + self._uses[proxy.key])
        else:
            allowed = {proxy.key for proxy in candidates}
            for step in range(len(self._proxies)):
                proxy = self._proxies[(self._cursor + step) % len(self._proxies)]
                if proxy.key in allowed:
                    self._cursor = (self._cursor + step + 1) % len(self._proxies)
                    chosen = proxy
                    break
        self._uses[chosen.key] += 1
        return chosen

    def record_success(self, key: str) -> None:
        self._successes[key] += 1
        self._consecutive[key] = 0

    def record_failure(self, key: str) -> None:
        self._failures[key] += 1
        self._consecutive[key] += 1

    def stats(self) -> tuple[ProxyStats, ...]:
        return tuple(
            ProxyStats(p.key, self._uses[p.key], self._successes[p.key], self._failures[p.key],
                       self._consecutive[p.key], self.is_healthy(p.key))
            for p in self._proxies
        )


@dataclass(frozen=True)
class FetchTarget:
    domain: str
    ips: tuple[str, ...]  # addresses found by the DNS phase


# Every business status an HttpOutcome can carry (the admin's filter lists these, not a DISTINCT).
BUSINESS_STATUSES = ("lead_valid", "http_valid_no_keywords", "invalid_http_code", "invalid_http_response_error")


@dataclass(frozen=True)
class HttpOutcome:
    domain: str
    status: str  # success | failed | timeout | error
    business_status: str  # lead_valid | http_valid_no_keywords | invalid_http_code | invalid_http_response_error
    status_code: int | None
    final_url: str
    redirect_count: int
    title: str
    server: str
    content_length: int  # bytes of the decoded body kept (at most the persona's max_body_bytes)
    body_sha256: str  # of those bytes
    snippet: str  # first ~300 characters of the visible text
    keyword_hits: tuple[KeywordHit, ...]
    persona: str
    proxy: str
    attempts: int
    response_time_ms: int  # of the attempt that answered (redirects included); of all attempts on failure
    error: str


# --------------------------------------------------------------------------- errors


class _FetchError(Exception):
    """An attempt failed: `retryable` for connection-level failures, `proxy_fault` when the proxy failed."""

    def __init__(self, message: str, *, retryable: bool = False, proxy_fault: bool = False, timeout: bool = False):
        super().__init__(message)
        self.retryable = retryable
        self.proxy_fault = proxy_fault
        self.timeout = timeout


class _Closed(Exception):
    """The peer closed the connection."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, TimeoutError):
        return "connection timed out"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


# --------------------------------------------------------------------------- connection


class _Conn(asyncio.BufferedProtocol):
    """A buffered byte stream over an asyncio transport with back-pressure.

    A BufferedProtocol reading into one receive area shared by all connections of a client (the
    transport fills it and calls buffer_updated() synchronously): the default protocol path makes
    asyncio allocate and free a 256 KiB bytes object per read, three system calls per response.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, high_water: int, receive_area: memoryview) -> None:
        self.loop = loop
        self.receive_area = receive_area
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
            raise _Closed()
        self.transport.write(data)

    async def more(self) -> None:
        """Wait for more bytes; _Closed at end of stream."""
        if self.eof:
            if self.error is not None:
                raise self.error
            raise _Closed()
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

    async def read_line(self) -> bytes:
        while True:
            idx = self.buf.find(b"\n")
            if idx >= 0:
                return self.take(idx + 1).rstrip(b"\r\n")
            if len(self.buf) > MAX_LINE_BYTES:
                raise _FetchError("response line longer than 8 KiB")
            await self.more()

    async def read_head(self) -> bytes:
        buf = self.buf
        while True:
            # the head ends at the first \r?\n\r?\n: the first "\n\r\n" or "\n\n" (two finds are
            # cheaper than a regex search)
            crlf, lf = buf.find(b"\n\r\n"), buf.find(b"\n\n")
            if crlf >= 0 or lf >= 0:
                newline, end = (crlf, crlf + 3) if lf < 0 or 0 <= crlf < lf else (lf, lf + 2)
                head = bytes(buf[: newline - 1 if newline and buf[newline - 1] == 13 else newline])
                del buf[:end]
                return head
            if len(buf) > MAX_HEAD_BYTES:
                raise _FetchError("response headers larger than 64 KiB")
            await self.more()

    def abort(self) -> None:
        self.eof = True
        if self.transport is not None:
            self.transport.abort()


# --------------------------------------------------------------------------- body decoding


class _Body:
    """Collects a response body, decompressing it, never holding more than `cap` bytes of either."""

    def __init__(self, encoding: str, cap: int) -> None:
        self.cap = cap
        self.raw = 0
        self.parts: list[bytes] = []
        self.size = 0
        self.full = False
        self.encoding = encoding
        self._zlib: zlib._Decompress | None = None
        self._brotli: brotli.Decompressor | None = None
        self._undecided: bytes | None = b"" if encoding == "deflate" else None  # input before any output
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding == "br":
            self._brotli = brotli.Decompressor()
        elif encoding not in ("", "identity"):
            raise _FetchError(f"unsupported content-encoding {encoding!r}")

    def feed(self, data: bytes) -> None:
        data = data[: self.cap - self.raw]
        self.raw += len(data)
        if self.raw >= self.cap:
            self.full = True
        if self._zlib is not None:
            data = self._inflate(data)
        elif self._brotli is not None:
            try:
                data = self._brotli.process(data, output_buffer_limit=self.cap - self.size + 1)
            except brotli.error as exc:
                raise _FetchError(f"invalid br body: {exc}") from None
            if not self._brotli.can_accept_more_data():
                self.full = True  # output limit reached: the decompressed body is over the cap
        self._keep(data)

    def _inflate(self, data: bytes) -> bytes:
        room = self.cap - self.size
        if room <= 0:  # max_length=0 would mean "no limit"
            self.full = True
            return b""
        if self._undecided is not None:
            self._undecided += data
        try:
            out = self._zlib.decompress(data, room)  # type: ignore[union-attr]
        except zlib.error as exc:
            if self._undecided is not None:  # "deflate" is often sent without its zlib wrapper
                data, self._undecided = self._undecided, None
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._inflate(data)
            raise _FetchError(f"invalid {self.encoding} body: {exc}") from None
        if out:
            self._undecided = None
        if self._zlib.unconsumed_tail:  # type: ignore[union-attr]
            self.full = True
        return out

    def _keep(self, data: bytes) -> None:
        room = self.cap - self.size
        if len(data) >= room:
            data = data[:room]
            self.full = True
        if data:
            self.parts.append(data)
            self.size += len(data)

    def value(self) -> bytes:
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)


# --------------------------------------------------------------------------- responses


@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes
    reusable: bool


def _parse_head(head: bytes) -> tuple[int, int, dict[str, str]]:
    """(minor version, status, headers with lower-case names) of a response head."""
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    if text.count("\n") >= len(lines):  # some lines end in a bare LF
        lines = text.replace("\r\n", "\n").split("\n")
    first = lines[0]
    if not (first[:7] == "HTTP/1." and first[7:8] in ("0", "1") and first[8:9] == " " and first[9:12].isdigit()
            and first[9] != "0" and first[12:13] in ("", " ", "\t")):
        raise _FetchError(f"malformed HTTP status line {first[:60]!r}")
    headers: dict[str, str] = {}
    last = ""
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or line[0] in " \t":
            if line[:1] in (" ", "\t") and last:  # obsolete line folding
                headers[last] += " " + line.strip()
                continue
            raise _FetchError(f"malformed HTTP header line {line[:60]!r}")
        name = name.lower()
        if name[-1:] in (" ", "\t"):
            name = name.rstrip()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
        last = name
    return int(first[7]), int(first[9:12]), headers


async def _read_response(conn: _Conn, cap: int) -> _Response:
    while True:
        minor, status, headers = _parse_head(await conn.read_head())
        if status >= 200:
            break
        if status == 101:
            raise _FetchError("server switched protocols (101) on a plain GET")
    connection = headers.get("connection", "").lower()
    reusable = minor == 1 and "close" not in connection
    if status in (204, 304):
        return _Response(status, headers, b"", reusable)
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    length = None if chunked or "content-length" not in headers else _content_length(headers["content-length"])
    if (length is not None and len(conn.buf) == length <= cap and "content-encoding" not in headers
            and "transfer-encoding" not in headers):  # the common case: the whole plain body is here
        return _Response(status, headers, conn.take(length), reusable)
    body = _Body(headers.get("content-encoding", "").strip().lower(), cap)
    if chunked:
        complete = await _read_chunked(conn, body)
    elif length is not None:
        complete = await _read_sized(conn, body, length)
    else:
        await _read_to_close(conn, body)
        complete = False
    return _Response(status, headers, body.value(), reusable and complete and not conn.buf)


def _content_length(value: str) -> int:
    values = {v.strip() for v in value.split(",")}  # repeated identical values are tolerated
    length = values.pop() if len(values) == 1 else ""
    if not (length.isascii() and length.isdigit()):
        raise _FetchError(f"invalid Content-Length {value[:40]!r}")
    return int(length)


async def _read_sized(conn: _Conn, body: _Body, length: int) -> bool:
    remaining = length
    while remaining and not body.full:
        if not conn.buf:
            try:
                await conn.more()
            except _Closed:
                raise _FetchError(f"connection closed after {length - remaining} of {length} body bytes") from None
        take = min(len(conn.buf), remaining)
        body.feed(conn.take(take))
        remaining -= take
    return remaining == 0


async def _read_chunked(conn: _Conn, body: _Body) -> bool:
    try:
        while not body.full:
            line = await conn.read_line()
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _FetchError(f"malformed chunk size {size_text[:20]!r}") from None
            if size == 0:
                while await conn.read_line():  # trailer fields
                    pass
                return True
            remaining = size
            while remaining and not body.full:
                if not conn.buf:
                    await conn.more()
                take = min(len(conn.buf), remaining)
                body.feed(conn.take(take))
                remaining -= take
            if remaining == 0:
                await conn.read_line()
    except _Closed:
        raise _FetchError("connection closed in the middle of a chunked body") from None
    return False


async def _read_to_close(conn: _Conn, body: _Body) -> None:
    while not body.full:
        if conn.buf:
            body.feed(conn.take(len(conn.buf)))
            continue
        try:
            await conn.more()
        except _Closed:
            return


# --------------------------------------------------------------------------- the client


def _address_refusal(ip: str) -> str | None:
    """Why `ip` may not be fetched without allow_private, or None for a public unicast address."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(addr, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if addr.is_global else "non-global"


@functools.lru_cache(maxsize=8192)
def _classify_address(ip: str) -> tuple[str, str | None]:
    """(canonical form, refusal reason or None); ValueError when `ip` is not an IP address."""
    return str(ipaddress.ip_address(ip)), _address_refusal(ip)


@dataclass
class _Attempt:
    proxy: ProxyConfig | None
    deadline: float = 0.0  # loop.time() after which the watchdog cancels the attempt
    tunnel_ok: bool = False  # the proxy connected us to the target (a later timeout is not its fault)
    expired: bool = False  # the watchdog cancelled the task


class _Watchdog:
    """Cancels attempts past their deadline from one timer per client sweeping every `tick` s.

    Cheaper than a timer per attempt, and much cheaper than asyncio.timeout(), which looks up the
    running loop and task three times per use, each a getpid() system call.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float) -> None:
        self.loop = loop
        self.tick = tick
        self.running: dict[asyncio.Task[None], _Attempt] = {}
        self.handle = loop.call_later(tick, self._sweep)

    def _sweep(self) -> None:
        now = self.loop.time()
        for task, attempt in list(self.running.items()):
            if attempt.deadline <= now and not attempt.expired:
                attempt.expired = True
                task.cancel()
        self.handle = self.loop.call_later(self.tick, self._sweep)

    def close(self) -> None:
        self.handle.cancel()


def _hostport(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _connection_error(exc: BaseException, where: str) -> _FetchError:
    return _FetchError(f"{_describe(exc)} ({where})", retryable=True, timeout=isinstance(exc, TimeoutError))


def _authority(host: str, scheme: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == (443 if scheme == "https" else 80) else f"{shown}:{port}"


def _normalise_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise _FetchError(f"domain {host!r} cannot be encoded as IDNA") from None
    return host


@functools.lru_cache(maxsize=256)
def _content_kind(content_type: str) -> tuple[str, str]:
    """("html" | "text" | "other", declared charset or "") of a Content-Type value."""
    mime, *params = content_type.split(";")
    mime = mime.strip().lower()
    charset = ""
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'")
    if mime in _HTML_TYPES or mime.endswith("+xml"):
        return "html", charset
    if mime.startswith("text/") or mime.endswith("json"):
        return "text", charset
    return "other", charset


@functools.lru_cache(maxsize=256)
def _codec(label: str) -> str:
    """The codec to decode a page labelled `label` with; utf-8 for unknown labels and for codecs
    that are not text encodings (a page may well declare charset=rot13 or base64)."""
    try:
        codec = codecs.lookup(label).name
        b"ab".decode(codec, "replace")  # LookupError for codecs that are not text encodings
    except LookupError:
        return "utf-8"
    return "cp1252" if codec in _WHATWG_LATIN1 else codec  # browsers decode these labels as windows-1252


def _decode_text(body: bytes, charset: str) -> str:
    if not charset:
        if body.startswith(codecs.BOM_UTF8):
            charset = "utf-8-sig"
        else:
            match = _META_CHARSET.search(body, 0, 2048)
            charset = match.group(1).decode("ascii") if match else "utf-8"
    return body.decode(_codec(charset), errors="replace")


@functools.lru_cache(maxsize=16)
def _tls_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    """A client context, built once per process: loading the CA store takes ~20 ms, which a worker
    fetching small batches would otherwise pay for every batch (contexts are safe to share)."""
    if verify:
        ctx = ssl.create_default_context(cafile=ca_file)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


@dataclass
class _Page:
    status: int
    headers: dict[str, str]
    body: bytes
    final_url: str
    redirects: int
    domain: str = ""
    attempts: int = 0
    proxy: str = ""
    response_time_ms: int = 0


class _Client:
    def __init__(
        self,
        *,
        persona: HttpPersonaConfig,
        rules: Sequence[CompiledRule],
        adhoc_keywords: Sequence[str],
        ports: Sequence[int],
        tls_ports: Sequence[int],
        proxies: ProxyPool | None,
        retries: int,
        max_in_flight: int,
        allow_private: bool,
        ca_file: str | None,
    ) -> None:
        self.persona = persona
        self.rules = tuple(rules)
        self.adhoc = tuple(adhoc_keywords)
        self.ports = tuple(ports)
        self.tls_ports = frozenset(tls_ports)
        self.proxies = proxies if proxies is not None and len(proxies) else None
        self.retries = retries
        self.allow_private = allow_private
        self.loop = asyncio.get_running_loop()
        self.high_water = max(16 * 1024, min(persona.max_body_bytes, 256 * 1024))
        self.receive_area = memoryview(bytearray(64 * 1024))
        self.watchdog = _Watchdog(self.loop, min(0.1, persona.timeout_s / 8))
        self.verify_tls = persona.verify_tls
        self.ca_file = ca_file
        headers = [("User-Agent", persona.user_agent)] if persona.user_agent else []
        if not any(name.lower() == "accept" for name, _ in persona.headers):
            headers.append(("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"))
        headers += [(name, value) for name, value in persona.headers]
        headers.append(("Accept-Encoding", "gzip, deflate, br"))
        self.header_tail = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("latin-1") + b"\r\n"
        self.idle: dict[tuple, deque[_Conn]] = {}
        self.idle_order: OrderedDict[_Conn, tuple] = OrderedDict()
        self.max_idle = max(8, max_in_flight)
        self.all_conns: set[_Conn] = set()

    @property
    def tls(self) -> ssl.SSLContext:
        """The TLS client context for targets and HTTPS proxies (verification per the persona)."""
        return _tls_context(self.verify_tls, self.ca_file)

    # ---- connection pool: plain-HTTP connections are keyed by address, so a keep-alive connection
    # to one server serves every domain it hosts; TLS ones are keyed by SNI as well.

    def _checkout(self, key: tuple) -> _Conn | None:
        queue = self.idle.get(key)
        now = time.monotonic()
        while queue:
            conn = queue.pop()
            del self.idle_order[conn]
            if not conn.eof and not conn.buf and now - conn.idle_since < IDLE_KEEPALIVE_S:
                return conn
            self._discard(conn)
        return None

    def _checkin(self, key: tuple, conn: _Conn) -> None:
        if conn.eof:
            self._discard(conn)
            return
        if len(self.idle_order) >= self.max_idle:
            oldest, oldest_key = self.idle_order.popitem(last=False)
            self.idle[oldest_key].remove(oldest)
            self._discard(oldest)
        conn.idle_since = time.monotonic()
        self.idle.setdefault(key, deque()).append(conn)
        self.idle_order[conn] = key

    def _discard(self, conn: _Conn) -> None:
        conn.abort()

    async def aclose(self) -> None:
        self.watchdog.close()
        for conn in list(self.all_conns):
            conn.abort()
        pending = [conn.lost for conn in self.all_conns if conn.transport is not None and not conn.lost.done()]
        if pending:  # let every transport finish closing before the loop goes away (no ResourceWarning)
            await asyncio.wait(pending, timeout=5)
        self.idle.clear()
        self.idle_order.clear()

    def _new_conn(self) -> _Conn:
        conn = _Conn(self.loop, self.high_water, self.receive_area)
        self.all_conns.add(conn)
        conn.lost.add_done_callback(lambda _f: self.all_conns.discard(conn))
        return conn

    async def _connect(self, scheme: str, ip: str, port: int, sni: str, attempt: _Attempt) -> _Conn:
        tls = self.tls if scheme == "https" else None
        conn = self._new_conn()
        try:
            if attempt.proxy is None:
                try:
                    await self.loop.create_connection(lambda: conn, ip, port, ssl=tls,
                                                      server_hostname=sni if tls else None)
                except (OSError, ssl.SSLError) as exc:
                    raise _connection_error(exc, _hostport(ip, port)) from None
                return conn
            await self._open_tunnel(conn, attempt, ip, port)
            if tls is not None:
                try:
                    conn.transport = await self.loop.start_tls(conn.transport, conn, tls, server_hostname=sni)
                except (OSError, ssl.SSLError) as exc:
                    raise _connection_error(exc, f"{_hostport(ip, port)} via proxy {attempt.proxy.key}") from None
            return conn
        except BaseException:
            conn.abort()
            if conn.transport is None:
                self.all_conns.discard(conn)
            raise

    async def _open_tunnel(self, conn: _Conn, attempt: _Attempt, ip: str, port: int) -> None:
        proxy = attempt.proxy
        parsed = self.proxies.parsed(proxy.key)  # type: ignore[union-attr]
        try:
            await self.loop.create_connection(
                lambda: conn, parsed.host, parsed.port,
                ssl=self.tls if parsed.scheme == "https" else None,
                server_hostname=parsed.host if parsed.scheme == "https" else None,
            )
            if parsed.scheme == "socks5":
                await self._socks5(conn, parsed, ip, port)
            else:
                await self._http_connect(conn, parsed, ip, port)
        except _FetchError as exc:
            if exc.proxy_fault:
                exc.args = (f"proxy {proxy.key}: {exc}",)
            raise
        except (OSError, ssl.SSLError, _Closed) as exc:
            reason = "closed the connection" if isinstance(exc, _Closed) else _describe(exc)
            raise _FetchError(f"proxy {proxy.key}: {reason}", retryable=True, proxy_fault=True) from None
        attempt.tunnel_ok = True

    async def _http_connect(self, conn: _Conn, proxy: ParsedProxy, ip: str, port: int) -> None:
        authority = _hostport(ip, port)
        request = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
        if proxy.username or proxy.password:
            token = base64.b64encode(f"{proxy.username}:{proxy.password}".encode()).decode("ascii")
            request += f"Proxy-Authorization: Basic {token}\r\n"
        conn.write((request + "\r\n").encode("latin-1"))
        try:
            _, status, _ = _parse_head(await conn.read_head())
        except _FetchError as exc:
            raise _FetchError(f"bad CONNECT reply: {exc}", retryable=True, proxy_fault=True) from None
        if status in (502, 503, 504):  # the proxy works; the target did not answer it
            raise _FetchError(f"proxy could not reach {authority} (CONNECT answered {status})", retryable=True)
        if not 200 <= status <= 299:
            raise _FetchError(f"CONNECT {authority} answered {status}", retryable=True, proxy_fault=True)
        if conn.buf:
            raise _FetchError("sent data before the tunnel was used", retryable=True, proxy_fault=True)

    async def _socks5(self, conn: _Conn, proxy: ParsedProxy, ip: str, port: int) -> None:
        with_auth = bool(proxy.username or proxy.password)
        conn.write(b"\x05\x02\x00\x02" if with_auth else b"\x05\x01\x00")
        version, method = await conn.read_exact(2)
        if version != 5:
            raise _FetchError("not a SOCKS5 server", retryable=True, proxy_fault=True)
        if method == 2 and with_auth:
            user, password = proxy.username.encode()[:255], proxy.password.encode()[:255]
            conn.write(bytes([1, len(user)]) + user + bytes([len(password)]) + password)
            if (await conn.read_exact(2))[1] != 0:
                raise _FetchError("SOCKS5 username/password rejected", retryable=True, proxy_fault=True)
        elif method != 0:
            raise _FetchError("SOCKS5 server accepts none of our authentication methods", retryable=True,
                             proxy_fault=True)
        addr = ipaddress.ip_address(ip)
        atyp = b"\x01" if addr.version == 4 else b"\x04"
        conn.write(b"\x05\x01\x00" + atyp + addr.packed + port.to_bytes(2, "big"))
        version, reply, _, atyp_reply = await conn.read_exact(4)
        if version != 5:
            raise _FetchError("bad SOCKS5 reply", retryable=True, proxy_fault=True)
        if reply != 0:
            reason = _SOCKS_REPLIES.get(reply, f"error {reply}")
            raise _FetchError(f"SOCKS5 proxy could not reach {_hostport(ip, port)}: {reason}", retryable=True,
                             proxy_fault=reply in (1, 2, 7, 8))
        if atyp_reply == 3:
            (length,) = await conn.read_exact(1)
            await conn.read_exact(length + 2)
        elif atyp_reply in (1, 4):
            await conn.read_exact((4 if atyp_reply == 1 else 16) + 2)
        else:
            raise _FetchError(f"bad SOCKS5 reply (address type {atyp_reply})", retryable=True, proxy_fault=True)

    async def _request(self, scheme: str, ip: str, port: int, host: str, path: str, attempt: _Attempt) -> _Response:
        proxy_key = attempt.proxy.key if attempt.proxy is not None else None
        key = (scheme, ip, port, host if scheme == "https" else None, proxy_key)
        request = b"GET %s HTTP/1.1\r\nHost: %s\r\n%s" % (
            path.encode("latin-1"), _authority(host, scheme, port).encode("ascii"), self.header_tail)
        cap = self.persona.max_body_bytes
        conn = self._checkout(key)
        response = None
        if conn is not None:
            attempt.tunnel_ok = True
            try:  # the server may have dropped an idle keep-alive connection: then retry once on a new one
                conn.write(request)
                response = await _read_response(conn, cap)
            except (_Closed, ConnectionError):
                conn.abort()
            except BaseException:
                conn.abort()
                raise
        if response is None:
            conn = await self._connect(scheme, ip, port, host, attempt)
            try:
                conn.write(request)
                response = await _read_response(conn, cap)
            except _Closed:
                conn.abort()
                raise _FetchError(f"server closed the connection without a response ({_hostport(ip, port)})",
                                 retryable=True) from None
            except BaseException:
                conn.abort()
                raise
        if response.reusable:
            self._checkin(key, conn)
        else:
            conn.abort()
        return response

    async def _resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = await self.loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise _FetchError(f"cannot resolve redirect host {host!r}: {_describe(exc)}") from None
        # IPv4 first: where a name has both, IPv6 is the one more often unreachable
        ips = list(dict.fromkeys(info[4][0] for info in sorted(infos, key=lambda info: info[0] != socket.AF_INET)))
        return self._allowed_ips(ips, what=f"redirect host {host}")

    def _allowed_ips(self, ips: Iterable[str], *, what: str) -> list[str]:
        allowed, refused = [], []
        for ip in ips:
            try:
                canonical, reason = _classify_address(ip)
            except ValueError:
                refused.append(f"{ip!r} (not an IP address)")
                continue
            if reason is None or self.allow_private:
                allowed.append(canonical)
            else:
                refused.append(f"{ip} ({reason})")
        if allowed:
            return allowed
        if refused:
            raise _FetchError(f"refused non-public address {', '.join(refused)} for {what} (allow_private is off)")
        raise _FetchError(f"no address to connect to for {what}")

    async def _fetch_page(self, domain: str, ip: str, port: int, attempt: _Attempt) -> _Page:
        persona = self.persona
        pinned_ip = ip
        scheme, host, path = ("https" if port in self.tls_ports else "http"), domain, "/"
        visited: set[str] = set()
        redirects = 0
        while True:
            url = f"{scheme}://{_authority(host, scheme, port)}{path}"
            visited.add(url)
            response = await self._request(scheme, ip, port, host, path, attempt)
            location = response.headers.get("location", "").strip()
            if not (persona.follow_redirects and response.status in REDIRECT_CODES and location):
                return _Page(response.status, response.headers, response.body, url, redirects)
            if redirects >= persona.max_redirects:
                raise _FetchError(
                    f"too many redirects (more than {persona.max_redirects}), the last to {location[:200]}")
            target = urljoin(url, location)
            parts = urlsplit(target)
            try:
                next_port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                raise _FetchError(f"redirect to an invalid URL {target[:200]!r}") from None
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise _FetchError(f"redirect to an unsupported URL {target[:200]!r}")
            next_host = _normalise_host(parts.hostname)
            next_path = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_PATH_SAFE)
            next_url = f"{parts.scheme}://{_authority(next_host, parts.scheme, next_port)}{next_path}"
            if next_url in visited:
                raise _FetchError(f"redirect loop: {url} redirects to {next_url}, which was already visited")
            if next_host == domain:
                ip = pinned_ip  # the DNS phase's address: never a second lookup for the domain
            elif next_host != host:
                try:
                    literal = str(ipaddress.ip_address(next_host))
                except ValueError:
                    ip = (await self._resolve(next_host, next_port))[0]
                else:
                    ip = self._allowed_ips([literal], what=f"redirect to {next_host}")[0]
            scheme, host, port, path = parts.scheme, next_host, next_port, next_path
            redirects += 1

    async def fetch(self, target: FetchTarget, task: asyncio.Task[None]) -> HttpOutcome | _Page:
        """The failure outcome, or the fetched page (to `analyse`); `task` is the running task,
        which the watchdog cancels on timeout."""
        started = time.perf_counter()
        try:
            return await self._fetch(target, task, started)
        except Exception as exc:  # one odd page must not fail the batch: it becomes that domain's error
            error = _FetchError(f"unexpected {type(exc).__name__}: {exc}")
            return self._failure(target.domain, error, 0, "", started)

    async def _fetch(self, target: FetchTarget, task: asyncio.Task[None], started: float) -> HttpOutcome | _Page:
        try:
            domain = _normalise_host(target.domain)
            ips = self._allowed_ips(target.ips, what=domain)
        except _FetchError as exc:
            return self._failure(target.domain, exc, 0, "", started)
        candidates = [(ip, port) for ip in ips for port in self.ports]
        running = self.watchdog.running
        failed_proxies: list[str] = []
        attempts = 0
        proxy_key = ""
        error = _FetchError("no attempt made")
        while attempts <= self.retries:
            attempt = _Attempt(None)
            if self.proxies is not None:
                attempt.proxy = self.proxies.choose(avoid=failed_proxies)
                if attempt.proxy is None:
                    error = _FetchError(f"no healthy proxy left ({len(self.proxies)} configured, all unhealthy)")
                    break
                proxy_key = attempt.proxy.key
            ip, port = candidates[attempts % len(candidates)]
            attempts += 1
            attempt_started = time.perf_counter()
            attempt.deadline = self.loop.time() + self.persona.timeout_s
            running[task] = attempt
            try:
                page = await self._fetch_page(domain, ip, port, attempt)
            except asyncio.CancelledError:
                if not attempt.expired or task.uncancel() > 0:
                    raise
                error = _FetchError(f"timed out after {self.persona.timeout_s:g}s ({_hostport(ip, port)})",
                                   retryable=True, timeout=True, proxy_fault=not attempt.tunnel_ok)
            except _FetchError as exc:
                error = exc
            except (OSError, ssl.SSLError) as exc:
                error = _connection_error(exc, _hostport(ip, port))
            except _Closed:
                error = _FetchError(f"server closed the connection mid-response ({_hostport(ip, port)})",
                                   retryable=True)
            else:
                if attempt.proxy is not None:
                    self.proxies.record_success(attempt.proxy.key)  # type: ignore[union-attr]
                page.domain, page.attempts, page.proxy = target.domain, attempts, proxy_key
                page.response_time_ms = round((time.perf_counter() - attempt_started) * 1000)
                return page
            finally:
                del running[task]
            if attempt.proxy is not None:
                if error.proxy_fault:
                    self.proxies.record_failure(attempt.proxy.key)  # type: ignore[union-attr]
                    failed_proxies.append(attempt.proxy.key)
                else:
                    self.proxies.record_success(attempt.proxy.key)  # type: ignore[union-attr]
            if not error.retryable:
                break
        return self._failure(target.domain, error, attempts, proxy_key, started)

    def analyse(self, page: _Page) -> HttpOutcome:
        """The outcome of a fetched page: its text, title and keyword hits."""
        try:
            return self._success(page)
        except Exception as exc:  # one odd page must not fail the batch: it becomes that domain's error
            error = _FetchError(f"unexpected {type(exc).__name__} reading the page: {exc}")
            outcome = self._failure(page.domain, error, page.attempts, page.proxy, 0.0)
            return replace(outcome, status_code=page.status, final_url=page.final_url,
                                       response_time_ms=page.response_time_ms)

    def _success(self, page: _Page) -> HttpOutcome:
        persona = self.persona
        kind, charset = _content_kind(page.headers.get("content-type", ""))
        body = page.body
        title = text = ""
        if kind == "html":
            title, text = page_text(_decode_text(body, charset))
        elif kind == "text":
            text = " ".join(_decode_text(body, charset).split())
        allowed = persona.status_allowed(page.status)
        hits: tuple[KeywordHit, ...] = ()
        if allowed:
            hits = tuple(match_keywords(text, rules=self.rules, adhoc=self.adhoc))
            business = "lead_valid" if hits else "http_valid_no_keywords"
        else:
            business = "invalid_http_code"
        return HttpOutcome(
            domain=page.domain,
            status="success" if allowed else "failed",
            business_status=business,
            status_code=page.status,
            final_url=page.final_url,
            redirect_count=page.redirects,
            title=title,
            server=page.headers.get("server", "")[:SERVER_MAX_CHARS],
            content_length=len(body),
            body_sha256=hashlib.sha256(body).hexdigest(),
            snippet=text[:SNIPPET_CHARS],
            keyword_hits=hits,
            persona=persona.name,
            proxy=page.proxy,
            attempts=page.attempts,
            response_time_ms=page.response_time_ms,
            error="" if allowed else f"HTTP status {page.status} is not allowed",
        )

    def _failure(self, domain: str, error: _FetchError, attempts: int, proxy: str, started: float) -> HttpOutcome:
        return HttpOutcome(
            domain=domain, status="timeout" if error.timeout else "error",
            business_status="invalid_http_response_error", status_code=None, final_url="", redirect_count=0,
            title="", server="", content_length=0, body_sha256="", snippet="", keyword_hits=(),
            persona=self.persona.name, proxy=proxy, attempts=attempts,
            response_time_ms=round((time.perf_counter() - started) * 1000), error=str(error)[:1000],
        )


# --------------------------------------------------------------------------- public entry points


async def fetch_many(
    targets: Sequence[FetchTarget],
    *,
    persona: HttpPersonaConfig,
    rules: Sequence[CompiledRule],
    adhoc_keywords: Sequence[str] = (),
    ports: Sequence[int] = (443, 80),
    tls_ports: Sequence[int] = (443, 8443),
    proxies: ProxyPool | None = None,
    retries: int = 1,
    max_in_flight: int = 50,
    allow_private: bool = False,
    ca_file: str | None = None,
) -> list[HttpOutcome]:
    """Fetch every target (at most `max_in_flight` at once); outcomes in the order of `targets`."""
    if not ports or any(not 1 <= port <= 65535 for port in ports):
        raise ValueError(f"ports must be a non-empty list of 1-65535, got {list(ports)}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
    targets = list(targets)
    results: list[HttpOutcome | None] = [None] * len(targets)
    client = _Client(persona=persona, rules=rules, adhoc_keywords=adhoc_keywords, ports=ports,
                     tls_ports=tls_ports, proxies=proxies, retries=retries, max_in_flight=max_in_flight,
                     allow_private=allow_private, ca_file=ca_file)
    indexes = iter(range(len(targets)))
    # Pages are analysed in small groups rather than one by one between network events: run
    # back to back, the text and keyword work stays in the CPU caches, which makes the whole
    # batch ~40% faster. A group is bounded in pages and in bytes.
    waiting: list[tuple[int, _Page]] = []
    waiting_bytes = 0

    def analyse_waiting() -> None:
        nonlocal waiting_bytes
        for index, page in waiting:
            results[index] = client.analyse(page)
        waiting.clear()
        waiting_bytes = 0

    async def worker() -> None:
        nonlocal waiting_bytes
        task = asyncio.current_task()
        assert task is not None
        for index in indexes:
            done = await client.fetch(targets[index], task)
            if isinstance(done, HttpOutcome):
                results[index] = done
                continue
            waiting.append((index, done))
            waiting_bytes += len(done.body)
            if len(waiting) >= ANALYSE_GROUP_PAGES or waiting_bytes >= ANALYSE_GROUP_BYTES:
                analyse_waiting()

    loop = asyncio.get_running_loop()
    workers = [loop.create_task(worker()) for _ in range(min(max_in_flight, len(targets)))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    finally:
        await client.aclose()
    analyse_waiting()
    return results  # type: ignore[return-value]


def fetch_batch(
    targets: Sequence[FetchTarget],
    *,
    persona: HttpPersonaConfig,
    rules: Sequence[CompiledRule],
    adhoc_keywords: Sequence[str] = (),
    ports: Sequence[int] = (443, 80),
    tls_ports: Sequence[int] = (443, 8443),
    proxies: ProxyPool | None = None,
    retries: int = 1,
    max_in_flight: int = 50,
    allow_private: bool = False,
    ca_file: str | None = None,
) -> list[HttpOutcome]:
    """Synchronous fetch_many for workers; call it outside any database transaction (it is slow I/O)."""
    return asyncio.run(
        fetch_many(targets, persona=persona, rules=rules, adhoc_keywords=adhoc_keywords, ports=ports,
                   tls_ports=tls_ports, proxies=proxies, retries=retries, max_in_flight=max_in_flight,
                   allow_private=allow_private, ca_file=ca_file)
    )
