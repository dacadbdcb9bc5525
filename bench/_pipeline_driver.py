"""bench/pipeline.py's side of DomainFlow: the command line (`manage.py ...`) and plain SQL on campaigns_campaign.

Nothing here imports the product, so the benchmark keeps working while its internals change.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench._cpu import cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
OWNER = "pipeline-bench"
ENDED = ("completed", "failed", "cancelled")
# The tables whose rows reference their campaign without a constraint (so pg_constraint misses them).
BULK_TABLES = ("campaigns_generateddomain", "campaigns_dnsresult", "campaigns_httpresult")
PHASE_ORDER = ("domain_generation", "dns_validation", "http_keyword_validation")
# The phases below a campaign, found at poll time through source_campaign_id (however and whenever they are created).
CHAIN_SQL = """
WITH RECURSIVE chain AS (
    SELECT id, campaign_type, status, started_at, finished_at, processed_items, successful_items, total_items,
           error_message FROM campaigns_campaign WHERE id = %s
    UNION ALL
    SELECT c.id, c.campaign_type, c.status, c.started_at, c.finished_at, c.processed_items, c.successful_items,
           c.total_items, c.error_message FROM campaigns_campaign c JOIN chain ON c.source_campaign_id = chain.id
)
SELECT *, clock_timestamp() AS now FROM chain
"""


@dataclass
class Phase:
    id: str
    type: str
    status: str
    started_at: object
    finished_at: object
    processed: int
    successful: int
    total: int
    error: str

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


@dataclass
class Run:
    """One timed product run: its phases as they ended, when the first HTTP result was seen, the
    HTTP phase's progress at each poll (database time, results so far), and the CPU used so far
    (bench/_cpu.py) with the HTTP results then, at the first poll that saw the DNS phase ended."""

    phases: list[Phase]
    first_http_s: float | None = None
    http_progress: list[tuple[object, int]] = field(default_factory=list)
    at_dns_end: tuple[dict[str, float], int] | None = None

    def phase(self, kind: str) -> Phase:
        return next(p for p in self.phases if p.type == kind)

    def http_done_at(self, moment) -> int:  # type: ignore[no-untyped-def]
        """The HTTP results committed by `moment` (as last seen before it)."""
        return max((done for seen, done in self.http_progress if seen <= moment), default=0)

    @property
    def seconds(self) -> float:
        return (max(p.finished_at for p in self.phases) - min(p.started_at for p in self.phases)).total_seconds()


@dataclass
class Names:
    """The names one generation campaign yields: digits(i, width) + '.' + tld for i in 0..count-1.

    Generation with pattern=prefix, charset 0-9, prefix_length=width and constant "" walks the
    offsets in order, and a fresh TLD means a fresh pool, so these are exactly its names.
    """

    tld: str
    count: int
    width: int = field(init=False)

    def __post_init__(self) -> None:
        self.width = max(1, math.ceil(math.log10(self.count)))

    def name(self, index: int) -> str:
        return f"{index:0{self.width}d}.{self.tld}"

    def generation_flags(self) -> list[str]:
        return ["--type", "domain_generation", "--pattern", "prefix", "--charset", "0123456789", "--constant", "",
                "--prefix-length", str(self.width), "--tld", self.tld, "--count", str(self.count)]

    def resolvable(self, nx_every: int) -> int:
        """How many of the names write_zone gives an A record."""
        return self.count - (self.count // nx_every if nx_every else 0)


def write_zone(path: Path, origin: str, all_names: list[Names], *, nx_every: int) -> None:
    """Every name -> 127.0.0.1, except each nx_every-th (index % nx_every == nx_every - 1): NXDOMAIN."""
    with open(path, "w") as zone:
        zone.write(f"$ORIGIN {origin}.\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 300\n@ IN NS ns\nns IN A 127.0.0.1\n")
        for names in all_names:
            relative = names.tld.removesuffix("." + origin)
            for start in range(0, names.count, 100_000):
                zone.write("".join(
                    f"{i:0{names.width}d}.{relative} IN A 127.0.0.1\n"
                    for i in range(start, min(start + 100_000, names.count))
                    if not nx_every or i % nx_every != nx_every - 1))


class Driver:
    def __init__(self, database_url: str, workdir: Path) -> None:
        self.url = database_url
        self.workdir = workdir
        self.env = {**os.environ, "DATABASE_URL": database_url, "DOMAINFLOW_ALLOW_PRIVATE_TARGETS": "1"}
        self.db = psycopg.connect(database_url, autocommit=True)
        self.created: list[str] = []
        self.workers: list[subprocess.Popen] = []
        self.rss = RssPeak()

    # --- the command line -------------------------------------------------------------------------------
    def manage(self, *args: str, want_json: bool = True) -> dict:
        command = [sys.executable, str(ROOT / "manage.py"), *args] + (["--json"] if want_json else [])
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args[:3])} … failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return json.loads(done.stdout.strip().splitlines()[-1]) if want_json else {}

    def ensure_owner(self) -> None:
        found = self.db.execute("SELECT 1 FROM auth_user WHERE username = %s", (OWNER,)).fetchone()
        if not found:
            self.manage("createsuperuser", "--noinput", "--username", OWNER, "--email", "bench@example.invalid",
                        want_json=False)

    def import_config(self, document: dict) -> None:
        path = self.workdir / "config.json"
        path.write_text(json.dumps({"version": 1, **document}))
        self.manage("import_config", str(path))

    def create(self, name: str, *flags: str) -> str:
        out = self.manage("create_campaign", "--name", name, "--owner", OWNER, *flags, "--start")
        self.created.append(out["id"])
        return out["id"]

    def status(self, campaign_id: str) -> dict:
        return self.manage("campaign_status", campaign_id)

    # --- workers ----------------------------------------------------------------------------------------
    def start_workers(self, count: int, concurrency: int) -> None:
        for number in range(count):
            log = open(self.workdir / f"worker-{len(self.workers) + number}.log", "wb")
            self.workers.append(subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "run_worker", "--concurrency", str(concurrency)],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        self.rss.watch([w.pid for w in self.workers])
        time.sleep(3)  # let them import Django and reach their claiming loop before anything is timed
        for worker in self.workers:
            if worker.poll() is not None:
                raise SystemExit(f"run_worker exited {worker.returncode}; see {self.workdir}/worker-*.log")

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
        self.workers.clear()
        self.rss.stop()

    # --- the database -----------------------------------------------------------------------------------
    def chain(self, root_id: str) -> tuple[list[Phase], object]:
        rows = self.db.execute(CHAIN_SQL, (root_id,)).fetchall()
        phases = [Phase(str(r[0]), *r[1:9]) for r in rows]
        phases.sort(key=lambda p: PHASE_ORDER.index(p.type))
        return phases, rows[0][-1]

    def wait(self, root_id: str, phases: int, *, timeout: float, poll: float = 0.1) -> Run:
        """Poll until `phases` phases from root_id have ended; note when an HTTP phase first has results."""
        deadline = time.monotonic() + timeout
        first_http = at_dns_end = None
        progress: list[tuple[object, int]] = []
        while True:
            found, now = self.chain(root_id)
            self.created.extend(p.id for p in found if p.id not in self.created)
            for p in found:
                if p.status in ("failed", "cancelled"):
                    raise SystemExit(f"{p.type} campaign {p.id} ended {p.status}: {p.error}")
            http = [p for p in found if p.type == "http_keyword_validation"]
            if http:
                progress.append((now, http[0].processed))
            if first_http is None and http and http[0].processed > 0:
                first_http = (now - min(p.started_at for p in found if p.started_at)).total_seconds()
            if at_dns_end is None and http and any(p.type == "dns_validation" and p.status in ENDED for p in found):
                at_dns_end = (cpu_seconds(), http[0].processed)
            if len(found) >= phases and all(p.status in ENDED for p in found):
                return Run(found, first_http, progress, at_dns_end)
            if time.monotonic() > deadline:
                raise SystemExit(f"campaign {root_id} not done after {timeout:.0f} s: "
                                 + ", ".join(f"{p.type} {p.status} {p.processed}/{p.total}" for p in found))
            time.sleep(poll)

    def longest_transaction(self, since) -> tuple[float, str]:
        time.sleep(2)  # success metrics are buffered for up to a second
        row = self.db.execute(
            "SELECT duration_ms, operation FROM txmetrics_transactionmetric WHERE created_at >= %s "
            "ORDER BY duration_ms DESC LIMIT 1", (since,)).fetchone()
        return (row[0], row[1]) if row else (0.0, "-")

    def now(self):
        return self.db.execute("SELECT clock_timestamp()").fetchone()[0]

    def wipe(self) -> None:
        """Delete the campaigns this run created (and the rows that point at them), nothing else."""
        if not self.created:
            return
        ids = [r[0] for r in self.db.execute(
            "WITH RECURSIVE t AS (SELECT id FROM campaigns_campaign WHERE id = ANY(%s::uuid[]) "
            "UNION SELECT c.id FROM campaigns_campaign c JOIN t ON c.source_campaign_id = t.id) SELECT id FROM t",
            (self.created,)).fetchall()]
        children = self.db.execute(
            "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c JOIN pg_attribute a "
            "ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] WHERE c.contype = 'f' "
            "AND c.confrelid = 'campaigns_campaign'::regclass AND c.conrelid <> c.confrelid").fetchall()
        children += [(table, "campaign_id") for table in BULK_TABLES]
        with self.db.transaction():
            self.db.execute("SET CONSTRAINTS ALL DEFERRED")
            for table, column in children:
                self.db.execute(f'DELETE FROM {table} WHERE "{column}" = ANY(%s)', (ids,))
            self.db.execute("DELETE FROM campaigns_campaign WHERE id = ANY(%s)", (ids,))
        self.created.clear()
        self.vacuum(sorted({table for table, _ in children} | {"campaigns_campaign"}))

    def vacuum(self, tables: Iterable[str] = BULK_TABLES) -> None:
        """VACUUM the tables, then CHECKPOINT, so that the next round finds them as vacuum leaves
        them after a wipe (the run's first round too).

        Where autovacuum is off (or has not come round yet) a wipe leaves millions of dead rows behind,
        and each later round writes into ever larger tables: generating names cost PostgreSQL about half
        as much again beside 43 million dead rows as in a fresh database. What the deletes and the
        vacuum wrote is flushed by the checkpoint, not by one that WAL volume requests in the middle
        of what is timed next."""
        for table in tables:
            self.db.execute(f"VACUUM {table}")
        self.db.execute("CHECKPOINT")


class RssPeak:
    """Samples VmRSS of the given pids every 0.2 s; `take()` returns the largest one since the last take."""

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.peak = 0
        self.running = False

    def watch(self, pids: list[int]) -> None:
        self.pids, self.peak, self.running = pids, 0, True
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while self.running:
            largest = 0
            for pid in self.pids:
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            largest = max(largest, int(line.split()[1]) * 1024)
                except OSError:
                    pass
            self.peak = max(self.peak, largest)
            time.sleep(0.2)

    def take(self) -> int:
        peak, self.peak = self.peak, 0
        return peak

    def stop(self) -> None:
        self.running = False


def workdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="bench-pipeline-")
