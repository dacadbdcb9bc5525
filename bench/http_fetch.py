"""Benchmark: campaigns.http.fetch_batch against nginx, compared with wrk on the same nginx.

    .venv/bin/python bench/http_fetch.py [--domains 10000] [--concurrency 50] [--wrk-seconds 5] [--rounds 3]

Starts nginx on 127.0.0.1 (free port, config in a temp dir, stopped at the end) serving a distinct
~1 KB page per Host for N domains (`map $host` → `return 200`), some pages with keywords. wrk
(2 threads, the same number of connections, rotating the Host header over the same domains) gives
the ceiling in requests/s; fetch_batch fetches every domain once (ips=127.0.0.1, plain HTTP on the
nginx port, allow_private=True, three keyword rules on) and every outcome is checked against what
nginx serves. The two alternate for --rounds rounds; the best round of each is compared, since on
a shared machine the best round is the least disturbed one. Needs the `nginx` and `wrk` binaries
(apt-get install nginx wrk); installs nothing.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from campaigns.http import FetchTarget, HttpPersonaConfig, fetch_batch  # noqa: E402
from campaigns.keywords import KeywordRuleSpec, compile_rule  # noqa: E402

TARGET_RATIO = 0.10
NGINX_CONF = """
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
    map_hash_max_size 65536;
    map_hash_bucket_size 128;
    map $host $page {{
        default "<html><body>unknown host</body></html>";
        include {tmp}/pages.map;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name _;
        location / {{ return 200 $page; }}
    }}
}}
"""
WRK_SCRIPT = """
local i = 0
local n = {count}
request = function()
    i = i % n + 1
    return wrk.format("GET", "/", {{["Host"] = string.format("d%05d.bench.test", i)}})
end
"""
FILLER = (
    "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
    "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris.</p>"
)


def domain_name(index: int) -> str:
    return f"d{index:05d}.bench.test"


def page_html(index: int) -> str:
    """The page nginx serves for domain `index`: every 3rd has "widgets", every 5th "free shipping"."""
    extras = []
    if index % 3 == 0:
        extras.append("<p>Buy our <b>widgets</b> today, the best widgets in town.</p>")
    if index % 5 == 0:
        extras.append("<p>Free   shipping on every order.</p>")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Site {index}</title>"
        "<style>body{font-family:sans-serif}</style><script>var widgets=1;</script></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/about'>About</a></nav><h1>Welcome to site {index}</h1>"
        + FILLER * 3 + "".join(extras) + "<footer>&copy; 2026 Example</footer></body></html>"
    )


def expected_hits(index: int) -> dict[str, int]:
    hits = {}
    if index % 3 == 0:
        hits["widgets"] = 2
    if index % 5 == 0:
        hits[r"free\s+shipping"] = 1
    return hits


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_nginx(tmp: Path, count: int, workers: str) -> tuple[subprocess.Popen[bytes], int]:
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / name).mkdir(exist_ok=True)
    with open(tmp / "pages.map", "w") as pages:
        for index in range(count):
            pages.write(f"{domain_name(index)} \"{page_html(index)}\";\n")
    port = free_port()
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port, workers=workers))
    process = subprocess.Popen(["nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"nginx exited: {process.stderr.read().decode(errors='replace')}")  # type: ignore[union-attr]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("nginx did not start listening within 10 s")


def run_wrk(tmp: Path, port: int, count: int, concurrency: int, seconds: int) -> float:
    script = tmp / "hosts.lua"
    script.write_text(WRK_SCRIPT.format(count=count))
    threads = min(2, concurrency)
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "-s", str(script), f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if match is None or "Non-2xx" in result.stdout:
        raise SystemExit(f"unexpected wrk output:\n{result.stdout}")
    return float(match.group(1))


def run_ours(port: int, count: int, concurrency: int) -> tuple[float, int]:
    rules = [
        compile_rule(KeywordRuleSpec("products", "widgets", "string")),
        compile_rule(KeywordRuleSpec("offers", r"free\s+shipping", "regex")),
        compile_rule(KeywordRuleSpec("brands", "ACME", "string", case_sensitive=True)),
    ]
    persona = HttpPersonaConfig(name="bench", user_agent="DomainFlow-bench/1.0")
    targets = [FetchTarget(domain_name(index), ("127.0.0.1",)) for index in range(count)]
    started = time.perf_counter()
    outcomes = fetch_batch(targets, persona=persona, rules=rules, ports=(port,), retries=0,
                           max_in_flight=concurrency, allow_private=True)
    elapsed = time.perf_counter() - started
    wrong = 0
    for index, outcome in enumerate(outcomes):
        body = page_html(index).encode()
        hits = {hit.keyword: hit.count for hit in outcome.keyword_hits}
        expected_status = "lead_valid" if expected_hits(index) else "http_valid_no_keywords"
        if (outcome.domain != domain_name(index) or outcome.status != "success" or outcome.status_code != 200
                or outcome.title != f"Site {index}" or outcome.content_length != len(body)
                or outcome.body_sha256 != hashlib.sha256(body).hexdigest() or hits != expected_hits(index)
                or outcome.business_status != expected_status):
            wrong += 1
            if wrong <= 3:
                print(f"  mismatch for {domain_name(index)}: {outcome}", file=sys.stderr)
    return count / elapsed, wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nginx-workers", default="auto")
    args = parser.parse_args()
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    if missing:
        print(f"cannot run: {' and '.join(missing)} not found on PATH (install with: apt-get install -y nginx wrk)")
        return 2
    with tempfile.TemporaryDirectory(prefix="df-bench-") as tmp_name:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o755)
        nginx, port = start_nginx(tmp, args.domains, args.nginx_workers)
        wrk_rates, our_rates, wrong = [], [], 0
        try:
            print(f"nginx on 127.0.0.1:{port}, {args.domains} domains, concurrency {args.concurrency}")
            for round_number in range(1, args.rounds + 1):
                wrk_rates.append(run_wrk(tmp, port, args.domains, args.concurrency, args.wrk_seconds))
                rate, differing = run_ours(port, args.domains, args.concurrency)
                our_rates.append(rate)
                wrong += differing
                print(f"round {round_number}: wrk {wrk_rates[-1]:8.0f} req/s   fetch_batch {rate:7.0f} req/s "
                      f"({differing} of {args.domains} outcomes differ from nginx)")
        finally:
            nginx.terminate()
            nginx.wait(10)
    wrk_rate, ours = max(wrk_rates), max(our_rates)
    print(f"best wrk:         {wrk_rate:8.0f} requests/s")
    print(f"best fetch_batch: {ours:8.0f} requests/s")
    ratio = ours / wrk_rate
    verdict = "OK" if ratio >= TARGET_RATIO and not wrong else "BELOW TARGET" if not wrong else "WRONG OUTCOMES"
    print(f"ratio:            {ratio:8.1%}  (target >= {TARGET_RATIO:.0%}): {verdict}")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
