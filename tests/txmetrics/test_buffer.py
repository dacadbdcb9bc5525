from __future__ import annotations

import contextlib
import subprocess
import sys
import time

import pytest
from django.db import connection

from tests.support.processes import MANAGE, worker_env
from tests.support.waits import raw_connection, wait_for, waiting_on_a_lock
from txmetrics import buffer
from txmetrics.decorators import safe_transaction
from txmetrics.models import TransactionMetric
from txmetrics.report import performance_stats


@safe_transaction(operation="test.buffered")
def succeed(*, campaign_id=None):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


@safe_transaction(operation="test.failing")
def fail():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 / 0")


@pytest.mark.django_db
def test_successes_wait_in_the_buffer_while_failures_are_written_at_once():
    succeed()
    with pytest.raises(Exception, match="division by zero"):
        fail()

    assert list(TransactionMetric.objects.values_list("operation", "success")) == [("test.failing", False)]
    assert buffer.pending() == 1
    assert buffer.flush() == 1
    assert TransactionMetric.objects.filter(operation="test.buffered", success=True).count() == 1


@pytest.mark.django_db
def test_a_full_buffer_is_written_by_the_call_that_fills_it(settings):
    settings.DOMAINFLOW_TXMETRICS_FLUSH_ROWS = 5
    for _ in range(4):
        succeed()
    assert TransactionMetric.objects.count() == 0
    succeed()
    assert TransactionMetric.objects.count() == 5
    assert buffer.pending() == 0


@pytest.mark.django_db
def test_report_includes_this_process_pending_successes():
    import uuid

    campaign_id = uuid.uuid4()
    for _ in range(3):
        succeed(campaign_id=campaign_id)
    [stats] = performance_stats(operation="test.buffered", campaign_id=campaign_id)
    assert (stats.total, stats.succeeded, stats.failed) == (3, 3, 0)


@pytest.mark.django_db(transaction=True)
def test_background_flusher_writes_quiet_buffers_within_the_interval(settings):
    settings.DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S = 0.2
    succeed()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not TransactionMetric.objects.exists():
        time.sleep(0.05)
    assert TransactionMetric.objects.filter(operation="test.buffered").count() == 1
    settings.DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S = 0  # let the flusher stop
    time.sleep(0.3)


@pytest.mark.django_db(transaction=True)
def test_a_process_exiting_normally_writes_its_buffer():
    code = (
        "from django.db import connection\n"
        "from txmetrics.decorators import safe_transaction\n"
        "@safe_transaction(operation='test.at_exit')\n"
        "def f():\n"
        "    connection.cursor().execute('SELECT 1')\n"
        "for _ in range(7): f()\n"
    )
    env = worker_env(DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S="60")
    subprocess.run([sys.executable, MANAGE, "shell", "-c", code], env=env, check=True, capture_output=True)
    assert TransactionMetric.objects.filter(operation="test.at_exit", success=True).count() == 7


@pytest.mark.django_db(transaction=True)
def test_a_flush_on_a_terminated_connection_logs_one_line_and_the_next_flush_writes(caplog):
    buffer.discard()
    succeed(campaign_id=None)
    connection.ensure_connection()
    with raw_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    with caplog.at_level("WARNING", logger="domainflow.txmetrics"):
        assert buffer.flush() == 0  # the server ended the session: nothing raised
    [record] = caplog.records
    assert "could not write 1 transaction metrics: terminating connection" in record.getMessage()
    assert record.exc_info is None and "\n" not in record.getMessage()
    succeed(campaign_id=None)
    assert buffer.flush() == 1
    assert TransactionMetric.objects.filter(operation="test.buffered").count() == 1


def _exit_after_the_flusher_took(operation: str, transactions: int) -> str:
    """A `manage.py shell -c` script: `transactions` successes, then exit once the flusher has taken
    their metrics off the queue (its COPY may still be under way)."""
    return (
        "import time\n"
        "from django.db import connection\n"
        "from txmetrics import buffer\n"
        "from txmetrics.decorators import safe_transaction\n"
        f"@safe_transaction(operation={operation!r})\n"
        "def f():\n"
        "    connection.cursor().execute('SELECT 1')\n"
        f"for _ in range({transactions}): f()\n"
        "while buffer.pending(): time.sleep(0.01)\n"
    )


@pytest.mark.django_db(transaction=True)
def test_a_process_exiting_while_the_flusher_writes_waits_for_that_write():
    # The flusher has taken the rows off the queue and its COPY is under way (held
    # here by a lock on the table) when the process exits: the exit must wait for it.
    code = _exit_after_the_flusher_took("test.exit_mid_flush", 7)
    env = worker_env(DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S="0.2")
    with raw_connection() as other:
        with other.transaction():
            other.execute("LOCK TABLE txmetrics_transactionmetric IN EXCLUSIVE MODE")
            child = subprocess.Popen([sys.executable, MANAGE, "shell", "-c", code], env=env)
            wait_for(lambda: waiting_on_a_lock("txmetrics_transactionmetric"), what="the flusher's COPY")
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=1)
    assert child.wait(timeout=30) == 0
    assert TransactionMetric.objects.filter(operation="test.exit_mid_flush", success=True).count() == 7


@pytest.mark.django_db(transaction=True)
def test_a_full_queue_does_not_wait_for_a_write_under_way_on_another_thread(settings):
    buffer.discard()
    settings.DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S = 0.2
    settings.DOMAINFLOW_TXMETRICS_FLUSH_ROWS = 5
    with raw_connection() as other:
        with other.transaction():
            other.execute("LOCK TABLE txmetrics_transactionmetric IN EXCLUSIVE MODE")
            succeed()  # the flusher takes it and its COPY waits on the lock
            wait_for(lambda: waiting_on_a_lock("txmetrics_transactionmetric"), what="the flusher's COPY")
            started = time.monotonic()
            for _ in range(5):
                succeed()  # fills the queue: its write is left for later, not waited for
            assert time.monotonic() - started < 1
            assert buffer.pending() == 5
    settings.DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S = 0  # let the flusher stop
    assert buffer.flush() == 5
    assert TransactionMetric.objects.filter(operation="test.buffered").count() == 6
    # The flusher ends within its next nap; no later test may meet it still running.
    wait_for(lambda: buffer._timer is None, what="the flush thread to stop")


@pytest.mark.django_db(transaction=True)
def test_a_process_exiting_gives_up_a_write_that_does_not_finish_in_time_with_one_line():
    # As above, but the lock outlasts the exit's wait (shortened here): the process still ends,
    # saying in one line that those metrics are lost.
    code = "from txmetrics import buffer\nbuffer._EXIT_WAIT_S = 0.5\n" + _exit_after_the_flusher_took("test.exit_gives_up", 3)
    env = worker_env(DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S="0.2")
    with raw_connection() as other:
        with other.transaction():
            other.execute("LOCK TABLE txmetrics_transactionmetric IN EXCLUSIVE MODE")
            child = subprocess.Popen([sys.executable, MANAGE, "shell", "-c", code], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            wait_for(lambda: waiting_on_a_lock("txmetrics_transactionmetric"), what="the flusher's COPY")
            _, stderr = child.communicate(timeout=20)  # ends while the lock is still held
    assert child.returncode == 0
    lost = [line for line in stderr.splitlines() if "transaction metrics lost at exit" in line]
    assert len(lost) == 1 and "a write under way did not finish in 0.5 s" in lost[0]
    assert "Traceback" not in stderr
    assert not TransactionMetric.objects.filter(operation="test.exit_gives_up").exists()
