"""connection_lost: which errors of a real connection mean the connection failed, not the statement."""
from __future__ import annotations

import pytest
from django.db import DatabaseError, Error, InterfaceError, connection

from tests.support.waits import raw_connection
from txmetrics.decorators import connection_lost

pytestmark = pytest.mark.django_db(transaction=True)


def _error_of(sql: str) -> Error:
    with pytest.raises(Error) as caught:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    return caught.value


def test_a_terminated_backend_and_the_closed_connection_after_it_are_lost_connections():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with raw_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    terminated = _error_of("SELECT 1")
    again = _error_of("SELECT 1")  # the same, now closed, connection
    connection.close()
    assert isinstance(terminated, DatabaseError) and connection_lost(terminated), terminated
    assert isinstance(again, DatabaseError) and connection_lost(again), again


def test_a_statement_error_and_a_closed_cursor_are_not_lost_connections():
    failed = _error_of("SELECT 1 / 0")
    cursor = connection.cursor()
    cursor.close()
    with pytest.raises(InterfaceError) as closed:
        cursor.execute("SELECT 1")
    assert not connection_lost(failed)
    # A closed cursor is the program's fault: a worker must let it fail the batch, not wait for
    # the database to come back (its callers catch DatabaseError, which InterfaceError is not).
    assert not connection_lost(closed.value)
    with connection.cursor() as fresh:  # and the connection itself still works
        fresh.execute("SELECT 1")
        assert fresh.fetchone() == (1,)
