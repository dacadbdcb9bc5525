"""End to end: real `run_worker` processes driven through `create_campaign`, beside ceilings measured in the same run.

    DATABASE_URL=... .venv/bin/python bench/pipeline.py dns    [--names 100000] [--rounds 3] [--workers 2]
    DATABASE_URL=... .venv/bin/python bench/pipeline.py http   [--names 20000]
    DATABASE_URL=... .venv/bin/python bench/pipeline.py delay  [--names 50000] [--levels 100,1000,5000]
    DATABASE_URL=... .venv/bin/python bench/pipeline.py growth [--sizes 10000,100000,10000000]
    DATABASE_URL=... .venv/bin/python bench/pipeline.py stream [--names 1000000]

dns     generation (untimed), then dnsperf over its names (ceiling), then the DNS phase (timed); 90% of the
        names have an A record in a local nsd zone, the rest are NXDOMAIN. Ratio: names/s vs dnsperf q/s. The CPU
        each kind of process used during the phase is printed (bench/_cpu.py), as for http.
http    generation + DNS (untimed; every name -> 127.0.0.1), then wrk rotating Host over the same names
        (ceiling), then the HTTP phase with a keyword set (timed) against one nginx answering any Host.
delay   a responder answering every query after --rtt-ms (checked with dnsperf -q 5000 first), then per
        persona in-flight limit: dnsperf -q LIMIT (ceiling) and the DNS phase (timed). Goal vs limit / RTT.
growth  per size: a chained generation -> DNS pipeline on nsd holding all its names; cost per name beside
        the smallest size, the longest transaction of the run (txmetrics), the peak worker RSS.
stream  per round: the three phases one after another (each timed on its own) and the chained
        generation -> DNS -> HTTP pipeline (in that order in odd rounds, the pipeline first in even
        ones; each half after a wipe): time to the first HTTP result, total vs the slowest phase of the
        same round (the goal is on the median of the rounds' ratios, as many of each order, and each
        order's median is printed too), the CPU each kind of process used in both
        (bench/_cpu.py), nginx's CPU per request in both (the same work: it shows the cores' speed
        and what sharing them costs), and the floor: the phases' own CPU divided by the cores, the
        least time any schedule of that work could take here. Also how much of the HTTP phase was
        done when DNS ended, the rate of the rest, nginx's CPU per request before and after, each kind
        of process's CPU per site after it beside the HTTP phase alone, the phases' times added up,
        and PostgreSQL's CPU by statement (bench/_pgwatch.py).

Times come from the campaigns' own started_at / finished_at (first phase started -> last phase finished);
chained phases are found through source_campaign_id while polling. Workers run for the whole scenario
(`run_worker --concurrency C`, DOMAINFLOW_ALLOW_PRIVATE_TARGETS=1). Rounds alternate ceiling and product;
medians are reported. Every name is fresh (a new TLD per campaign under the benchmark's zone); the
campaigns the benchmark created are deleted after each round (--keep keeps them), the tables they used
are vacuumed, at the start too, so no round writes beside an earlier one's dead rows, and a checkpoint
follows, so none inherits the wipe's writes. Needs nsd, dnsperf,
nginx and wrk (apt-get install -y nsd dnsperf nginx-light wrk) and DATABASE_URL.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import string
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._cpu import around, cpu_seconds, spent, used  # noqa: E402
from bench._pgwatch import StatementCpu, top  # noqa: E402
from bench._pipeline_driver import Driver, Names, workdir, write_zone  # noqa: E402
from bench._servers import (  # noqa: E402
    free_port, run_dnsperf, run_wrk, start_delay_responder, start_nginx, start_nsd, udp_drops,
)

ZONE = "pipeline.domainflow.test"
DNS_PERSONA, HTTP_PERSONA, KEYWORDS = "pipeline-bench-dns", "pipeline-bench-http", "pipeline-bench-keywords"
CORES = len(os.sched_getaffinity(0))
GOALS = {"dns": 0.25, "http": 0.10, "delay": 0.70, "growth": 1.25, "stream_first_s": 5.0, "stream": 1.3}


def dns_persona(name: str, port: int, in_flight: int) -> dict:
    return {"name": name, "resolvers": [f"127.0.0.1:{port}"], "timeout_s": 2.0, "retries": 1,
            "max_in_flight": in_flight, "rate_limit_qps": None, "record_types": ["A"]}


HTTP_CONFIG = {
    "http_personas": [{"name": HTTP_PERSONA, "user_agent": "DomainFlow-bench/1.0", "timeout_s": 10.0,
                       "follow_redirects": False, "max_redirects": 0}],
    "keyword_sets": [{"name": KEYWORDS, "rules": [{"pattern": "widgets", "kind": "string"},
                                                  {"pattern": r"free\s+shipping", "kind": "regex"}]}],
}


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args, self.tmp = args, tmp
        self.token = "".join(random.choices(string.ascii_lowercase, k=6))
        self.driver = Driver(os.environ["DATABASE_URL"], tmp)
        self.driver.ensure_owner()
        self.driver.vacuum()  # what earlier runs deleted, before anything is timed
        self.servers: list = []

    def names(self, label: str, count: int) -> Names:
        return Names(f"{self.token}{label}.{ZONE}", count)

    def nsd(self, all_names: list[Names], *, nx_every: int) -> int:
        write_zone(self.tmp / f"{ZONE}.zone", ZONE, all_names, nx_every=nx_every)
        port = free_port()
        total = sum(n.count for n in all_names)
        self.servers.append(start_nsd(self.tmp, port, ZONE, timeout=60 + total / 10_000))
        return port

    def generate(self, names: Names, *chain: str) -> str:
        return self.driver.create(f"bench gen {names.tld}", *names.generation_flags(), *(("--chain-next", *chain) if chain else ()))

    def gen_wait(self, names: Names) -> str:
        gen = self.generate(names)
        self.driver.wait(gen, 1, timeout=self.timeout(names.count))
        return gen

    def dns(self, source: str, persona: str = DNS_PERSONA, *extra: str) -> str:
        return self.driver.create(f"bench dns {source}", "--type", "dns_validation", "--source", source, "--persona", persona, *extra)

    def http(self, source: str, port: int) -> str:
        return self.driver.create(f"bench http {source}", "--type", "http_keyword_validation", "--source", source,
                                  "--persona", HTTP_PERSONA, "--keyword-set", KEYWORDS, "--port", str(port))

    def timeout(self, count: int) -> float:
        return 600 + count / 100

    def queries(self, names: Names) -> Path:
        path = self.tmp / "queries.txt"
        with open(path, "w") as out:
            out.write("".join(f"{names.name(i)} A\n" for i in range(names.count)))
        return path

    def done_round(self) -> None:
        if not self.args.keep:
            self.driver.wipe()

    def close(self) -> None:
        self.driver.stop_workers()
        for server in self.servers:
            server.terminate()
        for server in self.servers:
            server.wait(30) if hasattr(server, "wait") else server.join(30)
        if not self.args.keep:
            self.driver.wipe()


def ratio_line(label: str, ours: float, ceiling: float, goal: float, unit: str) -> None:
    verdict = "met" if ours / ceiling >= goal else "NOT met"
    print(f"{label}: {ours:,.0f} {unit} vs {ceiling:,.0f} = {ours / ceiling:.1%} (goal >= {goal:.0%}: {verdict})")


def scenario_dns(b: Bench, a: argparse.Namespace) -> None:
    rounds = [b.names(f"d{r}", a.names) for r in range(a.rounds)]
    port = b.nsd(rounds, nx_every=10)
    b.driver.import_config({"dns_personas": [dns_persona(DNS_PERSONA, port, a.in_flight)]})
    b.driver.start_workers(a.workers, a.concurrency)
    ceilings, ours = [], []
    for number, names in enumerate(rounds, 1):
        gen = b.gen_wait(names)
        perf = run_dnsperf(b.queries(names), port, outstanding=a.dnsperf_q)
        before = cpu_seconds()
        run = b.driver.wait(b.dns(gen), 1, timeout=b.timeout(names.count))
        cpu = spent(before, cpu_seconds())
        phase = run.phase("dns_validation")
        ceilings.append(perf["qps"])
        ours.append(phase.processed / phase.seconds)
        print(f"round {number}: dnsperf -q {a.dnsperf_q} {perf['qps']:,.0f} q/s ({perf['lost']} lost) | DNS phase "
              f"{ours[-1]:,.0f} names/s ({phase.processed:,} in {phase.seconds:.2f} s, resolved "
              f"{phase.successful:,}, expected {names.resolvable(10):,}) | CPU {cpu}")
        b.done_round()
    ratio_line(f"DNS end to end, {a.workers} workers x {a.concurrency}, median of {a.rounds}",
               statistics.median(ours), statistics.median(ceilings), GOALS["dns"], "names/s")


def scenario_http(b: Bench, a: argparse.Namespace) -> None:
    rounds = [b.names(f"h{r}", a.names) for r in range(a.rounds)]
    dns_port = b.nsd(rounds, nx_every=0)
    nginx, port = start_nginx(b.tmp)
    b.servers.append(nginx)
    b.driver.import_config({"dns_personas": [dns_persona(DNS_PERSONA, dns_port, 100)], **HTTP_CONFIG})
    b.driver.start_workers(a.workers, a.concurrency)
    ceilings, ours = [], []
    for number, names in enumerate(rounds, 1):
        dns = b.dns(b.gen_wait(names))
        b.driver.wait(dns, 1, timeout=b.timeout(names.count))
        ceilings.append(run_wrk(b.tmp, port, f"%0{names.width}d.{names.tld}", names.count, seconds=a.wrk_seconds))
        before = cpu_seconds()
        phase = b.driver.wait(b.http(dns, port), 1, timeout=b.timeout(names.count)).phase("http_keyword_validation")
        cpu = spent(before, cpu_seconds())
        ours.append(phase.processed / phase.seconds)
        print(f"round {number}: wrk -t2 -c50 {ceilings[-1]:,.0f} req/s | HTTP phase {ours[-1]:,.0f} sites/s "
              f"({phase.processed:,} in {phase.seconds:.2f} s, successful {phase.successful:,}) | CPU {cpu}")
        b.done_round()
    ratio_line(f"HTTP end to end, {a.workers} workers x {a.concurrency}, median of {a.rounds}",
               statistics.median(ours), statistics.median(ceilings), GOALS["http"], "sites/s")


def scenario_delay(b: Bench, a: argparse.Namespace) -> None:
    levels = [int(x) for x in a.levels.split(",")]
    port, rtt = free_port(), a.rtt_ms / 1000
    b.servers += start_delay_responder(port, delay=rtt, processes=a.responder_processes)
    check = b.names("ycheck", a.names)
    perf = run_dnsperf(b.queries(check), port, outstanding=5000)
    print(f"responder ({a.rtt_ms:g} ms, {a.responder_processes} process(es)): dnsperf -q 5000 {perf['qps']:,.0f} q/s, "
          f"{perf['lost']} lost (5000 / RTT = {5000 / rtt:,.0f})")
    b.driver.import_config({"dns_personas": [dns_persona(f"{DNS_PERSONA}-{n}", port, n) for n in levels]})
    b.driver.start_workers(a.workers, a.concurrency)
    results: dict[int, tuple[list, list]] = {n: ([], []) for n in levels}
    for number in range(1, a.rounds + 1):
        for level in levels:
            names = b.names(f"y{number}l{level}", a.names)
            gen = b.gen_wait(names)
            ceiling = run_dnsperf(b.queries(names), port, outstanding=level)["qps"]
            dropped = udp_drops(port)
            phase = b.driver.wait(b.dns(gen, f"{DNS_PERSONA}-{level}"), 1, timeout=b.timeout(names.count)).phase("dns_validation")
            results[level][0].append(ceiling)
            results[level][1].append(phase.processed / phase.seconds)
            print(f"round {number}, in flight {level}: dnsperf -q {level} {ceiling:,.0f} q/s | DNS phase "
                  f"{results[level][1][-1]:,.0f} names/s ({phase.seconds:.2f} s, resolved {phase.successful:,}; "
                  f"{udp_drops(port) - dropped:,} queries dropped by the responder's full buffer)")
            b.done_round()
    for level in levels:
        ours, ceiling = statistics.median(results[level][1]), statistics.median(results[level][0])
        ideal = level / rtt
        print(f"in flight {level:>5}: {ours:>8,.0f} names/s = {ours / ideal:6.1%} of in_flight/RTT {ideal:,.0f}, "
              f"{ours / ceiling:6.1%} of dnsperf -q {level} {ceiling:,.0f} (goal >= {GOALS['delay']:.0%} of the lower: "
              f"{'met' if ours >= GOALS['delay'] * min(ideal, ceiling) else 'NOT met'})")


def scenario_growth(b: Bench, a: argparse.Namespace) -> None:
    sizes = [int(x) for x in a.sizes.split(",")]
    plan = [(r, size, b.names(f"g{size}r{r}", size)) for r in range(a.rounds) for size in sizes]
    port = b.nsd([names for _, _, names in plan], nx_every=10)
    b.driver.import_config({"dns_personas": [dns_persona(DNS_PERSONA, port, a.in_flight)]})
    b.driver.start_workers(a.workers, a.concurrency)
    costs: dict[int, list[float]] = {size: [] for size in sizes}
    longest, peak = (0.0, "-"), 0
    for number, size, names in plan:
        since = b.driver.now()
        b.driver.rss.take()
        root = b.generate(names, "--chain-dns-persona", DNS_PERSONA)
        run = b.driver.wait(root, 2, timeout=b.timeout(size) * 2, poll=0.5)
        dns = run.phase("dns_validation")
        tx, rss = b.driver.longest_transaction(since), b.driver.rss.take()
        longest, peak = max(longest, tx), max(peak, rss)
        costs[size].append(run.seconds / size * 1e6)
        print(f"round {number + 1}, {size:,} names: {run.seconds:.1f} s = {costs[size][-1]:.1f} us/name "
              f"(generation {run.phase('domain_generation').seconds:.1f} s, DNS {dns.seconds:.1f} s, resolved "
              f"{dns.successful:,} of {names.resolvable(10):,} expected) | longest transaction {tx[0]:,.0f} ms "
              f"({tx[1]}) | peak worker RSS {rss / 2**20:,.0f} MiB")
        b.done_round()
    cost = {size: statistics.median(values) for size, values in costs.items()}
    base = min(sizes)
    for size in sizes:
        print(f"{size:>12,} names: {cost[size]:8.1f} us/name = {cost[size] / cost[base]:.2f}x the {base:,}-name cost")
    worst = cost[max(sizes)] / min(cost[s] for s in sizes if s != max(sizes)) if len(sizes) > 1 else 1.0
    print(f"cost per name, largest vs the cheapest smaller size: {worst:.2f}x (goal <= {GOALS['growth']}x: "
          f"{'met' if worst <= GOALS['growth'] else 'NOT met'})")
    print(f"longest transaction: {longest[0]:,.0f} ms ({longest[1]}) (goal <= 2,000 ms: "
          f"{'met' if longest[0] <= 2000 else 'NOT met'}); peak worker RSS {peak / 2**20:,.0f} MiB")


def scenario_stream(b: Bench, a: argparse.Namespace) -> None:
    plan = [(b.names(f"s{r}a", a.names), b.names(f"s{r}b", a.names)) for r in range(a.rounds)]
    dns_port = b.nsd([n for pair in plan for n in pair], nx_every=10)
    nginx, port = start_nginx(b.tmp)
    b.servers.append(nginx)
    b.driver.import_config({"dns_personas": [dns_persona(DNS_PERSONA, dns_port, a.in_flight)], **HTTP_CONFIG})
    b.driver.start_workers(a.workers, a.concurrency)
    slowest, totals, firsts, floors, ratios = [], [], [], [], []
    limit = b.timeout(a.names)
    # Which statements PostgreSQL's CPU went to in each half, should a round's total be out of line.
    statements, by_statement = StatementCpu(b.driver.url), {}
    statements.start()

    def phases_alone(names: Names) -> tuple[list, list[dict[str, float]]]:
        readings, phases = [cpu_seconds()], []
        statements.take()  # not the previous round's clean-up
        for make, kind in ((b.gen_wait, "domain_generation"), (b.dns, "dns_validation"),
                           (lambda source: b.http(source, port), "http_keyword_validation")):
            phases.append(b.driver.wait(make(phases[-1].id if phases else names), 1, timeout=limit).phase(kind))
            readings.append(cpu_seconds())
        by_statement["alone"] = statements.take()
        return phases, readings

    def pipeline(names: Names) -> tuple:
        before = cpu_seconds()
        statements.take()
        root = b.generate(names, "--chain-dns-persona", DNS_PERSONA, "--chain-http-persona", HTTP_PERSONA,
                          "--chain-keyword-set", KEYWORDS, "--chain-port", str(port))
        run = b.driver.wait(root, 3, timeout=limit * 3)
        by_statement["pipeline"] = statements.take()
        return run, before, cpu_seconds()

    for number, (alone, chained) in enumerate(plan, 1):
        # Each half starts from the database as a wipe leaves it (no benchmark rows, vacuumed, checkpointed),
        # and every other round runs the pipeline first: the host's speed still favours one half or the other.
        if number % 2:
            (gen, dns, http), (before, after_gen, after_dns, between) = phases_alone(alone)
            b.done_round()
            run, piped_before, after = pipeline(chained)
        else:
            run, piped_before, after = pipeline(chained)
            b.done_round()
            (gen, dns, http), (before, after_gen, after_dns, between) = phases_alone(alone)
        slowest.append(max(p.seconds for p in (gen, dns, http)))
        totals.append(run.seconds)
        ratios.append(run.seconds / slowest[-1])
        firsts.append(run.first_http_s)
        print(f"round {number}{'' if number % 2 else ' (pipeline first)'}: alone generation {gen.seconds:.2f} s,"
              f" DNS {dns.seconds:.2f} s, HTTP {http.seconds:.2f} s"
              f" | pipeline {run.seconds:.2f} s, first HTTP result at {run.first_http_s:.2f} s, "
              f"HTTP successful {run.phase('http_keyword_validation').successful:,} | {ratios[-1]:.2f}x the slowest")
        print(f"  CPU, the three phases alone (with the waits between them): {spent(before, between)}")
        print(f"    generation {spent(before, after_gen)} | DNS {spent(after_gen, after_dns)} | "
              f"HTTP {spent(after_dns, between)}")
        print(f"  CPU, the pipeline: {spent(piped_before, after)}")
        print(f"  PostgreSQL by statement, alone: {top(by_statement['alone'])} | the pipeline: {top(by_statement['pipeline'])}")
        # Where the overlap went: what HTTP had done when DNS ended, and how fast its tail then ran alone.
        piped_http, dns_end = run.phase("http_keyword_validation"), run.phase("dns_validation").finished_at
        done = run.http_done_at(dns_end)
        tail_s = max((piped_http.finished_at - dns_end).total_seconds(), 0.001)  # HTTP ends after DNS feeds it
        one_after_another = gen.seconds + dns.seconds + http.seconds
        started = min(p.started_at for p in run.phases)
        print(f"  the pipeline: DNS ended at {(dns_end - started).total_seconds():.1f} s with {done:,} HTTP"
              f" results; the rest took {tail_s:.1f} s at {(piped_http.processed - done) / tail_s:,.0f} sites/s"
              f" (HTTP alone {http.processed / http.seconds:,.0f}); the phases one after another took"
              f" {one_after_another:.2f} s ({run.seconds / one_after_another:.2f}x)")
        # On these cores no schedule of the same work can take less than its CPU time divided by
        # the cores: the pipeline's floor, even if running the phases side by side cost nothing.
        alone_cpu, pipeline_cpu = used(before, between), used(piped_before, after)
        floors.append(alone_cpu / CORES / slowest[-1])
        # nginx answers the same requests in both with the same work: its CPU per request tells whether
        # the cores ran slower in one of them, the host's doing or the mix's (split at DNS's end below).
        nginx_alone = (between["nginx"] - after_dns["nginx"]) / max(http.processed, 1) * 1e6
        nginx_piped = (after["nginx"] - piped_before["nginx"]) / max(piped_http.processed, 1) * 1e6
        print(f"  the cores' speed: nginx used {nginx_alone:.1f} us of CPU per request in the HTTP phase alone, "
              f"{nginx_piped:.1f} us in the pipeline ({nginx_piped / max(nginx_alone, 1e-9):.2f}x)")
        if run.at_dns_end is not None:
            mid, done_mid = run.at_dns_end
            alone_http = (after_dns, between, http.processed)
            print(f"  around the end of DNS: {around(piped_before, mid, after, done_mid, piped_http.processed, alone_http)}")
        print(f"  floor: the phases' own {alone_cpu:.1f} CPU-s on {CORES} cores take at least {alone_cpu / CORES:.2f} s"
              f" = {floors[-1]:.2f}x the slowest phase; the pipeline used {pipeline_cpu:.1f} CPU-s"
              f" ({pipeline_cpu / alone_cpu:.2f}x), {pipeline_cpu / run.seconds:.2f} cores busy on average")
        b.done_round()
    statements.stop()
    first, total, slow = statistics.median(firsts), statistics.median(totals), statistics.median(slowest)
    ratio = statistics.median(ratios)
    print(f"first committed HTTP result: {first:.2f} s after start (goal <= {GOALS['stream_first_s']:g} s: "
          f"{'met' if first <= GOALS['stream_first_s'] else 'NOT met'})")
    # Each round's pipeline against that round's slowest phase: on a shared host the cores' speed
    # drifts over a run, and a ratio of two medians could pair figures from rounds minutes apart.
    # Both orders count alike (an even number of rounds by default): an order with a round more would
    # tilt the median towards whichever half, first or second, ran on slower cores or a busier database.
    piped_first = f"{statistics.median(ratios[1::2]):.2f}x" if len(ratios) > 1 else "-"
    print(f"pipeline vs slowest phase alone, round by round: {', '.join(f'{r:.2f}x' for r in ratios)}; median "
          f"{ratio:.2f}x (goal <= {GOALS['stream']}x: {'met' if ratio <= GOALS['stream'] else 'NOT met'}); "
          f"by order: the pipeline second {statistics.median(ratios[::2]):.2f}x, first {piped_first}; "
          f"medians {total:.2f} s vs {slow:.2f} s; floor {statistics.median(floors):.2f}x")


# Function, size, rounds: the stream's ratio moves by a tenth or more between rounds, so six, three of each
# order (docs/BENCHMARKS.md).
SCENARIOS = {"dns": (scenario_dns, 100_000, 3), "http": (scenario_http, 20_000, 3), "delay": (scenario_delay, 50_000, 3),
             "growth": (scenario_growth, 0, 3), "stream": (scenario_stream, 1_000_000, 6)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--names", type=int, help="names per campaign (default: the scenario's size from the issue)")
    parser.add_argument("--rounds", type=int, help="rounds (default: 6 for stream, 3 for the others)")
    parser.add_argument("--workers", type=int, default=2, help="run_worker processes")
    parser.add_argument("--concurrency", type=int, default=8, help="run_worker --concurrency (the product default is 8)")
    parser.add_argument("--in-flight", type=int, default=100, help="the nsd persona's max_in_flight")
    parser.add_argument("--dnsperf-q", type=int, default=100, help="dnsperf -q for the dns ceiling")
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--levels", default="100,1000,5000", help="delay: persona in-flight limits")
    parser.add_argument("--rtt-ms", type=float, default=50.0, help="delay: the responder's delay")
    parser.add_argument("--responder-processes", type=int, default=1, help="delay: responders sharing the port")
    parser.add_argument("--sizes", default="10000,100000,10000000", help="growth: names per pipeline")
    parser.add_argument("--keep", action="store_true", help="keep the campaigns (default: delete them)")
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        parser.error("set DATABASE_URL: the database the workers and the benchmark share")
    missing = [t for t in ("nsd", "nsd-checkconf", "dnsperf", "nginx", "wrk") if shutil.which(t) is None]
    if missing:
        print(f"missing {', '.join(missing)}: apt-get install -y nsd dnsperf nginx-light wrk")
        return 2
    scenario, default_names, default_rounds = SCENARIOS[args.scenario]
    args.names, args.rounds = args.names or default_names, args.rounds or default_rounds
    print(f"{args.scenario}: {os.cpu_count()} CPUs, {args.workers} x run_worker --concurrency {args.concurrency}, "
          f"{args.rounds} round(s)" + (f", {args.names:,} names" if args.names else f", sizes {args.sizes}"))
    with workdir() as tmp:
        bench = Bench(args, Path(tmp))
        try:
            scenario(bench, args)
        finally:
            bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
