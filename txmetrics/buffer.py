"""Buffered recording of successful transactions' metrics.

A success metric written inside every transaction costs more than a short
transaction itself (one more INSERT on the commit path). Successes are
therefore collected in memory and written with one COPY when
DOMAINFLOW_TXMETRICS_FLUSH_ROWS have gathered, every
DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S from a background thread, when a report
is read, and at exit. One write runs at a time, so a report or the exit waits
for a write already under way on another thread instead of finding the queue
empty while those rows are not yet committed. A process killed outright loses
at most that window of success metrics; failures never wait here (see
decorators._record_failure).
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
from typing import Any

import psycopg
from django.conf import settings
from django.db import DatabaseError, connection

logger = logging.getLogger("domainflow.txmetrics")

_COPY_SQL = (
    "COPY txmetrics_transactionmetric"
    " (operation, campaign_id, duration_ms, success, sqlstate, error, retry_count, isolation_level, created_at)"
    " FROM STDIN"
)

# A write taking longer than this at exit (a database that does not answer)
# is given up, so a stopping worker does not hang on its metrics.
_EXIT_WAIT_S = 10.0

_lock = threading.Lock()
_writing = threading.Lock()
_rows: list[tuple[Any, ...]] = []
_oldest: float | None = None
_timer: threading.Thread | None = None


def add(row: tuple[Any, ...]) -> None:
    """Queue one metric row; write the queue out when it is full (unless a write is under way)."""
    global _oldest
    with _lock:
        _rows.append(row)
        if _oldest is None:
            _oldest = time.monotonic()
        full = len(_rows) >= settings.DOMAINFLOW_TXMETRICS_FLUSH_ROWS
    _ensure_timer()
    # A thread that fills the queue while another writes leaves it for the next call: the threads
    # recording metrics are the worker's own, which must not wait for another thread's COPY.
    if full:
        _write(wait_s=0)


def flush() -> int:
    """Write every queued row now, on this thread's connection; returns how many.

    A write under way on another thread is waited for first, so that its rows
    too are committed when this returns.
    """
    with _writing:
        return _write_queued()


def _write(*, wait_s: float) -> int | None:
    """flush() that waits at most `wait_s` seconds (0: not at all) for a write under way on another
    thread; None if that write is still under way then, and nothing was written."""
    if not _writing.acquire(timeout=wait_s):
        return None
    try:
        return _write_queued()
    finally:
        _writing.release()


def _write_queued() -> int:
    global _rows, _oldest
    with _lock:
        rows, _rows, _oldest = _rows, [], None
    if not rows:
        return 0
    try:
        with connection.cursor() as cursor:
            with cursor.cursor.copy(_COPY_SQL) as copy:
                for row in rows:
                    copy.write_row(row)
    except (DatabaseError, psycopg.Error) as exc:  # the COPY runs on psycopg's cursor: its errors are not Django's
        # One line: during an outage the worker's own log says what happened, once.
        logger.warning("could not write %d transaction metrics: %s", len(rows), " ".join(str(exc).split()))
        if not connection.in_atomic_block:
            connection.close()
        return 0
    return len(rows)


def pending() -> int:
    with _lock:
        return len(_rows)


def discard() -> None:
    """Forget queued rows (tests start from a clean slate)."""
    global _rows, _oldest
    with _lock:
        _rows, _oldest = [], None


def _due() -> bool:
    with _lock:
        return _oldest is not None and time.monotonic() - _oldest >= settings.DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S


def _ensure_timer() -> None:
    global _timer
    if _timer is not None or settings.DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S <= 0:
        return
    with _lock:
        if _timer is None:
            _timer = threading.Thread(target=_run_timer, name="txmetrics-flush", daemon=True)
            _timer.start()


def _run_timer() -> None:
    global _timer
    try:
        while settings.DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S > 0:
            time.sleep(min(settings.DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S, 1.0) / 2)
            if _due():
                flush()
                # Never hold a connection between flushes: a quiet process keeps none open.
                connection.close()
    finally:
        _timer = None


@atexit.register
def _flush_at_exit() -> None:
    try:
        written = _write(wait_s=_EXIT_WAIT_S)
    except Exception:  # noqa: BLE001 - exiting; nothing else can be done with them
        logger.warning("transaction metrics lost at exit", exc_info=True)
        return
    if written is None:
        logger.warning("transaction metrics lost at exit: a write under way did not finish in %g s", _EXIT_WAIT_S)
