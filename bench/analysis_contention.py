"""Benchmark: what a busy event loop costs page analysis when it runs in the same process.

    .venv/bin/python bench/analysis_contention.py [--seconds 3] [--rounds 2]

A worker analyses pages in a thread beside its event loop (campaigns/http/batch.py). This measures
the analysing thread's own CPU time per call, on the HTTP benchmark's page, three ways: alone;
beside a thread of the same process running an event loop that keeps 100 UDP datagrams in flight
against a local echo process (as a DNS phase does); and beside the same loop in another process,
on the same cores. The calls: the whole `analyse()` of a page, its visible text (lexbor), a regex
rule (RE2) and a string rule. lexbor and RE2 release the interpreter lock on every call.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.http_fetch import page_html  # noqa: E402
from campaigns.http.config import HttpPersonaConfig  # noqa: E402
from campaigns.http.heap import keep_heap_top  # noqa: E402
from campaigns.http.pages import Analysis, Page, analyse  # noqa: E402
from campaigns.keywords import KeywordRuleSpec, compile_rule, match_keywords, page_text  # noqa: E402

IN_FLIGHT = 100


def echo(ready: multiprocessing.Queue) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    ready.put(server.getsockname()[1])
    while True:
        data, peer = server.recvfrom(2048)
        server.sendto(data, peer)


def busy_loop(port: int, stop) -> None:
    """An event loop answering every echoed datagram with the next one, IN_FLIGHT of them at a time."""
    async def run() -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.connect(("127.0.0.1", port))

        def readable() -> None:
            for _ in range(512):
                try:
                    sock.send(sock.recv(2048))
                except BlockingIOError:
                    return

        asyncio.get_running_loop().add_reader(sock.fileno(), readable)
        for _ in range(IN_FLIGHT):
            sock.send(b"q" * 40)
        while not stop.is_set():
            await asyncio.sleep(0.05)

    asyncio.run(run())


def calls() -> dict[str, Callable[[], object]]:
    html = page_html(3)
    _, text = page_text(html)
    regex = compile_rule(KeywordRuleSpec("k", r"free\s+shipping", "regex"))
    string = compile_rule(KeywordRuleSpec("k", "widgets", "string"))
    page = Page(200, {"content-type": "text/html"}, html.encode(), "http://site.test/", 0, "site.test", 1)
    analysis = Analysis.of(HttpPersonaConfig(name="bench"), [string, regex], ())
    return {"analyse()": lambda: analyse(page, analysis), "visible text": lambda: page_text(html),
            "regex rule": lambda: match_keywords(text, rules=[regex], adhoc=()),
            "string rule": lambda: match_keywords(text, rules=[string], adhoc=())}


def cpu_per_call(call: Callable[[], object], seconds: float) -> float:
    """µs of this thread's CPU per call, calling for about `seconds`."""
    count, started, until = 0, time.thread_time(), time.monotonic() + seconds
    while time.monotonic() < until:
        for _ in range(100):
            call()
        count += 100
    return (time.thread_time() - started) / count * 1e6


def beside(kind: str, port: int, call: Callable[[], object], seconds: float) -> float:
    if kind == "thread":
        stop = threading.Event()
        other = threading.Thread(target=busy_loop, args=(port, stop))
    else:
        stop = multiprocessing.Event()
        other = multiprocessing.Process(target=busy_loop, args=(port, stop))
    other.start()
    time.sleep(0.3)
    try:
        return cpu_per_call(call, seconds)
    finally:
        stop.set()
        other.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    keep_heap_top()  # as the analysis pool does
    ready: multiprocessing.Queue = multiprocessing.Queue()
    multiprocessing.Process(target=echo, args=(ready,), daemon=True).start()
    port = ready.get()
    print(f"{'call':14} {'alone':>9} {'beside a loop thread':>22} {'beside a loop process':>23}   (µs of CPU per call)")
    for _ in range(args.rounds):
        for name, call in calls().items():
            alone = cpu_per_call(call, args.seconds)
            thread, process = (beside(kind, port, call, args.seconds) for kind in ("thread", "process"))
            print(f"{name:14} {alone:9.2f} {thread:13.2f} ({thread / alone - 1:+4.0%}) {process:14.2f} ({process / alone - 1:+4.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
