"""Fetching a batch: network on the event loop, page analysis in a process-wide pool, bytes bounded.

Analysing a page (decoding, HTML parsing, keyword matching) is CPU work; run on the event loop, a
large page's would delay every other domain's reads past their deadlines. Pages larger than
LOOP_PAGE_BYTES are analysed instead in one pool per process, created on first use and shared by
every batch, also by several fetch_many calls running at once on one loop; smaller ones, whose
analysis costs about what handing them to the pool's thread and back costs, on the loop, together
at the end of the turn in which they arrived. Each domain's deadline covers its own network time
only. The pool has one thread (docs/DECISIONS.md has the measurements).

Pages wait for analysis with their bodies in memory, so the decompressed bytes a process holds are
bounded by a byte budget, also process-wide: a fetch reserves its persona's max_body_bytes before
it starts and gives it back once its page is analysed. A fetch waiting for budget has not started,
so the wait never counts against its deadline.
"""
from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from campaigns.http.client import Client
from campaigns.http.config import FetchTarget, HttpOutcome, HttpPersonaConfig
from campaigns.http.connections import ConnectionPool
from campaigns.http.heap import keep_heap_top
from campaigns.http.lending import Borrower, Lenders, Loan
from campaigns.http.pages import Analysis, Page, analyse_group
from campaigns.http.proxies import ProxyPool
from campaigns.keywords import CompiledRule

# 256 MiB: 50 fetches in flight at the default 1 MiB cap use a fifth of it; a persona at the
# 8 MiB maximum still gets 32 fetches in flight.
DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024 * 1024
# Pages up to this size are analysed on the event loop: about 0.2 ms of it for an ordinary 8 KiB
# page, 0.5 ms for one of nothing but tags. In the analysis thread, each group of them and every
# lock release inside their analysis passes the interpreter lock to and from the loop's thread,
# which makes the loop's own system calls dearer: a DNS phase running beside the HTTP phase in a
# worker paid most of it (docs/DECISIONS.md, "Small pages are analysed on the loop").
LOOP_PAGE_BYTES = 8 * 1024


class ByteBudget:
    """Bytes reserved by fetches across every loop and thread of the process, at most `limit`.

    A reservation larger than the limit is granted when nothing else is reserved, so it cannot
    wait forever. Waiters are served in order.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.reserved = 0
        self._lock = threading.Lock()
        self._waiters: deque[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    async def acquire(self, size: int) -> None:
        with self._lock:
            if not self._waiters and self._fits(size):
                self.reserved += size
                return
            loop = asyncio.get_running_loop()
            granted: asyncio.Future[None] = loop.create_future()
            self._waiters.append((size, loop, granted))
        try:
            await granted
        except asyncio.CancelledError:
            with self._lock:
                if granted.done() and not granted.cancelled():
                    self.reserved -= size  # granted just as it was cancelled: give it back
                self._waiters = deque(w for w in self._waiters if w[2] is not granted)
                self._grant()
            raise

    def release(self, size: int) -> None:
        with self._lock:
            self.reserved -= size
            self._grant()

    def _fits(self, size: int) -> bool:
        return self.reserved + size <= self.limit or self.reserved == 0

    def _grant(self) -> None:
        if not self._waiters:
            return
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        while self._waiters and self._fits(self._waiters[0][0]):
            size, loop, granted = self._waiters.popleft()
            if granted.done():
                continue
            self.reserved += size
            if loop is here:  # released on the waiter's own loop: no wake-up through its self-pipe
                granted.set_result(None)
            else:
                loop.call_soon_threadsafe(_set_granted, granted)


def _set_granted(granted: asyncio.Future[None]) -> None:
    if not granted.done():
        granted.set_result(None)


_lock = threading.Lock()
_budgets: dict[int, ByteBudget] = {}
_pool: ThreadPoolExecutor | None = None
# One thread: the threads of a process share one interpreter lock, so a second analysis thread
# only adds lexbor's lock-free parsing, and costs more in lock hand-offs with the event loop than
# that (measured, docs/DECISIONS.md); more cores are used by more worker processes. Set it
# before the first fetch to measure another size.
analysis_threads = 1


def analysis_workers() -> int:
    """Threads in the analysis pool."""
    return analysis_threads


def analysis_pool() -> ThreadPoolExecutor:
    """The process-wide analysis pool, created on first use (with the heap kept for its documents)."""
    global _pool
    with _lock:
        if _pool is None:
            keep_heap_top()
            _pool = ThreadPoolExecutor(max_workers=analysis_workers(), thread_name_prefix="http-analysis")
        return _pool


def shutdown_analysis_pool() -> None:
    """Stop the analysis pool's threads (a later fetch starts a new pool)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True)


def byte_budget(limit: int) -> ByteBudget:
    """The process-wide budget for `limit` bytes (one per distinct limit; settings give one)."""
    with _lock:
        return _budgets.setdefault(limit, ByteBudget(limit))


async def fetch_many(
    targets: Sequence[FetchTarget],
    *,
    persona: HttpPersonaConfig,
    rules: Sequence[CompiledRule],
    adhoc_keywords: Sequence[str] = (),
    ports: Sequence[int] = (443, 80),
    tls_ports: Sequence[int] = (443, 8443),
    proxies: ProxyPool | None = None,
    retries: int = 1,
    max_in_flight: int = 50,
    allow_private: bool = False,
    ca_file: str | None = None,
    max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES,
    connections: ConnectionPool | None = None,
    lenders: Lenders | None = None,
    on_all_taken: Callable[[], None] | None = None,
) -> list[HttpOutcome]:
    """Fetch every target (at most `max_in_flight` at once); outcomes in the order of `targets`.

    Connections come from `connections` and are left there for later batches; without one, the
    batch opens a pool of its own and closes it before returning. With `lenders`, idle lanes may
    lend the batch more fetchers while it runs (lending.py). `on_all_taken` is called once every
    target went to a fetcher, while the last pages are still fetched and analysed.
    """
    if not ports or any(not 1 <= port <= 65535 for port in ports):
        raise ValueError(f"ports must be a non-empty list of 1-65535, got {list(ports)}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
    if max_buffered_bytes < 1:
        raise ValueError(f"max_buffered_bytes must be >= 1, got {max_buffered_bytes}")
    targets = list(targets)
    if not targets:
        return []
    results: list[HttpOutcome | None] = [None] * len(targets)
    analysis = Analysis.of(persona, rules, adhoc_keywords)
    budget = byte_budget(max_buffered_bytes)
    reserve = persona.max_body_bytes
    loop = asyncio.get_running_loop()
    pool = analysis_pool()
    # Fetched pages queue here and go to the pool in groups: a group is whatever arrived while the
    # previous ones were being analysed, at most one group per pool thread out at a time. Waiting
    # for a group to fill would analyse in longer bursts, which holds the interpreter lock away
    # from the loop for longer (measured slower; docs/DECISIONS.md).
    waiting: list[tuple[int, Page]] = []
    on_loop: list[tuple[int, Page]] = []  # small pages, analysed together at the end of the loop's turn
    out: set[asyncio.Future[list[HttpOutcome]]] = set()
    all_analysed = asyncio.Event()
    all_analysed.set()
    taken = 0  # targets given to a fetcher so far
    stopping = False  # cancelled or failed: no more groups go to the pool

    def submit() -> None:
        group = waiting.copy()
        waiting.clear()
        future = loop.run_in_executor(pool, analyse_group, [page for _, page in group], analysis)
        out.add(future)
        all_analysed.clear()
        future.add_done_callback(lambda done: analysed(group, done))

    def analysed(group: list[tuple[int, Page]], done: asyncio.Future[list[HttpOutcome]]) -> None:
        out.discard(done)
        budget.release(reserve * len(group))
        if not done.cancelled() and done.exception() is None:
            for (index, _), outcome in zip(group, done.result()):
                results[index] = outcome
        if waiting and not stopping:
            submit()
        elif not out and not waiting and not on_loop:
            all_analysed.set()

    def analyse_on_loop() -> None:
        """Analyse the small pages that arrived during this turn of the loop, one after another."""
        group = on_loop.copy()
        on_loop.clear()
        for (index, _), outcome in zip(group, analyse_group([page for _, page in group], analysis)):
            results[index] = outcome
        budget.release(reserve * len(group))
        if not out and not waiting:
            all_analysed.set()

    async def worker(loan: Loan | None = None) -> None:
        nonlocal taken
        while taken < len(targets) and (loan is None or loan.borrower is borrower):
            index = taken
            taken += 1
            if taken == len(targets):
                all_taken()
            await budget.acquire(reserve)
            try:
                fetched = await client.fetch(targets[index])
            except BaseException:
                budget.release(reserve)
                raise
            if isinstance(fetched, HttpOutcome):
                budget.release(reserve)
                results[index] = fetched
                continue
            if len(fetched.body) <= LOOP_PAGE_BYTES:
                if not on_loop:
                    all_analysed.clear()
                    loop.call_soon(analyse_on_loop)
                on_loop.append((index, fetched))
                continue
            waiting.append((index, fetched))
            if len(out) < analysis_workers():
                submit()

    # The pool (when the batch opens its own) and the client's timer are released in the finally below.
    own_connections = connections is None
    if connections is None:
        connections = ConnectionPool(max_idle=max(8, max_in_flight))
    client = Client(persona=persona, ports=ports, tls_ports=tls_ports, proxies=proxies, retries=retries,
                    allow_private=allow_private, ca_file=ca_file, connections=connections)

    def start_fetchers(count: int, loan: Loan | None = None) -> None:
        # The pool keeps an idle connection for each fetcher until the batch ends (connections.py):
        # when a batch hands out its last site, its lent fetchers stop before the next batch's
        # start, and their connections wait in the pool meanwhile.
        connections.fetchers += count
        workers.extend(loop.create_task(worker(loan)) for _ in range(count))

    workers: list[asyncio.Task[None]] = []
    start_fetchers(min(max_in_flight, len(targets)))
    borrower = Borrower(allowance=max_in_flight, left=lambda: len(targets) - taken,
                        spawn=lambda loan: start_fetchers(max_in_flight, loan))

    def all_taken() -> None:
        if lenders is not None:
            lenders.exhausted(borrower)
        if on_all_taken is not None:
            on_all_taken()

    if lenders is not None:
        lenders.join(borrower)
    try:
        while running := [task for task in workers if not task.done()]:  # loans add workers meanwhile
            await asyncio.gather(*running)
        await all_analysed.wait()
    except BaseException:
        # A group that finished just before this has its callback still to run: it must not hand
        # the waiting pages to the pool, whose group would outlive the batch and its bytes with it.
        stopping = True
        for task in (*workers, *out):
            task.cancel()
        # Small pages waiting for the turn's end are analysed, and their bytes released, during this
        # wait: analyse_on_loop was scheduled before it, and the loop runs its callbacks in order.
        await asyncio.gather(*workers, *out, return_exceptions=True)
        budget.release(reserve * len(waiting))  # pages never handed to the pool
        waiting.clear()
        raise
    finally:
        if lenders is not None:
            lenders.leave(borrower)
        borrower.close()
        connections.fetchers -= len(workers)
        client.close()
        if own_connections:
            await connections.aclose()
    return results  # type: ignore[return-value]
