"""Local servers and load generators the benchmarks share: nsd + dnsperf, nginx + wrk, a delaying DNS responder.

Everything listens on 127.0.0.1 on a free port, from a temporary directory the caller owns.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import re
import socket
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (nsd listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise SystemExit("no free port")


def start_nsd(workdir: Path, port: int, zone: str, *, timeout: float = 60) -> subprocess.Popen:
    """nsd serving `zone` from workdir/<zone>.zone (which must hold `ns.<zone> A`), once it answers."""
    conf = workdir / "nsd.conf"
    conf.write_text(
        f"""server:
    ip-address: 127.0.0.1@{port}
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{workdir}"
    database: ""
    zonelistfile: "{workdir}/zone.list"
    xfrdfile: "{workdir}/xfrd.state"
    xfrdir: "{workdir}"
    pidfile: "{workdir}/nsd.pid"
    logfile: "{workdir}/nsd.log"
    server-count: 1
    verbosity: 0
    # Response rate limiting would drop most of a benchmark's answers.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: {zone}
    zonefile: {zone}.zone
"""
    )
    subprocess.run(["nsd-checkconf", str(conf)], check=True)
    process = subprocess.Popen(["nsd", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    probe = dns.message.make_query(f"ns.{zone}", "A")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"nsd exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            if dns.query.udp(probe, "127.0.0.1", port=port, timeout=0.5).answer:
                return process
        except (dns.exception.Timeout, OSError):
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"nsd did not answer within {timeout:.0f} s; see {workdir}/nsd.log")


def run_dnsperf(queries: Path, port: int, *, outstanding: int) -> dict:
    command = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries), "-n", "1"]
    command += ["-q", str(outstanding)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return {
        "command": " ".join(command),
        "sent": int(re.search(r"Queries sent:\s+(\d+)", output).group(1)),
        "lost": int(re.search(r"Queries lost:\s+(\d+)", output).group(1)),
        "qps": float(re.search(r"Queries per second:\s+([\d.]+)", output).group(1)),
        "rcodes": re.search(r"Response codes:\s+(.*)", output).group(1).strip(),
    }


# One default server: any Host gets a ~1 KB page naming it, with two keywords in it.
NGINX_ANY_HOST = """
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type "text/html; charset=utf-8";
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port} default_server;
        server_name _;
        location / {{ return 200 "{page}"; }}
    }}
}}
"""
PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Site $host</title></head><body>"
    "<h1>Welcome to $host</h1>" + "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod "
    "tempor incididunt ut labore et dolore magna aliqua.</p>" * 6
    + "<p>Buy our <b>widgets</b> today. Free shipping on every order.</p></body></html>"
)


def start_nginx(tmp: Path, *, workers: str = "auto") -> tuple[subprocess.Popen, int]:
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / name).mkdir(exist_ok=True)
    port = free_port()
    (tmp / "nginx.conf").write_text(NGINX_ANY_HOST.format(tmp=tmp, port=port, workers=workers, page=PAGE))
    process = subprocess.Popen(["nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"nginx exited: {process.stderr.read().decode(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("nginx did not start listening within 10 s")


def run_wrk(tmp: Path, port: int, host_format: str, count: int, *, connections: int = 50, seconds: int = 5) -> float:
    """wrk -t2 rotating the Host header over host_format % i for i in 0..count-1; requests/s."""
    script = tmp / "hosts.lua"
    script.write_text(
        f'local i = -1\nrequest = function()\n    i = (i + 1) % {count}\n'
        f'    return wrk.format("GET", "/", {{["Host"] = string.format("{host_format}", i)}})\nend\n'
    )
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if match is None or "Non-2xx" in result.stdout:
        raise SystemExit(f"unexpected wrk output:\n{result.stdout}")
    return float(match.group(1))


# The delaying responder: every A query gets `127.0.0.1` (TTL 300) after `delay` seconds; other types NOERROR, empty.
_RESPONDER_BUFFER = 32 << 20
_SO_RCVBUFFORCE = 33  # Linux's number for it; Python's socket module does not name it
_ANSWER = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\x7f\x00\x00\x01"


class _Delayed(asyncio.DatagramProtocol):
    def __init__(self, delay: float) -> None:
        self.delay = delay

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.later = asyncio.get_running_loop().call_later

    def datagram_received(self, data: bytes, addr) -> None:
        end = 12
        try:
            while data[end]:
                end += data[end] + 1
        except IndexError:
            return
        end += 5  # the root label, QTYPE, QCLASS
        is_a = data[end - 4:end - 2] == b"\x00\x01"
        flags = bytes([0x84 | (data[2] & 0x01), 0x80])  # QR AA (+RD as asked), RA, NOERROR
        reply = data[:2] + flags + (b"\x00\x01\x00\x01" if is_a else b"\x00\x01\x00\x00") + b"\x00\x00\x00\x00"
        reply += data[12:end] + (_ANSWER if is_a else b"")
        self.later(self.delay, self.transport.sendto, reply, addr)


def _serve_delayed(port: int, delay: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # Two workers open with a burst of their in-flight caps (10,000 queries at 5,000 each), which a
    # buffer held to net.core.rmem_max (often a few MiB) cannot hold: the responder would drop a few
    # thousand, and the phase would wait out their timeouts, measuring this stand-in's buffer
    # instead of the workers. As root, the size asked for is given regardless of that cap.
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _RESPONDER_BUFFER)
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RESPONDER_BUFFER)
    sock.bind(("127.0.0.1", port))

    async def serve() -> None:
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: _Delayed(delay), sock=sock)
        await asyncio.Event().wait()

    asyncio.run(serve())


def udp_drops(port: int) -> int:
    """Datagrams the kernel dropped so far on the live UDP sockets bound to `port` (/proc/net/udp)."""
    total = 0
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            total += int(fields[-1])
    return total


def start_delay_responder(port: int, *, delay: float, processes: int = 1) -> list[multiprocessing.Process]:
    """`processes` responders sharing the port (SO_REUSEPORT); returns once one answers."""
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_serve_delayed, args=(port, delay), daemon=True) for _ in range(processes)]
    for child in children:
        child.start()
    probe = dns.message.make_query("probe.invalid", "A")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if dns.query.udp(probe, "127.0.0.1", port=port, timeout=0.5).answer:
                return children
        except (dns.exception.Timeout, OSError):
            time.sleep(0.1)
    raise SystemExit("the delaying responder did not answer within 30 s")
