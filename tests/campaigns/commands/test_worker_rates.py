"""The rates a worker reports are those of its last few seconds, not of its whole life."""
from __future__ import annotations

import json
import time

import pytest

from campaigns.management.commands.run_worker import RATE_WINDOW_S, RecentRate
from campaigns.models import Campaign
from campaigns.workers import WorkerStats
from tests.campaigns.commands.helpers import run
from tests.support.processes import start_worker

GENERATION = (
    "--type", "domain_generation", "--pattern", "prefix", "--prefix-length", "4",
    "--charset", "abcdefghij", "--constant", "shop", "--tld", "com",
)


def test_a_worker_idle_after_work_reports_no_rate():
    stats, rate = WorkerStats(), RecentRate(window_s=5)
    assert rate.update(stats, 100.0) == (0.0, 0.0, 0.0)
    stats.add(done=4, items=400)
    assert rate.update(stats, 105.0) == (0.8, 80.0, 5.0)
    # Idle since: over its life the worker averaged 400 items in 15 s, but it does nothing now.
    assert rate.update(stats, 110.0) == (0.0, 0.0, 5.0)
    assert rate.update(stats, 115.0) == (0.0, 0.0, 5.0)


def test_the_rate_is_measured_from_the_newest_reading_at_least_the_window_old():
    stats, rate = WorkerStats(), RecentRate(window_s=5)
    for second in range(10):  # one reading a second, 10 items each
        stats.add(done=1, items=10)
        rate.update(stats, float(second))
    stats.add(items=10)
    jobs_per_s, items_per_s, over_s = rate.update(stats, 10.0)
    assert over_s == 5.0  # from the reading at 5 s, not from the first one at 0 s
    assert (jobs_per_s, items_per_s) == (4 / 5, 50 / 5)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_that_finished_its_work_logs_a_rate_of_zero(root):
    run("create_campaign", "--name", "shops", *GENERATION, "--count", "2000", "--batch-size", "500", "--start")
    worker = start_worker("--concurrency", "1")
    try:
        deadline = time.monotonic() + 60
        while Campaign.objects.get(name="shops").status != "completed":
            assert time.monotonic() < deadline, "the campaign did not complete"
            time.sleep(0.1)
        time.sleep(2 * RATE_WINDOW_S + 1)  # two log lines, a log line every RATE_WINDOW_S
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines[-1]["event"] == "stopped" and lines[-1]["items"] == 2000
    # The last line before stopping comes at least a window after the work: nothing now, though
    # over its life the worker averaged over 100 items a second.
    idle = lines[-2]
    assert idle["items"] == 2000 and idle["items_per_s"] == 0 and idle["jobs_per_s"] == 0
    assert idle["rate_over_s"] >= RATE_WINDOW_S
