"""Pytest fixtures: a real DNS server on 127.0.0.1 (UDP and TCP), scripted per name.

Usage::

    def test_something(dns_server):                 # one server, or make_dns_server() for several
        dns_server.set("shop.test", a=["192.0.2.1"], aaaa=["2001:db8::1"])
        dns_server.set("gone.test", rcode="NXDOMAIN")
        dns_server.set("empty.test")                # NOERROR without records (NODATA)
        dns_server.set("slow.test", a=["192.0.2.2"], delay_s=0.3)
        dns_server.set("dead.test", drop=True)      # never answers
        dns_server.set("bad.test", a=["192.0.2.3"], mangle=lambda answer, transport: answer[:20])
        dns_server.set_default(rcode="REFUSED")     # every name not set (default: NXDOMAIN)
        ...resolve against dns_server.address ("127.0.0.1:PORT")...
        assert dns_server.count("shop.test", "A") == 1
        assert dns_server.max_concurrency() <= 5

The server runs its own asyncio loop in a background thread and answers
concurrently (a delayed answer does not hold up the others). Every query is
logged with its monotonic receive and answer times, so tests can measure
counts, rates and how many queries were outstanding at once.
"""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

# Big enough that a burst of hundreds of queries is never dropped by the kernel.
_SOCKET_BUFFER = 4 << 20


@dataclass(frozen=True)
class DnsBehaviour:
    """How the server answers one name."""

    a: tuple[str, ...] = ()
    aaaa: tuple[str, ...] = ()
    rcode: str = "NOERROR"  # NOERROR, NXDOMAIN, SERVFAIL, REFUSED, or any dnspython rcode name
    rcode_by_type: Mapping[str, str] = field(default_factory=dict)  # e.g. {"AAAA": "SERVFAIL"}
    delay_s: float = 0.0  # answer this much later (other queries are answered meanwhile)
    drop: bool = False  # never answer
    truncate: bool = False  # over UDP: TC flag and no records, so the client must retry over TCP
    cname: str = ""  # answer with a CNAME to this name, followed by the target's records
    wrong_question: bool = False  # echo another name of the same length (a spoofed answer)
    ttl: int = 60
    # A hostile server: mangle(answer, transport) returns the bytes sent instead of the answer.
    mangle: Callable[[bytes, str], bytes] | None = None


@dataclass(frozen=True)
class DnsQuery:
    """One query the server received."""

    received: float  # time.monotonic()
    qname: str  # lower-case, no trailing dot
    qtype: str  # "A", "AAAA", ...
    transport: str  # "udp" or "tcp"
    wire: bytes = field(default=b"", repr=False)  # the query exactly as received
    answered: float | None = field(default=None, compare=False)  # None while pending or when dropped


class DnsTestServer:
    """A scripted DNS server on 127.0.0.1 (random free port, UDP and TCP) in a background thread."""

    def __init__(self, *, records: Mapping[str, DnsBehaviour] | None = None, default: DnsBehaviour | None = None):
        self._behaviours = {_key(name): behaviour for name, behaviour in (records or {}).items()}
        self._default = default or DnsBehaviour(rcode="NXDOMAIN")
        self._lock = threading.Lock()
        self._log: list[list] = []  # DnsQuery fields, mutable until the answer time is known
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.host = "127.0.0.1"
        self.port = 0

    # -- scripting ---------------------------------------------------------------------------
    def set(self, name: str, **behaviour) -> None:
        """Script one name, e.g. set("x.test", a=["192.0.2.1"]) or set("y.test", rcode="SERVFAIL")."""
        self._behaviours[_key(name)] = _behaviour(behaviour)

    def set_default(self, **behaviour) -> None:
        """Script every name not set explicitly (initially NXDOMAIN)."""
        self._default = _behaviour(behaviour)

    @property
    def address(self) -> str:
        """The server as "127.0.0.1:PORT", the form resolvers are configured with."""
        return f"{self.host}:{self.port}"

    # -- observing ---------------------------------------------------------------------------
    @property
    def queries(self) -> list[DnsQuery]:
        """Every query received so far, in arrival order."""
        with self._lock:
            return [DnsQuery(*row) for row in self._log]

    def count(self, qname: str | None = None, qtype: str | None = None) -> int:
        """How many queries arrived, optionally for one name and/or type."""
        key = _key(qname) if qname is not None else None
        queries = self.queries
        return sum(1 for q in queries if (key is None or q.qname == key) and (qtype is None or q.qtype == qtype))

    def max_concurrency(self) -> int:
        """The most queries received but not yet answered at any instant (dropped queries excluded)."""
        events = []
        for q in self.queries:
            if q.answered is not None:
                events += [(q.received, 1), (q.answered, -1)]
        # Answers sort before arrivals at the same instant: a slot freed and reused is not overlap.
        events.sort()
        current = peak = 0
        for _, step in events:
            current += step
            peak = max(peak, current)
        return peak

    def clear(self) -> None:
        """Forget the queries logged so far."""
        with self._lock:
            self._log.clear()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> DnsTestServer:
        self._thread = threading.Thread(target=self._run, name=f"dns-test-server-{id(self):x}", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"DNS test server failed to start: {self._error}") from self._error
        if not self._ready.is_set():
            raise RuntimeError("DNS test server did not start within 10 s")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(10)

    def __enter__(self) -> DnsTestServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            self._ready.set()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        udp, tcp = await self._bind(loop)
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            udp.close()
            tcp.close()
            await tcp.wait_closed()
            # Delayed answers and TCP connections still open: end them before the loop closes.
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _bind(self, loop: asyncio.AbstractEventLoop) -> tuple[asyncio.DatagramTransport, asyncio.Server]:
        """Bind UDP on a free port, then TCP on the same port (retrying if TCP's is taken)."""
        for _ in range(20):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
            sock.bind((self.host, 0))
            udp, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), sock=sock)
            port = sock.getsockname()[1]
            try:
                tcp = await asyncio.start_server(self._serve_tcp, self.host, port)
            except OSError:
                udp.close()
                continue
            self.port = port
            return udp, tcp
        raise OSError("no free port for both UDP and TCP")

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(2), "big")
                wire = await reader.readexactly(size)
                answer = await self._answer(wire, "tcp")
                if answer is not None:
                    writer.write(len(answer).to_bytes(2, "big") + answer)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, wire: bytes, transport: str) -> bytes | None:
        """Log one query and build its answer after the scripted delay (None: no answer)."""
        try:
            query = dns.message.from_wire(wire)
            question = query.question[0]
        except (dns.exception.DNSException, IndexError):
            return None
        qname = _key(question.name.to_text())
        qtype = dns.rdatatype.to_text(question.rdtype)
        row = [time.monotonic(), qname, qtype, transport, wire, None]
        with self._lock:
            self._log.append(row)
        behaviour = self._behaviours.get(qname, self._default)
        if behaviour.drop:
            return None
        if behaviour.delay_s:
            await asyncio.sleep(behaviour.delay_s)
        response = self._response(query, behaviour, transport)
        if behaviour.mangle is not None:
            response = behaviour.mangle(response, transport)
        row[5] = time.monotonic()
        return response

    def _response(self, query: dns.message.Message, behaviour: DnsBehaviour, transport: str) -> bytes:
        response = dns.message.make_response(query)
        question = query.question[0]
        rcode = behaviour.rcode_by_type.get(dns.rdatatype.to_text(question.rdtype), behaviour.rcode)
        response.set_rcode(dns.rcode.from_text(rcode))
        if behaviour.wrong_question:
            text = question.name.to_text()
            other = dns.name.from_text(("z" if text[0] != "z" else "y") + text[1:])
            response.question = [dns.rrset.RRset(other, question.rdclass, question.rdtype)]
        if transport == "udp" and behaviour.truncate:
            response.flags |= dns.flags.TC
            return response.to_wire()
        owner, records = question.name, behaviour
        if behaviour.cname:
            target = dns.name.from_text(behaviour.cname)
            response.answer.append(dns.rrset.from_text(owner, behaviour.ttl, "IN", "CNAME", target.to_text()))
            owner, records = target, self._behaviours.get(_key(behaviour.cname), self._default)
        addresses = {dns.rdatatype.A: records.a, dns.rdatatype.AAAA: records.aaaa}.get(question.rdtype, ())
        for address in addresses:
            # One RRset per address, duplicates included, so clients see exactly what was scripted.
            rdtype = dns.rdatatype.to_text(question.rdtype)
            response.answer.append(dns.rrset.from_text(owner, behaviour.ttl, "IN", rdtype, address))
        return response.to_wire()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsTestServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        # A task per query: a delayed answer must not hold up the queries behind it.
        asyncio.get_running_loop().create_task(self._reply(data, addr))

    async def _reply(self, data: bytes, addr: tuple) -> None:
        answer = await self._server._answer(data, "udp")
        if answer is not None and self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(answer, addr)


def _key(name: str) -> str:
    return name.lower().rstrip(".")


def _behaviour(fields: dict) -> DnsBehaviour:
    for name in ("a", "aaaa"):
        if name in fields:
            fields[name] = tuple(fields[name])
    return DnsBehaviour(**fields)


@pytest.fixture
def make_dns_server() -> Iterator[Callable[..., DnsTestServer]]:
    """Factory: make_dns_server(records=..., default=...) starts a server; all are stopped at teardown."""
    servers: list[DnsTestServer] = []

    def make(
        *, records: Mapping[str, DnsBehaviour] | None = None, default: DnsBehaviour | None = None
    ) -> DnsTestServer:
        server = DnsTestServer(records=records, default=default)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def dns_server(make_dns_server: Callable[..., DnsTestServer]) -> DnsTestServer:
    """One DNS test server; unknown names get NXDOMAIN."""
    return make_dns_server()

