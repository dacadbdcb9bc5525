"""The demo's DNS server (UDP and TCP) and web server, on 127.0.0.1 only, in one background thread.

They answer for the names in `sites` and nothing else: a name outside the
demo zone is NXDOMAIN, an unknown Host is a 421. Both stop with `stop()`.
"""
from __future__ import annotations

import asyncio
import os
import struct
import threading
from dataclasses import dataclass

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from campaigns.demo import sites

LOOPBACK = "127.0.0.1"
MAX_REQUEST_HEAD = 16 * 1024
REQUEST_TIMEOUT_S = 10


class DemoServerError(Exception):
    """A demo server could not start (the message says which and why)."""


def dns_answer(wire: bytes) -> bytes | None:
    """The wire answer to one query, or None for bytes that are not a DNS query."""
    try:
        query = dns.message.from_wire(wire)
    except Exception:  # noqa: BLE001 - garbage on the port: say nothing, as a real server would
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if not query.question:
        response.set_rcode(dns.rcode.FORMERR)
        return response.to_wire()
    question = query.question[0]
    name = question.name.to_text(omit_final_dot=True).lower()
    if not sites.resolves(name):
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif question.rdtype == dns.rdatatype.A:
        response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", sites.ADDRESS))
    # Any other type of an existing name: NOERROR without records (NODATA).
    return response.to_wire()


class _DnsUdp(asyncio.DatagramProtocol):
    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        answer = dns_answer(data)
        if answer is not None:
            self.transport.sendto(answer, addr)


async def _dns_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), REQUEST_TIMEOUT_S))
            answer = dns_answer(await reader.readexactly(length))
            if answer is None:
                break
            writer.write(struct.pack("!H", len(answer)) + answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


async def _http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """HTTP/1.1, one request per connection: GET or HEAD of any path on a demo host."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
        lines = head[:MAX_REQUEST_HEAD].decode("latin-1").split("\r\n")
        method = lines[0].split(" ", 1)[0]
        host = next((line.split(":", 1)[1].strip() for line in lines[1:] if line.lower().startswith("host:")), "")
        page = sites.page(host.rsplit(":", 1)[0] if not host.startswith("[") else "")
        body = page.body.encode() if method != "HEAD" else b""
        reason = {200: "OK", 404: "Not Found", 421: "Misdirected Request", 500: "Internal Server Error",
                  503: "Service Unavailable"}.get(page.status, "")
        writer.write(
            f"HTTP/1.1 {page.status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(page.body.encode())}\r\nConnection: close\r\nServer: domainflow-demo\r\n\r\n".encode()
            + body
        )
        await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


def _reason(exc: OSError) -> str:
    """"Address already in use", not asyncio's long wrapper of it."""
    return os.strerror(exc.errno) if exc.errno else str(exc)


@dataclass
class DemoServers:
    """Start with `start()`; `dns_address` and `web_port` then say where they listen."""

    dns_port: int = 0  # 0: any free port
    web_port: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._closers: list = []

    @property
    def dns_address(self) -> str:
        return f"{LOOPBACK}:{self.dns_port}"

    def start(self) -> DemoServers:
        """Bind every port (DemoServerError when one is taken), then serve in a daemon thread."""
        try:
            self._loop.run_until_complete(self._bind())
        except OSError as exc:
            self.stop()
            raise DemoServerError(str(exc)) from None
        self._thread = threading.Thread(target=self._loop.run_forever, name="demo-servers", daemon=True)
        self._thread.start()
        return self

    async def _bind(self) -> None:
        # With port 0, UDP picks the port and TCP must get the same one: try a few.
        for attempt in range(20):
            udp = await self._listen("DNS", self._loop.create_datagram_endpoint(_DnsUdp, local_addr=(LOOPBACK, self.dns_port)), self.dns_port)
            port = udp[0].get_extra_info("sockname")[1]
            try:
                tcp = await asyncio.start_server(_dns_tcp, LOOPBACK, port)
            except OSError as exc:
                udp[0].close()
                if self.dns_port == 0 and attempt < 19:
                    continue
                raise OSError(f"demo DNS server: cannot listen on {LOOPBACK}:{port} ({_reason(exc)})") from None
            self.dns_port = port
            self._closers += [udp[0].close, tcp.close]
            break
        web = await self._listen("web", asyncio.start_server(_http, LOOPBACK, self.web_port), self.web_port)
        self._closers.append(web.close)
        self.web_port = web.sockets[0].getsockname()[1]

    @staticmethod
    async def _listen(what: str, opening, port: int):
        try:
            return await opening
        except OSError as exc:
            raise OSError(f"demo {what} server: cannot listen on {LOOPBACK}:{port} ({_reason(exc)})") from None

    def stop(self) -> None:
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None
        for close in self._closers:
            close()
        self._closers.clear()
        if not self._loop.is_closed():
            self._loop.run_until_complete(asyncio.sleep(0.01))  # let the transports finish closing
            self._loop.close()
