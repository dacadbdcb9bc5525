"""Honest outcomes: derived states, negative answers apart from errors, rate over active time only."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import live
from campaigns.live import ERROR_THRESHOLD_PERCENT, active_seconds, live_progress, live_queryset
from campaigns.models import Campaign
from tests.console.live_data import arrange

pytestmark = pytest.mark.django_db


def progress_of(campaign):
    return live_progress(live_queryset(Campaign.objects.filter(pk=campaign.pk)))[str(campaign.pk)]


def test_a_dns_campaign_with_no_success_is_completed_with_errors(operator):
    campaign = arrange(owner=operator, status="completed", total=60, processed=60, successful=0, dns={"timeout": 60})
    p = progress_of(campaign)
    assert (p.state, p.state_text) == ("completed_with_errors", "Completed with errors")
    assert (p.successful, p.negative, p.errors) == (0, 0, 60)
    assert p.bar == {"successful": 0.0, "negative": 0.0, "errors": 100.0}


def test_unresolved_names_are_negative_answers_not_errors(operator):
    campaign = arrange(
        owner=operator, status="completed", total=100, processed=100, successful=60, dns={"resolved": 60, "unresolved": 40}
    )
    p = progress_of(campaign)
    assert (p.state, p.negative, p.errors) == ("completed", 40, 0)
    assert p.texts["negative"] == "40" and p.negative_label == "unresolved"


@pytest.mark.parametrize(("errors", "state"), [(1, "completed"), (2, "completed_with_errors")])
def test_completed_with_errors_starts_above_the_threshold(operator, errors, state):
    assert ERROR_THRESHOLD_PERCENT == 1.0
    campaign = arrange(
        owner=operator, status="completed", total=100, processed=100, successful=100 - errors,
        dns={"resolved": 100 - errors, "error": errors},
    )
    assert progress_of(campaign).state == state


def test_a_running_campaign_whose_jobs_all_wait_says_it_waits_for_a_worker(operator):
    campaign = arrange(owner=operator, campaign_type="domain_generation", total=800, events=[("queued", 90), ("running", 80)], jobs={"queued": 8})
    p = progress_of(campaign)
    assert (p.state, p.state_text, p.queued_jobs) == ("waiting_for_worker", "Waiting for a worker (8 queued)", 8)
    assert p.eta_s is None and p.texts["eta"] == "—"


def test_queued_jobs_are_counted_up_to_a_cap(operator, monkeypatch):
    # A phase started over a large finished source queues all its jobs at once: a poll counts
    # them only up to the cap, and says "more than" beyond it.
    monkeypatch.setattr(live, "JOB_COUNT_CAP", 5)
    campaign = arrange(owner=operator, campaign_type="domain_generation", total=800, events=[("running", 80)], jobs={"queued": 40})
    with CaptureQueriesContext(connection) as captured:
        p = progress_of(campaign)
    assert (p.state_text, p.queued_jobs) == ("Waiting for a worker (more than 5 queued)", 6)

    [count] = [q["sql"] for q in captured if "campaigns_campaignjob" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + count)
        plan = cursor.fetchone()[0][0]["Plan"]

    def job_rows(node: dict) -> int:
        own = node["Actual Rows"] * node["Actual Loops"] if node.get("Relation Name") == "campaigns_campaignjob" else 0
        return own + sum(job_rows(child) for child in node.get("Plans", []))
    assert job_rows(plan) <= 6  # of 40 queued: the cap + 1, and no running job to read


def test_a_running_campaign_with_a_running_job_is_running(operator):
    campaign = arrange(owner=operator, campaign_type="domain_generation", total=800, processed=100, successful=100,
                       events=[("running", 10)], jobs={"queued": 6, "running": 1})
    p = progress_of(campaign)
    assert p.state == "running" and p.eta_s is not None


def test_a_phase_whose_source_still_runs_waits_for_input(operator):
    source = arrange(owner=operator, campaign_type="domain_generation", total=10, events=[("running", 5)], jobs={"running": 1})
    phase = arrange(owner=operator, source=source, events=[("queued", 4)], status="queued")
    p = progress_of(phase)
    assert (p.state, p.state_text) == ("waiting_for_input", "Waiting for input (running source)")


def test_active_time_counts_running_intervals_only(operator):
    # ran 10 s, paused 100 s, ran 5 s more, paused since 30 s.
    campaign = arrange(
        owner=operator, campaign_type="domain_generation", status="paused", total=1000, processed=150, successful=150,
        events=[("queued", 150), ("running", 145), ("paused", 135), ("running", 35), ("paused", 30)],
    )
    p = progress_of(campaign)
    assert p.active_s == pytest.approx(15, abs=0.5)
    assert p.rate_per_s == pytest.approx(10, abs=0.5)  # 150 items over 15 s of work, not over 150 s
    assert p.eta_s is None


def test_active_seconds_closes_an_open_interval_at_now():
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    events = [("queued", t0), ("running", t0 + timedelta(seconds=5))]
    assert active_seconds(events, now=t0 + timedelta(seconds=65)) == 60
