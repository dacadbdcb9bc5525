"""PostgreSQL's CPU by statement: where a run's PostgreSQL time went, when its total is out of line.

Every tenth of a second pg_stat_activity says which statement each busy process is running, and
every half second /proc says how much CPU each PostgreSQL process has used. At take() each
process's CPU since the last take() is shared out among the statements it was seen running, in the
proportions it was seen running them (a process runs the same mix of statements over a run, and
most are too short for any one look to catch); a process never seen running one counts as "not
seen running a statement", and a server process (checkpointer, walwriter, …) as its kind. Rough for
short statements; a long or runaway one stands out.
"""
from __future__ import annotations

import re
import threading
from collections import Counter

import psycopg

from bench._cpu import TICK, process_stats

_LOOK_S = 0.1
_LOOKS_PER_WINDOW = 5
# Client backends while they run a statement; server processes always, by their kind.
_ACTIVITY_SQL = """
SELECT pid, CASE WHEN backend_type = 'client backend' THEN query ELSE backend_type END
FROM pg_stat_activity WHERE state = 'active' OR backend_type <> 'client backend'
"""


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds of every live PostgreSQL process, by pid."""
    return {pid: (int(fields[11]) + int(fields[12])) / TICK
            for pid, (comm, fields) in process_stats().items() if comm.startswith("postgres")}


def _head(text: str) -> str:
    return " ".join(re.sub(r"\s+", " ", text).strip().split(" ")[:4])[:60]


class StatementCpu:
    """Samples in a thread from start() to stop(); take() returns the CPU seconds by statement since the last take()."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self._cpu: Counter[int] = Counter()  # pid -> CPU seconds since the last take()
        self._seen: dict[int, Counter[str]] = {}  # pid -> how often it was seen running each statement
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def take(self) -> Counter[str]:
        spent: Counter[str] = Counter()
        with self._lock:
            cpu, self._cpu = self._cpu, Counter()
            seen, self._seen = self._seen, {}
        for pid, seconds in cpu.items():
            statements = seen.get(pid) or Counter({"not seen running a statement": 1})
            total = sum(statements.values())
            for head, times in statements.items():
                spent[head] += seconds * times / total
        return spent

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as db:
            me = db.execute("SELECT pg_backend_pid()").fetchone()[0]
            before = _postgres_cpu()
            looks = 0
            while not self._stop.wait(_LOOK_S):
                found = [(pid, _head(query)) for pid, query in db.execute(_ACTIVITY_SQL).fetchall() if pid != me]
                looks += 1
                now = _postgres_cpu() if looks % _LOOKS_PER_WINDOW == 0 else None
                with self._lock:
                    for pid, head in found:
                        self._seen.setdefault(pid, Counter())[head] += 1
                    for pid, seconds in (now or {}).items():
                        self._cpu[pid] += max(0.0, seconds - before.get(pid, 0.0))  # new since the last look: all of it
                before = now or before


def top(spent: Counter[str], count: int = 4) -> str:
    """'COPY campaigns_httpresult (campaign_id, 12.3 s, …; the rest 1.2 s'."""
    shown = spent.most_common(count)
    rest = sum(spent.values()) - sum(seconds for _, seconds in shown)
    return "; ".join(f"{head} {seconds:.1f} s" for head, seconds in shown) + f"; the rest {rest:.1f} s"
