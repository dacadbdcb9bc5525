"""The rates a worker reports are those of its last few seconds, not of its whole life."""
from __future__ import annotations

import json
import time

import pytest

from campaigns.management.commands.run_worker import IDLE_REPORT_S, RATE_WINDOW_S, RecentRate, ReportPacer
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


def line(items: int, items_per_s: float) -> dict[str, object]:
    return {"jobs_done": items // 100, "jobs_failed": 0, "items": items, "items_per_s": items_per_s,
            "jobs_per_s": items_per_s / 100}


def test_an_idle_worker_writes_a_line_when_work_comes_or_every_few_minutes():
    pacer = ReportPacer()
    assert pacer.due(line(0, 0), 0.0)  # the start
    assert not pacer.due(line(0, 0), RATE_WINDOW_S)  # idle since: nothing to say
    assert not pacer.due(line(0, 0), IDLE_REPORT_S - 1)
    assert pacer.due(line(0, 0), IDLE_REPORT_S)  # still there
    assert not pacer.due(line(100, 20), IDLE_REPORT_S + 1)  # work came, but only a second ago
    at = IDLE_REPORT_S + RATE_WINDOW_S
    assert pacer.due(line(100, 20), at)
    assert pacer.due(line(300, 40), at + RATE_WINDOW_S)  # working: a line every window
    assert pacer.due(line(300, 0), at + 2 * RATE_WINDOW_S)  # the work stopped: the line that shows it
    assert not pacer.due(line(300, 0), at + 3 * RATE_WINDOW_S)
    assert pacer.due(line(300, 0), at + 2 * RATE_WINDOW_S + IDLE_REPORT_S)


def test_a_line_at_no_rate_with_new_totals_is_not_the_idle_one():
    # Work that began and ended within one window: the rate shown is 0 but the totals moved, and
    # the next line (at no rate, same totals) is the one that says the worker is idle.
    pacer = ReportPacer()
    assert pacer.due(line(0, 0), 0.0)
    assert pacer.due(line(100, 0), RATE_WINDOW_S)
    assert pacer.due(line(200, 0), 2 * RATE_WINDOW_S)
    assert not pacer.due(line(200, 0), 3 * RATE_WINDOW_S)


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
        time.sleep(3 * RATE_WINDOW_S + 1)  # time for three lines, were one written every RATE_WINDOW_S
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
    lines = [json.loads(text) for text in err.splitlines() if text.startswith("{")]
    assert lines[0]["event"] == "started" and lines[0]["items"] == 0
    assert lines[-1]["event"] == "stopped" and lines[-1]["items"] == 2000
    # The last line before stopping comes at least a window after the work: nothing now, though
    # over its life the worker averaged over 100 items a second.
    idle = lines[-2]
    assert idle["items"] == 2000 and idle["items_per_s"] == 0 and idle["jobs_per_s"] == 0
    assert idle["rate_over_s"] >= RATE_WINDOW_S
    # ... and it is the only line that says so: an idle worker does not repeat itself.
    assert lines[-3]["items_per_s"] > 0 or lines[-3]["items"] < 2000
