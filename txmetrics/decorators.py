"""safe_transaction: one durable transaction per call, retried on conflicts, always measured."""
from __future__ import annotations

import logging
import random
import time
from functools import wraps
from typing import Any, Callable, TypeVar
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils import timezone

from txmetrics import buffer

from txmetrics.errors import TransactionRetriesExhausted, TransactionTimeout

logger = logging.getLogger("domainflow.txmetrics")

F = TypeVar("F", bound=Callable[..., Any])

SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"
LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"

ISOLATION_LEVELS = {"read committed", "repeatable read", "serializable"}
# The server went away (restart, terminated backend) or cannot be reached: nothing about the work.
CONNECTION_LOST = {"57P01", "57P02", "57P03"}

_INSERT_METRIC = (
    "INSERT INTO txmetrics_transactionmetric"
    " (operation, campaign_id, duration_ms, success, sqlstate, error, retry_count, isolation_level, created_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def sqlstate_of(exc: BaseException) -> str:
    """The SQLSTATE behind a (possibly Django-wrapped) database error, or ''."""
    seen: BaseException | None = exc
    while seen is not None:
        state = getattr(seen, "sqlstate", None)
        if state:
            return str(state)
        seen = seen.__cause__
    return ""


def connection_lost(exc: BaseException) -> bool:
    """Whether a database error means the connection (not the statement) failed.

    psycopg 3 reports a lost connection (a terminated backend, a restart, a refused connect, a
    closed connection used again) as an OperationalError; its InterfaceError (a closed cursor, an
    unexpected protocol state) is a fault of the program, which no reconnect would cure.
    """
    if not isinstance(exc, OperationalError):
        return False
    state = sqlstate_of(exc)
    return not state or state.startswith("08") or state in CONNECTION_LOST


def backoff_delay(attempt: int, *, base_s: float = 0.01, cap_s: float = 1.0) -> float:
    """Exponential backoff with full jitter: spreads retrying callers apart."""
    return random.uniform(0, min(cap_s, base_s * (2**attempt)))


def safe_transaction(
    *,
    operation: str,
    retries: int = 3,
    isolation: str | None = None,
    timeout_s: float = 30,
    read_only: bool = False,
    lock_timeout_s: float | None = None,
    campaign_of: Callable[[dict[str, Any]], object] | None = None,
    wait_for_flush: bool = True,
) -> Callable[[F], F]:
    """Run the function in one durable transaction, retrying conflicts, recording one metric.

    `operation` may name keyword arguments, e.g. "campaign.{transition}". The metric's
    campaign is `campaign_of(kwargs)`, or else the function's own `campaign_id` argument.
    A lost connection is retried on a new one (the function's work is all rolled back,
    and every worker write re-checks its lease, so a commit whose answer was lost is
    never applied twice). With wait_for_flush=False the commit does not wait for the WAL
    to reach disk (synchronous_commit off): a server crash may lose the last such
    transactions whole, never in part; only work that is redone when lost may use it.
    """
    if isolation is not None and isolation not in ISOLATION_LEVELS:
        raise ValueError(f"isolation must be one of {sorted(ISOLATION_LEVELS)}, not {isolation!r}")
    retryable = {SERIALIZATION_FAILURE, DEADLOCK_DETECTED}
    if lock_timeout_s is not None:
        # Only services that asked for a lock timeout treat "lock not available" as transient.
        retryable.add(LOCK_NOT_AVAILABLE)
    setup_sql = _setup_sql(
        isolation=isolation, read_only=read_only, timeout_s=timeout_s, lock_timeout_s=lock_timeout_s, wait_for_flush=wait_for_flush
    )
    # The connection's session default already is DOMAINFLOW_DB_STATEMENT_TIMEOUT_S: setting
    # it again would cost a round trip on every call for nothing.
    needs_setup = bool(isolation or read_only or lock_timeout_s is not None or not wait_for_flush) or (
        timeout_s != settings.DOMAINFLOW_DB_STATEMENT_TIMEOUT_S
    )

    def decorate(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            campaign_id = campaign_of(kwargs) if campaign_of is not None else kwargs.get("campaign_id")
            name = operation.format(**kwargs) if "{" in operation else operation
            started = time.perf_counter()
            attempt = 0
            last_state = ""  # the SQLSTATE that caused the latest retry, kept on success too
            while True:
                try:
                    with transaction.atomic(durable=True):
                        if needs_setup:
                            with connection.cursor() as cursor:
                                cursor.execute(setup_sql)
                        result = fn(*args, **kwargs)
                    # Committed: the success metric joins the buffer (see txmetrics.buffer for why).
                    buffer.add(_row(name, campaign_id, started, True, last_state, "", attempt, isolation))
                    return result
                except DatabaseError as exc:
                    state = sqlstate_of(exc)
                    if connection_lost(exc) and attempt < retries and not connection.in_atomic_block:
                        attempt += 1
                        last_state = state or "08000"
                        connection.close()
                        time.sleep(backoff_delay(attempt, base_s=0.05, cap_s=2.0))
                        continue
                    if state in retryable and attempt < retries:
                        attempt += 1
                        last_state = state
                        time.sleep(backoff_delay(attempt))
                        continue
                    _record_outside(name, campaign_id, started, False, state, str(exc), attempt, isolation)
                    if state == QUERY_CANCELED:
                        raise TransactionTimeout(name, timeout_s) from exc
                    if state in retryable:
                        raise TransactionRetriesExhausted(name, attempt + 1, state) from exc
                    raise
                except BaseException as exc:
                    _record_outside(name, campaign_id, started, False, "", _describe(exc), attempt, isolation)
                    raise

        wrapper.operation = operation  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _setup_sql(
    *, isolation: str | None, read_only: bool, timeout_s: float, lock_timeout_s: float | None, wait_for_flush: bool
) -> str:
    """One round trip that configures the transaction before the function's first statement."""
    statements = []
    modes = []
    if isolation:
        modes.append(f"ISOLATION LEVEL {isolation.upper()}")
    if read_only:
        modes.append("READ ONLY")
    if modes:
        statements.append("SET TRANSACTION " + " ".join(modes))
    statements.append(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}")
    if lock_timeout_s is not None:
        statements.append(f"SET LOCAL lock_timeout = {int(lock_timeout_s * 1000)}")
    if not wait_for_flush:
        statements.append("SET LOCAL synchronous_commit = off")
    return "; ".join(statements)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _row(
    operation: str,
    campaign_id: UUID | str | None,
    started: float,
    success: bool,
    sqlstate: str,
    error: str,
    retry_count: int,
    isolation: str | None,
) -> tuple[Any, ...]:
    duration_ms = (time.perf_counter() - started) * 1000
    campaign = str(campaign_id) if campaign_id is not None else None
    return (operation, campaign, duration_ms, success, sqlstate, error[:2000], retry_count, isolation or "read committed", timezone.now())


def _record(*args: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_METRIC, list(_row(*args)))


def _record_outside(*args: Any) -> None:
    """Record a failure at once, after the rollback, so it is never lost with the transaction.

    With the database out of reach the failure cannot be recorded, and that is not logged here:
    the caller's own error says so (a worker logs one line per outage, not one per transaction)."""
    try:
        _record(*args)
        return
    except DatabaseError as exc:
        error = exc
    # The connection itself may be what failed (a terminated backend): reconnect once.
    if not connection.in_atomic_block:
        connection.close()
        try:
            _record(*args)
            return
        except DatabaseError as exc:
            error = exc
    if not connection_lost(error):
        logger.warning("could not record transaction metric for %s", args[0], exc_info=error)
