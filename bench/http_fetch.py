"""Benchmark: campaigns.http.fetch_batch against nginx, compared with wrk on the same nginx.

    .venv/bin/python bench/http_fetch.py [--domains 10000] [--concurrency 50] [--processes 2]
                                         [--wrk-seconds 5] [--rounds 3] [--clients new,legacy]
                                         [--loop uvloop|asyncio]

Starts nginx on 127.0.0.1 (free port, config in a temp dir, stopped at the end) serving a distinct
~1 KB page per Host for N domains d00000…d(N-1) (`map $host` → `return 200`; any other Host gets
404, so wrk's Non-2xx check and the outcome check catch a request for a domain outside the set),
some pages with keywords. wrk (2 threads, --concurrency connections, rotating the Host header over
exactly the same domains) gives the ceiling in requests/s.

fetch_batch fetches every domain once (ips=127.0.0.1, plain HTTP on the nginx port,
allow_private=True, three keyword rules on, --concurrency in flight *per process*), measured two
ways in every round: in one process, and split into --processes equal shares, one fetch_batch per
share in its own process (multiprocessing, 'spawn'), the way several `run_worker` processes share
a campaign; wrk's 2 threads likewise use both cores. Processes are started, import everything and
build their targets, then wait at a barrier; the clock starts when they are released together and
stops when the last one has its outcomes (aggregate rate = domains / that wall time; start-up and
sending the outcomes back are not timed). Every outcome from every process is sent back and checked
against what nginx serves.

--clients legacy also measures the fetcher this one replaced (campaigns/http.py and
campaigns/keywords.py as of LEGACY_REVISION, read with `git show`, so the side-by-side needs the
repository's history), in the same rounds against the same nginx and domains. --loop picks the
event loop of every fetch_batch process (uvloop by default, as campaigns.aio gives).

wrk, one process and N processes alternate for --rounds rounds; the best round of each is
compared, since on a shared machine the best round is the least disturbed one. The verdict is for
the N-process figure; the single-process ratio is printed beside it. Needs the `nginx` and `wrk`
binaries (apt-get install nginx wrk); installs nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from campaigns import aio, http, keywords  # noqa: E402
from campaigns.http import batch  # noqa: E402

TARGET_RATIO = 0.25
LEGACY_REVISION = "6a68653ba77364c78b47b1b14f8b052634f72473"  # the last commit with campaigns/http.py
LOOPS = {"uvloop": aio.new_event_loop, "asyncio": asyncio.new_event_loop}
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
        default "";
        include {tmp}/pages.map;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name _;
        location / {{
            if ($page = "") {{ return 404; }}
            return 200 $page;
        }}
    }}
}}
"""
# Rotates over d00000 … d{count-1}, the domains fetch_batch fetches (domain_name(0 … count-1)).
WRK_SCRIPT = """
local i = -1
local n = {count}
request = function()
    i = (i + 1) % n
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


def shares(count: int, processes: int) -> list[range]:
    """Split range(count) into `processes` consecutive shares whose sizes differ by at most one."""
    size, extra = divmod(count, processes)
    bounds, start = [], 0
    for number in range(processes):
        stop = start + size + (1 if number < extra else 0)
        bounds.append(range(start, stop))
        start = stop
    return bounds


def legacy_modules() -> tuple[types.ModuleType, types.ModuleType]:
    """(http, keywords) as of LEGACY_REVISION, loaded from git as modules of their own."""
    root = Path(__file__).resolve().parent.parent

    def load(name: str, path: str, rewrite: tuple[str, str] = ("", "")) -> types.ModuleType:
        source = subprocess.run(["git", "-C", str(root), "show", f"{LEGACY_REVISION}:{path}"],
                                capture_output=True, text=True, check=True).stdout.replace(*rewrite)
        module = types.ModuleType(name)
        sys.modules[name] = module  # dataclasses look their module up while the class is made
        exec(compile(source, f"{LEGACY_REVISION[:7]}:{path}", "exec"), module.__dict__)
        return module

    legacy_keywords = load("legacy_keywords", "campaigns/keywords.py")
    legacy_http = load("legacy_http", "campaigns/http.py", ("from campaigns.keywords import", "from legacy_keywords import"))
    return legacy_http, legacy_keywords


def fetch_share(client: str, loop: str, threads: int | None, port: int, share: range, concurrency: int, ready, go,
                results) -> None:
    """Child process: set up, wait at `ready`, fetch its share once `go` is set, send the outcomes back."""
    try:
        if threads is not None:
            batch.analysis_threads = threads
        fetcher, words = legacy_modules() if client == "legacy" else (http, keywords)
        rules = [
            words.compile_rule(words.KeywordRuleSpec("products", "widgets", "string")),
            words.compile_rule(words.KeywordRuleSpec("offers", r"free\s+shipping", "regex")),
            words.compile_rule(words.KeywordRuleSpec("brands", "ACME", "string", case_sensitive=True)),
        ]
        persona = fetcher.HttpPersonaConfig(name="bench", user_agent="DomainFlow-bench/1.0")
        targets = [fetcher.FetchTarget(domain_name(index), ("127.0.0.1",)) for index in share]
        aio.collect_less()  # as run_worker does once it has started (both fetchers alike)
        ready.wait()
        go.wait()
        with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
            outcomes = runner.run(fetcher.fetch_many(targets, persona=persona, rules=rules, ports=(port,), retries=0,
                                                     max_in_flight=concurrency, allow_private=True))
        finished = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process on the machine
        if client == "legacy":  # the parent cannot unpickle the legacy module's classes
            outcomes = [http.HttpOutcome(**{**vars(o), "keyword_hits": tuple(
                keywords.KeywordHit(**vars(hit)) for hit in o.keyword_hits)}) for o in outcomes]
        results.put((share.start, finished, outcomes, None))
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the run
        ready.abort()
        results.put((share.start, None, None, traceback.format_exc()))


def check_outcomes(outcomes: list, count: int) -> int:
    """Number of outcomes that differ from what nginx serves (outcomes[i] must be domain i)."""
    wrong = 0 if len(outcomes) == count else abs(count - len(outcomes))
    for index, outcome in enumerate(outcomes[:count]):
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
    return wrong


def run_ours(client: str, loop: str, threads: int | None, port: int, count: int, concurrency: int, processes: int) -> tuple[float, int]:
    """fetch_batch over every domain, split over `processes` processes: (aggregate domains/s, outcomes wrong)."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(processes + 1)
    go = context.Event()
    results = context.Queue()
    children = [context.Process(target=fetch_share, args=(client, loop, threads, port, share, concurrency, ready, go, results))
                for share in shares(count, processes)]
    for child in children:
        child.start()
    try:
        try:
            ready.wait(timeout=120)
        except multiprocessing.BrokenBarrierError:
            _, _, _, error = results.get(timeout=10)
            raise SystemExit(f"a fetch process failed while starting:\n{error}")
        started = time.monotonic()
        go.set()
        received = []
        for _ in children:
            received.append(results.get(timeout=600))
    finally:
        for child in children:
            child.join(10)
            if child.is_alive():
                child.kill()
    errors = [error for _, _, _, error in received if error]
    if errors:
        raise SystemExit(f"a fetch process failed:\n{errors[0]}")
    elapsed = max(finished for _, finished, _, _ in received) - started
    outcomes = [outcome for _, _, share_outcomes, _ in sorted(received, key=lambda item: item[0])
                for outcome in share_outcomes]
    return count / elapsed, check_outcomes(outcomes, count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50,
                        help="wrk connections; requests in flight per fetch_batch process")
    parser.add_argument("--processes", type=int, default=2,
                        help="fetch_batch processes sharing the domains (default 2, like wrk's 2 threads)")
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nginx-workers", default="auto")
    parser.add_argument("--clients", default="new", help="comma-separated: new, legacy (the replaced fetcher)")
    parser.add_argument("--loop", default="uvloop", help="comma-separated: uvloop, asyncio")
    parser.add_argument("--analysis-threads", type=int, default=None,
                        help="threads in the new fetcher's page-analysis pool (default: the fetcher's own, one)")
    args = parser.parse_args()
    clients = args.clients.split(",")
    loops = args.loop.split(",")
    if not set(loops) <= set(LOOPS):
        parser.error("--loop takes uvloop and/or asyncio")
    if not set(clients) <= {"new", "legacy"}:
        parser.error("--clients takes new and/or legacy")
    if args.processes < 1 or args.domains < args.processes:
        parser.error("--processes must be at least 1 and at most --domains")
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    if missing:
        print(f"cannot run: {' and '.join(missing)} not found on PATH (install with: apt-get install -y nginx wrk)")
        return 2
    # One process is always measured; N processes as well when N > 1.
    counts = [1] if args.processes == 1 else [1, args.processes]
    variants = [(client, loop, n) for client in clients for loop in loops for n in counts]
    label = {(client, loop, n): f"{client}, {loop}, {'1 process' if n == 1 else f'{n} processes'}"
             for client, loop, n in variants}
    with tempfile.TemporaryDirectory(prefix="df-bench-") as tmp_name:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o755)
        nginx, port = start_nginx(tmp, args.domains, args.nginx_workers)
        wrk_rates: list[float] = []
        our_rates: dict[tuple[str, str, int], list[float]] = {variant: [] for variant in variants}
        wrong = 0
        try:
            print(f"nginx on 127.0.0.1:{port}, {args.domains} domains, wrk -t2 -c{args.concurrency}, "
                  f"fetch_batch {args.concurrency} in flight per process, processes {'/'.join(map(str, counts))}, "
                  f"loops {args.loop}, {args.analysis_threads or batch.analysis_workers()} analysis threads")
            for round_number in range(1, args.rounds + 1):
                wrk_rates.append(run_wrk(tmp, port, args.domains, args.concurrency, args.wrk_seconds))
                parts = [f"round {round_number}: wrk {wrk_rates[-1]:8.0f} req/s"]
                for variant in variants:
                    client, loop, processes = variant
                    rate, differing = run_ours(client, loop, args.analysis_threads, port, args.domains,
                                               args.concurrency, processes)
                    our_rates[variant].append(rate)
                    wrong += differing
                    parts.append(f"{label[variant]} {rate:7.0f} req/s ({differing} differ)")
                print("   ".join(parts))
        finally:
            nginx.terminate()
            nginx.wait(10)
    wrk_rate = max(wrk_rates)
    ratios = {variant: max(our_rates[variant]) / wrk_rate for variant in variants}
    goal = (clients[0], loops[0], counts[-1])
    ratio = ratios[goal]
    verdict = "OK" if ratio >= TARGET_RATIO and not wrong else "BELOW TARGET" if not wrong else "WRONG OUTCOMES"
    width = max(len(f"best fetch_batch, {label[variant]}:") for variant in variants)
    print(f"{'best wrk:':{width}} {wrk_rate:8.0f} requests/s")
    for variant in variants:
        print(f"{f'best fetch_batch, {label[variant]}:':{width}} {max(our_rates[variant]):8.0f} requests/s"
              f"  {ratios[variant]:6.1%} of wrk")
    print(f"outcomes differing from nginx: {wrong} of {args.rounds * len(variants) * args.domains}")
    print(f"{f'ratio, {label[goal]}:':{width}} {ratio:8.1%}  (target >= {TARGET_RATIO:.0%}): {verdict}")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
