from __future__ import annotations

import threading

import pytest
from django.db import DataError, connection, transaction

from tests.conftest import our_idle_in_transaction
from tests.support.threads import run_in_threads
from txmetrics import buffer
from txmetrics.decorators import safe_transaction
from txmetrics.errors import TransactionRetriesExhausted, TransactionTimeout
from txmetrics.models import TransactionMetric

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scratch_rows():
    """Two rows (ids 1 and 2, value 0) in a table of the test's own."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE txtest_row (id int PRIMARY KEY, value int NOT NULL)")
        cursor.execute("INSERT INTO txtest_row VALUES (1, 0), (2, 0)")
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE txtest_row")


def _value(row_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM txtest_row WHERE id = %s", [row_id])
        return cursor.fetchone()[0]


def test_serialization_failure_is_retried_and_both_increments_land(scratch_rows):
    both_read = threading.Barrier(2, timeout=10)
    attempts = {"a": 0, "b": 0}

    def increment(name: str):
        @safe_transaction(operation=f"test.increment.{name}", isolation="serializable")
        def body():
            attempts[name] += 1
            current = _value(1)
            if attempts[name] == 1:
                both_read.wait()  # both transactions have read before either writes
            with connection.cursor() as cursor:
                cursor.execute("UPDATE txtest_row SET value = %s WHERE id = 1", [current + 1])

        return body

    run_in_threads([increment("a"), increment("b")])

    assert _value(1) == 2
    buffer.flush()
    metrics = {m.operation: m for m in TransactionMetric.objects.all()}
    assert set(metrics) == {"test.increment.a", "test.increment.b"}
    retried = [m for m in metrics.values() if m.retry_count == 1]
    clean = [m for m in metrics.values() if m.retry_count == 0]
    assert len(retried) == 1 and len(clean) == 1
    assert retried[0].success and retried[0].sqlstate == "40001"
    assert retried[0].isolation_level == "serializable"
    assert clean[0].success and clean[0].sqlstate == ""
    assert sorted(attempts.values()) == [1, 2]


def test_deadlock_is_retried_and_both_callers_finish(scratch_rows):
    both_locked_first = threading.Barrier(2, timeout=10)
    attempts = {"ab": 0, "ba": 0}

    def lock_in_order(name: str, first: int, second: int):
        @safe_transaction(operation=f"test.lock.{name}")
        def body():
            attempts[name] += 1
            with connection.cursor() as cursor:
                cursor.execute("UPDATE txtest_row SET value = value + 1 WHERE id = %s", [first])
                if attempts[name] == 1:
                    both_locked_first.wait()
                cursor.execute("UPDATE txtest_row SET value = value + 1 WHERE id = %s", [second])

        return body

    run_in_threads([lock_in_order("ab", 1, 2), lock_in_order("ba", 2, 1)])

    assert (_value(1), _value(2)) == (2, 2)
    buffer.flush()
    metrics = list(TransactionMetric.objects.order_by("operation"))
    assert len(metrics) == 2 and all(m.success for m in metrics)
    assert sorted(m.retry_count for m in metrics) == [0, 1]
    assert {m.sqlstate for m in metrics if m.retry_count} == {"40P01"}


def test_non_retryable_error_is_raised_at_once_after_one_attempt(scratch_rows):
    calls = []

    @safe_transaction(operation="test.divide")
    def divide():
        calls.append(1)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE txtest_row SET value = 5 WHERE id = 1")
            cursor.execute("SELECT 1 / 0")

    with pytest.raises(DataError, match="division by zero"):
        divide()

    assert len(calls) == 1
    assert _value(1) == 0  # rolled back
    buffer.flush()
    metric = TransactionMetric.objects.get()
    assert (metric.operation, metric.success, metric.sqlstate, metric.retry_count) == ("test.divide", False, "22012", 0)
    assert "division by zero" in metric.error


def test_retryable_error_that_persists_gives_up_after_the_retries():
    calls = []

    @safe_transaction(operation="test.always_conflicts", retries=2)
    def always_conflicts():
        calls.append(1)
        with connection.cursor() as cursor:
            cursor.execute("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$")

    with pytest.raises(TransactionRetriesExhausted, match=r"test.always_conflicts: gave up after 3 attempts \(SQLSTATE 40001\)"):
        always_conflicts()

    assert len(calls) == 3
    buffer.flush()
    metric = TransactionMetric.objects.get()
    assert (metric.success, metric.sqlstate, metric.retry_count) == (False, "40001", 2)


def test_statement_longer_than_the_timeout_fails_with_a_clear_error():
    @safe_transaction(operation="test.slow", timeout_s=0.2)
    def slow():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(3)")

    with pytest.raises(TransactionTimeout, match=r"test.slow: a statement ran longer than 0.2s and was cancelled"):
        slow()

    buffer.flush()
    metric = TransactionMetric.objects.get()
    assert (metric.success, metric.sqlstate, metric.retry_count) == (False, "57014", 0)
    assert 150 <= metric.duration_ms < 3000


def test_every_call_leaves_exactly_one_metric_with_its_duration_and_campaign():
    @safe_transaction(operation="test.noop")
    def noop(*, campaign_id=None):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.05)")
        return "done"

    import uuid

    campaign_id = uuid.uuid4()
    assert [noop(campaign_id=campaign_id) for _ in range(3)] == ["done"] * 3

    buffer.flush()
    metrics = list(TransactionMetric.objects.all())
    assert len(metrics) == 3
    assert all(m.success and m.campaign_id == campaign_id and m.duration_ms >= 50 for m in metrics)


def test_python_exception_is_recorded_as_a_failure_and_rolls_back(scratch_rows):
    @safe_transaction(operation="test.python_error")
    def boom():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE txtest_row SET value = 9 WHERE id = 1")
        raise RuntimeError("nope")

    with pytest.raises(RuntimeError, match="nope"):
        boom()

    assert _value(1) == 0
    buffer.flush()
    metric = TransactionMetric.objects.get()
    assert (metric.success, metric.error) == (False, "RuntimeError: nope")


def test_read_only_transaction_refuses_writes_and_still_records_success(scratch_rows):
    @safe_transaction(operation="test.read", read_only=True)
    def read():
        return _value(1)

    @safe_transaction(operation="test.write_in_read_only", read_only=True)
    def write():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE txtest_row SET value = 1 WHERE id = 1")

    assert read() == 0
    with pytest.raises(Exception, match="read-only transaction"):
        write()
    buffer.flush()
    outcomes = dict(TransactionMetric.objects.values_list("operation", "success"))
    assert outcomes == {"test.read": True, "test.write_in_read_only": False}


def test_calling_inside_another_transaction_is_refused():
    @safe_transaction(operation="test.inner")
    def inner():
        return 1

    with pytest.raises(RuntimeError, match="durable"):
        with transaction.atomic():
            inner()


def test_no_session_is_left_idle_in_transaction(scratch_rows):
    @safe_transaction(operation="test.touch")
    def touch():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE txtest_row SET value = value + 1 WHERE id = 1")

    run_in_threads([touch for _ in range(8)])
    assert _value(1) == 8
    assert our_idle_in_transaction() == []
