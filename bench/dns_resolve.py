"""campaigns.dns.resolve_batch beside dnsperf, both against the same local nsd and the same names.

Run: .venv/bin/python bench/dns_resolve.py [--names 100000] [--repeat 3] [--record-types A,AAAA]
Needs Debian's nsd and dnsperf (apt-get install -y nsd dnsperf); installs nothing.
A zone of --names names (most with A records, some with AAAA too, some absent:
NXDOMAIN) is served by nsd on 127.0.0.1, on a free port, from a temporary
directory; nsd is stopped at the end. Each round runs dnsperf over every
(name, type) query, then resolve_batch over the names with one persona (rate
limit off), and checks every outcome against the zone. Figures are queries/s.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._servers import free_port, run_dnsperf, start_nsd  # noqa: E402
from campaigns.dns import DnsOutcome, DnsPersonaConfig, Resolver, resolve_batch  # noqa: E402

ZONE = "bench.domainflow.test"


def build_zone(count: int, *, seed: int = 1) -> dict[str, tuple[str, ...] | None]:
    """name -> expected addresses (sorted as resolve_batch sorts them), None for NXDOMAIN."""
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    expected: dict[str, tuple[str, ...] | None] = {}
    for i in range(count):
        name = f"{''.join(rng.choices(alphabet, k=rng.randint(6, 14)))}{i}.{ZONE}"
        roll = rng.random()
        if roll < 0.10:
            expected[name] = None  # NXDOMAIN: not in the zone
            continue
        addresses = [ipaddress.IPv4Address(0x0A000000 | rng.getrandbits(24))]
        if roll < 0.20:
            addresses.append(ipaddress.IPv4Address(0x0A000000 | rng.getrandbits(24)))  # two A records
        if roll > 0.90:
            addresses.append(ipaddress.IPv6Address((0x20010DB8 << 96) | rng.getrandbits(64)))  # and AAAA
        expected[name] = tuple(str(a) for a in sorted(set(addresses), key=lambda a: (a.version, int(a))))
    return expected


def write_zone(path: Path, expected: dict[str, tuple[str, ...] | None]) -> None:
    lines = [
        f"$ORIGIN {ZONE}.",
        "$TTL 300",
        "@ IN SOA ns hostmaster 1 3600 600 86400 300",
        "@ IN NS ns",
        "ns IN A 127.0.0.1",
    ]
    for name, addresses in expected.items():
        for address in addresses or ():
            rtype = "A" if ":" not in address else "AAAA"
            lines.append(f"{name}. IN {rtype} {address}")
    path.write_text("\n".join(lines) + "\n")


def run_ours(names: list[str], persona: DnsPersonaConfig) -> tuple[float, list[DnsOutcome]]:
    started = time.perf_counter()
    outcomes = resolve_batch(names, personas=[persona])
    return time.perf_counter() - started, outcomes


def wrong_answers(
    outcomes: list[DnsOutcome], expected: dict[str, tuple[str, ...] | None], types: tuple[str, ...]
) -> list[tuple]:
    """(got, wanted) for every outcome that disagrees with the zone."""
    wrong = []
    for outcome, (name, addresses) in zip(outcomes, expected.items(), strict=True):
        if addresses is None:
            want = (name, "unresolved", "NXDOMAIN", ())
        else:
            wanted = tuple(a for a in addresses if ("AAAA" if ":" in a else "A") in types)
            want = (name, "resolved", "NOERROR", wanted) if wanted else (name, "unresolved", "NOERROR", ())
        got = (outcome.domain, outcome.status, outcome.rcode, outcome.ips)
        if got != want:
            wrong.append((got, want))
    return wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of dnsperf then ours; medians are reported")
    parser.add_argument("--record-types", default="A,AAAA")
    parser.add_argument("--max-in-flight", type=int, default=100, help="our cap on concurrent queries (as dnsperf -q)")
    parser.add_argument("--dnsperf-outstanding", type=int, default=100, help="dnsperf -q")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    args = parser.parse_args()

    missing = [tool for tool in ("nsd", "nsd-checkconf", "dnsperf") if shutil.which(tool) is None]
    if missing:
        print(f"missing {', '.join(missing)}: install Debian's packages with `apt-get install -y nsd dnsperf`")
        return 2
    types = tuple(args.record_types.split(","))

    expected = build_zone(args.names)
    names = list(expected)
    with tempfile.TemporaryDirectory(prefix="bench-dns-") as tmp:
        workdir = Path(tmp)
        write_zone(workdir / f"{ZONE}.zone", expected)
        queries = workdir / "queries.txt"
        queries.write_text("".join(f"{name} {rtype}\n" for name in names for rtype in types))
        port = free_port()
        nsd = start_nsd(workdir, port, ZONE)
        try:
            persona = DnsPersonaConfig(
                name="bench",
                resolvers=(Resolver(host="127.0.0.1", port=port),),
                max_in_flight=args.max_in_flight,
                rate_limit_qps=None,
                record_types=types,
            )
            run_ours(names[:1000], persona)  # warm up nsd's and our caches alike
            rounds = []
            for round_number in range(1, args.repeat + 1):
                perf = run_dnsperf(queries, port, outstanding=args.dnsperf_outstanding)
                elapsed, outcomes = run_ours(names, persona)
                sent = sum(o.attempts for o in outcomes)
                wrong = wrong_answers(outcomes, expected, types)
                rounds.append({"dnsperf": perf, "ours_qps": sent / elapsed, "wrong": len(wrong)})
                print(
                    f"round {round_number}: dnsperf {perf['qps']:,.0f} q/s ({perf['sent']:,} queries, "
                    f"{perf['lost']} lost) | resolve_batch {sent / elapsed:,.0f} q/s ({sent:,} queries, "
                    f"{len(names) / elapsed:,.0f} names/s, {elapsed:.2f} s) | wrong answers: {len(wrong)}"
                )
                for got, want in wrong[:5]:
                    print(f"  wrong: got {got}, want {want}")
        finally:
            nsd.terminate()
            nsd.wait(30)

    dnsperf_qps = statistics.median(r["dnsperf"]["qps"] for r in rounds)
    ours_qps = statistics.median(r["ours_qps"] for r in rounds)
    all_correct = all(r["wrong"] == 0 for r in rounds)
    summary = {
        "names": args.names,
        "record_types": list(types),
        "nxdomain_names": sum(1 for a in expected.values() if a is None),
        "cpus": os.cpu_count(),
        "dnsperf_command": rounds[0]["dnsperf"]["command"].replace(str(queries), "queries.txt"),
        "dnsperf_rcodes": rounds[0]["dnsperf"]["rcodes"],
        "our_max_in_flight": args.max_in_flight,
        "dnsperf_qps_median": round(dnsperf_qps),
        "ours_qps_median": round(ours_qps),
        "ratio": round(ours_qps / dnsperf_qps, 3),
        "all_answers_correct": all_correct,
        "rounds": args.repeat,
    }
    print(
        f"\n{args.names:,} names ({summary['nxdomain_names']:,} NXDOMAIN), types {','.join(types)}, "
        f"{os.cpu_count()} CPUs, median of {args.repeat} rounds:\n"
        f"  dnsperf        {dnsperf_qps:>10,.0f} q/s   ({summary['dnsperf_command']})\n"
        f"  resolve_batch  {ours_qps:>10,.0f} q/s   (max_in_flight={args.max_in_flight})\n"
        f"  ratio          {ours_qps / dnsperf_qps:>10.1%}\n"
        f"  every answer correct: {'yes' if all_correct else 'NO'}"
    )
    if args.json:
        print(json.dumps(summary))
    return 0 if all_correct else 1


if __name__ == "__main__":
    sys.exit(main())
