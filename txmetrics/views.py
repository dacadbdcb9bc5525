"""The transaction report page: report.performance_stats as a table, plus charts over time.

txmetrics is a leaf app: nothing here imports campaigns.
"""
from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from txmetrics.models import TransactionMetric
from txmetrics.report import performance_stats

HOURS_CHOICES = (1, 6, 24, 72, 168)
DEFAULT_HOURS = 24
BUCKETS = 48  # points on the over-time chart, whatever the window

# Every bucket of the window, empty ones as zeros, so the chart's time axis is the whole window.
_SERIES_SQL = f"""
WITH bounds AS (
    SELECT date_bin(make_interval(secs => %(bucket_s)s), now() - make_interval(secs => %(window_s)s),
                    TIMESTAMPTZ '2000-01-01') AS first_bucket
),
buckets AS (
    SELECT generate_series(first_bucket, now(), make_interval(secs => %(bucket_s)s)) AS bucket FROM bounds
),
counts AS (
    SELECT date_bin(make_interval(secs => %(bucket_s)s), created_at, TIMESTAMPTZ '2000-01-01') AS bucket,
           count(*) FILTER (WHERE success) AS succeeded,
           count(*) FILTER (WHERE NOT success) AS failed,
           sum(retry_count) AS retries
    FROM {TransactionMetric._meta.db_table}
    WHERE created_at >= (SELECT first_bucket FROM bounds)
    GROUP BY 1
)
SELECT buckets.bucket, coalesce(counts.succeeded, 0), coalesce(counts.failed, 0), coalesce(counts.retries, 0)
FROM buckets LEFT JOIN counts USING (bucket)
ORDER BY buckets.bucket
"""


def hours_from(value: str | None) -> int:
    """The window asked for, if it is one of the offered choices; the default otherwise."""
    try:
        hours = int(value or DEFAULT_HOURS)
    except ValueError:
        return DEFAULT_HOURS
    return hours if hours in HOURS_CHOICES else DEFAULT_HOURS


def outcomes_over_time(*, hours: int) -> dict[str, list]:
    """Successes, failures and retries per time bucket over the whole window (about BUCKETS buckets, a minute at least)."""
    window_s = hours * 3600
    bucket_s = max(60, window_s // BUCKETS)
    with connection.cursor() as cursor:
        cursor.execute(_SERIES_SQL, {"bucket_s": bucket_s, "window_s": window_s})
        rows = cursor.fetchall()
    return {
        "bucket_seconds": bucket_s,
        "labels": [bucket.isoformat() for bucket, *_ in rows],
        "succeeded": [succeeded for _, succeeded, _, _ in rows],
        "failed": [failed for _, _, failed, _ in rows],
        "retries": [int(retries) for *_, retries in rows],
    }


@login_required
@require_GET
def transactions_report(request: HttpRequest) -> HttpResponse:
    hours = hours_from(request.GET.get("hours"))
    stats = performance_stats(hours=hours)
    durations = {
        "labels": [s.operation for s in stats],
        "p50": [round(s.p50_ms, 2) for s in stats],
        "p95": [round(s.p95_ms, 2) for s in stats],
    }
    context = {
        "hours": hours,
        "hours_choices": HOURS_CHOICES,
        "stats": stats,
        "durations": durations,
        "series": outcomes_over_time(hours=hours),
        "window": timedelta(hours=hours),
    }
    return render(request, "txmetrics/transactions.html", context)
