"""Fixtures for the HTTP tests: Debian's nginx on 127.0.0.1, a server that splits its writes, and
servers that count their connections (counting_server.py).

`nginx_sites` starts nginx once per session from a config in a temp dir, on a free port, serving
`sites/<Host>/index.html` for each Host (gzip on, so compressible pages come gzip-encoded and
chunked); a site with a `redirect` file answers "/" with 302 to /final.html. It fails, not skips,
when nginx is missing: install it with `apt-get install -y nginx-light`.
"""
from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.campaigns.http.counting_server import CountingServer
from tests.servers.http_proxies import BackgroundLoop

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ text/html html; application/octet-stream bin; }}
    default_type application/octet-stream;
    gzip on;
    gzip_min_length 1;
    server {{
        listen 127.0.0.1:{port};
        server_name _;
        root {tmp}/sites/$host;
        location = / {{
            if (-f $document_root/redirect) {{ return 302 /final.html; }}
            try_files /index.html =404;
        }}
    }}
}}
"""


@dataclass
class Nginx:
    port: int
    root: Path

    def add(self, host: str, files: dict[str, bytes]) -> None:
        site = self.root / host
        site.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (site / name).write_bytes(content)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def nginx_sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    binary = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if binary is None:
        pytest.fail("nginx is not installed: apt-get install -y nginx-light")
    tmp = tmp_path_factory.mktemp("nginx")
    tmp.chmod(0o755)
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "sites"):
        (tmp / name).mkdir()
    port = _free_port()
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port))
    process = subprocess.Popen([binary, "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                pytest.fail(f"nginx exited: {process.stderr.read().decode(errors='replace')}")  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("nginx did not listen within 10 s")
                time.sleep(0.05)
        yield Nginx(port, tmp / "sites")
    finally:
        process.terminate()
        process.wait(10)
        process.stderr.close()  # type: ignore[union-attr]


@dataclass
class SplitServer:
    """Answers every request with `response`, written in pieces cut at `cuts` (flushed one by one)."""

    background: BackgroundLoop
    response: bytes = b""
    cuts: list[int] = field(default_factory=list)
    port: int = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await reader.readuntil(b"\r\n\r\n")
        bounds = [0, *sorted(set(self.cuts)), len(self.response)]
        for start, end in zip(bounds, bounds[1:]):
            writer.write(self.response[start:end])
            await writer.drain()
            await asyncio.sleep(0.001)
        writer.close()


@pytest.fixture(scope="session")
def split_server(test_servers_loop: BackgroundLoop) -> Iterator[SplitServer]:
    server = SplitServer(test_servers_loop)

    async def start() -> asyncio.Server:
        return await asyncio.start_server(test_servers_loop.track(server._serve), "127.0.0.1", 0)

    listening = test_servers_loop.call(start())
    server.port = listening.sockets[0].getsockname()[1]
    yield server
    test_servers_loop.stop_server(listening)


@pytest.fixture
def make_server(test_servers_loop: BackgroundLoop) -> Iterator[Callable[..., CountingServer]]:
    started: list[CountingServer] = []

    def make(*, mode: str = "answer") -> CountingServer:
        started.append(CountingServer(test_servers_loop, mode=mode))
        return started[-1]

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., CountingServer]) -> CountingServer:
    return make_server()
