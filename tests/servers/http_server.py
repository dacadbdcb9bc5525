"""Pytest fixtures: real HTTP/HTTPS servers and proxies on 127.0.0.1 for the HTTP phase.

Everything listens on 127.0.0.1 on free ports, runs on one asyncio loop in a background thread
(`test_servers_loop`) and stops at the end of the session. The function-scoped fixtures hand out
the session servers with their request logs cleared and their failure modes reset.

- `test_tls`: a throwaway CA and a server certificate for `df.test`, `*.df.test`, `localhost` and
  127.0.0.1 (made with the openssl CLI); pass `test_tls.ca_file` as the client's `ca_file`.
- `web_site`: the `Site` both web servers serve, keyed by Host (port ignored) and path; it holds
  `DEFAULT_PAGES` and tests may `web_site.add(host, path, Page(...))` with their own host names
  (a `Page` sets status, headers, content type, gzip/deflate/br encoding, chunking, a delay, a
  body repeated to any size, pre-encoded `wire` bytes, or a `raw` reply that is not HTTP at all).
  Unknown hosts answer 404; every name under *.df.test is covered by the certificate.
- `http_server` / `https_server`: `WebServer`s; `.port`, `.requests` (every `RecordedRequest`:
  Host, path, headers, SNI, the address the client connected to, the connection number) and
  `.requests_for(host)`. Headers of a page may use `{http_port}` / `{https_port}` placeholders.
- `connect_proxy` / `https_proxy` / `socks5_proxy`: proxies from `tests.servers.http_proxies`
  (`.url()`, `.targets`, `.requests`, `.mode = "close" | "reject"`, `.auth = (user, password)`).
- `make_proxy(kind)`: more proxies ("connect", "https" or "socks5"), stopped after the test.
- `unused_port()`: a port nothing listens on (a proxy or server that refuses connections).
- `WebServer(test_servers_loop, site, tls=..., port=...)`: more servers, e.g. on a fixed port.

The domains of DEFAULT_PAGES, defined in `tests.servers.http_pages` (the client connects to 127.0.0.1
and sends them as Host/SNI):

    shop.df.test       keywords ("Widget", "FREE shipping", "555-0100") in visible text, more in
                       <title>, <style>, <script> and a comment (which must not count)
    plain.df.test      a page without keywords         latin1.df.test   ISO-8859-1 body
    gzip.df.test / deflate.df.test / br.df.test          compressed bodies with keywords
    chunked.df.test    chunked transfer encoding        big.df.test      10 MiB body
    gzipbomb.df.test / brbomb.df.test                    small bodies that inflate to 16 MiB
    notfound.df.test   404                              error.df.test    500
    slow.df.test       answers after 3 s                xss.df.test      <title><script>alert(1)</script></title>
    redirect.df.test   / → /step2 → /final (301, 302)  chain.df.test    / → /1 → … → /6 (six hops)
    loop.df.test       / → /a → / (a loop)             tohttps.df.test  http / → https /secure, same domain
    tolocal.df.test    → http://localhost:{http_port}/local (another host, resolved)
    toip.df.test       → http://127.0.0.1:{http_port}/ip   garbage.df.test  not HTTP at all
    nocert.other.test  served, but not covered by the certificate
"""
from __future__ import annotations

import asyncio
import itertools
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers.http_pages import (
    _BIG_BLOCK, BOMB_HOSTS, COMPRESSED_HTML, DEFAULT_PAGES, NOT_FOUND, SHOP_HTML, Page, Site, bomb, html, redirect,
)
from tests.servers.http_proxies import BackgroundLoop, ConnectProxy, Socks5Proxy, unused_port

__all__ = [
    "DEFAULT_PAGES", "Page", "RecordedRequest", "Site", "TlsFiles", "WebServer",
    "BackgroundLoop", "ConnectProxy", "Socks5Proxy", "unused_port",
    # pages live in tests.servers.http_pages; re-exported so existing imports keep working
    "_BIG_BLOCK", "BOMB_HOSTS", "COMPRESSED_HTML", "NOT_FOUND", "SHOP_HTML", "bomb", "html", "redirect",
]

CERT_HOSTNAMES = ("df.test", "*.df.test", "localhost")
SERVER_HEADER = "df-test/1.0"


# --------------------------------------------------------------------------- TLS material


@dataclass(frozen=True)
class TlsFiles:
    ca_file: str
    cert_file: str
    key_file: str
    hostnames: tuple[str, ...]

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def make_tls_files(directory: Path, hostnames: tuple[str, ...] = CERT_HOSTNAMES) -> TlsFiles:
    """A CA and a server certificate (SANs: `hostnames` and IP 127.0.0.1), made with the openssl CLI."""
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "ext.cnf"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str | Path) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)

    openssl("req", "-x509", *ec, "-keyout", ca_key, "-out", ca_cert, "-days", "7", "-subj", "/CN=DomainFlow Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", *ec, "-keyout", key, "-out", csr, "-subj", f"/CN={hostnames[0]}")
    sans = ",".join([*(f"DNS:{name}" for name in hostnames), "IP:127.0.0.1"])
    ext.write_text(
        f"subjectAltName={sans}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-set_serial", "0x5eed", "-days", "7",
            "-out", cert, "-extfile", ext)
    return TlsFiles(str(ca_cert), str(cert), str(key), hostnames)



# --------------------------------------------------------------------------- web server


@dataclass(frozen=True)
class RecordedRequest:
    scheme: str
    method: str
    host: str  # the Host header as sent (with its port)
    path: str
    headers: tuple[tuple[str, str], ...]
    sni: str | None  # the TLS server name the client sent (https only)
    local_address: str  # the address the client connected to
    connection: int  # connection number on this server (equal numbers: one keep-alive connection)

    @property
    def hostname(self) -> str:
        return self.host.rpartition(":")[0] if self.host.rpartition(":")[2].isdigit() else self.host

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


class WebServer:
    """An HTTP/1.1 server with keep-alive (TLS when given a context) that serves a Site by Host."""

    def __init__(self, background: BackgroundLoop, site: Site, *, tls: ssl.SSLContext | None = None,
                 ports: dict[str, int] | None = None, port: int = 0) -> None:
        self.background = background
        self.site = site
        self.scheme = "https" if tls else "http"
        self.requests: list[RecordedRequest] = []
        # {"http_port": …, "https_port": …} for the placeholders in page headers; shared by the two
        # default servers so that each can redirect to the other
        self.ports = ports if ports is not None else {}
        self._connections = itertools.count(1)
        if tls is not None:
            tls.sni_callback = _remember_sni
        self._server = background.call(
            asyncio.start_server(background.track(self._serve), "127.0.0.1", port, ssl=tls, limit=256 * 1024)
        )
        self.port: int = self._server.sockets[0].getsockname()[1]
        self.ports.setdefault(f"{self.scheme}_port", self.port)

    def requests_for(self, host: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.hostname == host]

    def url(self, host: str, path: str = "/") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def reset(self) -> None:
        self.requests.clear()

    def stop(self) -> None:
        self.background.stop_server(self._server)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = next(self._connections)
        ssl_object = writer.get_extra_info("ssl_object")
        sni = getattr(ssl_object, "df_sni", None) if ssl_object is not None else None
        local_address = writer.get_extra_info("sockname")[0]
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, _version = (lines[0].split(" ") + ["", ""])[:3]
            headers = tuple(
                (name.strip(), value.strip())
                for name, _, value in (line.partition(":") for line in lines[1:] if line)
            )
            request = RecordedRequest(self.scheme, method, next((v for k, v in headers if k.lower() == "host"), ""),
                                      path, headers, sni, local_address, connection)
            self.requests.append(request)
            page, body = self.site.lookup(request.hostname, path.split("?")[0])
            if page.raw is not None:
                writer.write(page.raw)
                await writer.drain()
                return
            if page.delay_s:
                await asyncio.sleep(page.delay_s)
            await self._respond(writer, page, body)
            if (request.header("connection") or "").lower() == "close":
                return

    async def _respond(self, writer: asyncio.StreamWriter, page: Page, body: bytes) -> None:
        headers = [("Server", SERVER_HEADER), ("Content-Type", page.content_type)]
        headers += [(name, value.format(**self.ports)) for name, value in page.headers]
        if page.encoding:
            headers.append(("Content-Encoding", page.encoding))
        if page.chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            headers.append(("Content-Length", str(len(body) * page.repeat)))
        reason = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found"}.get(page.status, "Status")
        head = f"HTTP/1.1 {page.status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        writer.write(head.encode("latin-1"))
        for _ in range(page.repeat):
            if page.chunked:
                for start in range(0, len(body), 4096):
                    piece = body[start : start + 4096]
                    writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                writer.write(body)
            await writer.drain()
        if page.chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()


def _remember_sni(ssl_object: ssl.SSLObject, server_name: str | None, _context: ssl.SSLContext) -> None:
    ssl_object.df_sni = server_name  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def test_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A throwaway CA (`.ca_file`) and a certificate for df.test, *.df.test, localhost, 127.0.0.1."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def test_servers_loop() -> Iterator[BackgroundLoop]:
    """The background asyncio loop all test web servers and proxies run on."""
    background = BackgroundLoop()
    yield background
    background.stop()


@pytest.fixture(scope="session")
def web_site() -> Site:
    """The Site served by `http_server` and `https_server` (DEFAULT_PAGES; tests may add pages)."""
    site = Site(DEFAULT_PAGES)
    for host, encoding in BOMB_HOSTS.items():
        site.add(host, "/", bomb(encoding))
    return site


@pytest.fixture(scope="session")
def _web_servers(
    test_servers_loop: BackgroundLoop, web_site: Site, test_tls: TlsFiles
) -> Iterator[tuple[WebServer, WebServer]]:
    ports: dict[str, int] = {}
    plain = WebServer(test_servers_loop, web_site, ports=ports)
    secure = WebServer(test_servers_loop, web_site, tls=test_tls.server_context(), ports=ports)
    yield plain, secure
    plain.stop()
    secure.stop()


@pytest.fixture
def http_server(_web_servers: tuple[WebServer, WebServer]) -> WebServer:
    """The plain-HTTP server on 127.0.0.1 (request log cleared)."""
    _web_servers[0].reset()
    return _web_servers[0]


@pytest.fixture
def https_server(_web_servers: tuple[WebServer, WebServer]) -> WebServer:
    """The HTTPS server on 127.0.0.1 with the `test_tls` certificate (request log cleared)."""
    _web_servers[1].reset()
    return _web_servers[1]


@pytest.fixture(scope="session")
def _proxies(test_servers_loop: BackgroundLoop, test_tls: TlsFiles) -> Iterator[dict[str, ConnectProxy | Socks5Proxy]]:
    proxies = {
        "connect": ConnectProxy(test_servers_loop),
        "https": ConnectProxy(test_servers_loop, tls=test_tls.server_context()),
        "socks5": Socks5Proxy(test_servers_loop),
    }
    yield proxies
    for proxy in proxies.values():
        proxy.stop()


@pytest.fixture
def connect_proxy(_proxies: dict[str, ConnectProxy | Socks5Proxy]) -> ConnectProxy:
    """An HTTP CONNECT proxy (`.url()` is http://127.0.0.1:PORT), reset to working, no auth."""
    _proxies["connect"].reset()
    return _proxies["connect"]  # type: ignore[return-value]


@pytest.fixture
def https_proxy(_proxies: dict[str, ConnectProxy | Socks5Proxy]) -> ConnectProxy:
    """An HTTP CONNECT proxy spoken to over TLS (certificate from `test_tls`)."""
    _proxies["https"].reset()
    return _proxies["https"]  # type: ignore[return-value]


@pytest.fixture
def socks5_proxy(_proxies: dict[str, ConnectProxy | Socks5Proxy]) -> Socks5Proxy:
    """A SOCKS5 proxy, reset to working, no auth."""
    _proxies["socks5"].reset()
    return _proxies["socks5"]  # type: ignore[return-value]


@pytest.fixture
def make_proxy(
    test_servers_loop: BackgroundLoop, test_tls: TlsFiles
) -> Iterator[Callable[[str], ConnectProxy | Socks5Proxy]]:
    """Start extra proxies for one test: make_proxy("connect" | "https" | "socks5")."""
    started: list[ConnectProxy | Socks5Proxy] = []

    def make(kind: str) -> ConnectProxy | Socks5Proxy:
        if kind == "socks5":
            proxy: ConnectProxy | Socks5Proxy = Socks5Proxy(test_servers_loop)
        else:
            proxy = ConnectProxy(test_servers_loop, tls=test_tls.server_context() if kind == "https" else None)
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()
