"""Waiting in tests: for a condition, and for a session stuck on a lock; a connection of the test's own."""
from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
import pytest
from django.db import connection


def wait_for(condition: Callable[[], bool], *, timeout_s: float = 20, what: str) -> None:
    """Poll `condition` every 10 ms; fail the test naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def raw_connection() -> psycopg.Connection:
    """A connection of the test's own, outside Django (for locks and pg_terminate_backend)."""
    return psycopg.connect(**connection.get_connection_params(), autocommit=True)


def waiting_on_a_lock(table: str) -> bool:
    """Whether a session of this database waits on a lock in a statement naming `table`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE %s",
            [f"%{table}%"],
        )
        return cursor.fetchone()[0] > 0
