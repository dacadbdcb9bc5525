"""The transaction report page: per-operation statistics, outcomes over time, and the same as tables.

txmetrics is a leaf app: nothing here imports campaigns. Staff read every
metric; anyone else reads the metrics of the campaigns they own (through the
user's reverse `campaigns` relation), never system-wide operations.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from txmetrics import buffer
from txmetrics.models import TransactionMetric
from txmetrics.report import OperationStats

HOURS_CHOICES = (1, 6, 24, 72, 168)
DEFAULT_HOURS = 24
# Bucket width per window: whole minutes or hours a person can read, 48 to 72 buckets each.
BUCKET_SECONDS = {1: 60, 6: 300, 24: 1800, 72: 3600, 168: 3 * 3600}
TABLE = TransactionMetric._meta.db_table

_STATS_SQL = f"""
SELECT m.operation, count(*), count(*) FILTER (WHERE m.success), count(*) FILTER (WHERE NOT m.success),
       avg(m.duration_ms), min(m.duration_ms), max(m.duration_ms),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY m.duration_ms),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY m.duration_ms),
       avg(m.retry_count)::double precision
FROM {TABLE} m
WHERE m.created_at >= now() - make_interval(secs => %(window_s)s)
  AND (%(everything)s OR m.campaign_id = ANY(%(campaigns)s))
GROUP BY m.operation
ORDER BY m.operation
"""

# Every bucket of the window, empty ones as zeros, so the time axis is the whole window.
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
    FROM {TABLE}
    WHERE created_at >= (SELECT first_bucket FROM bounds)
      AND (%(everything)s OR campaign_id = ANY(%(campaigns)s))
    GROUP BY 1
)
SELECT buckets.bucket, coalesce(counts.succeeded, 0), coalesce(counts.failed, 0), coalesce(counts.retries, 0)
FROM buckets LEFT JOIN counts USING (bucket)
ORDER BY buckets.bucket
"""


@dataclass(frozen=True)
class Scope:
    everything: bool
    campaigns: list  # campaign ids, when not everything

    @property
    def params(self) -> dict[str, object]:
        return {"everything": self.everything, "campaigns": self.campaigns}


def scope_of(user) -> Scope:
    """Staff see every metric; an operator sees the metrics of the campaigns they own."""
    if user.is_staff and user.is_active:
        return Scope(True, [])
    return Scope(False, list(user.campaigns.values_list("id", flat=True)))


def hours_from(value: str | None) -> int:
    """The window asked for, if it is one of the offered choices; the default otherwise."""
    try:
        hours = int(value or DEFAULT_HOURS)
    except ValueError:
        return DEFAULT_HOURS
    return hours if hours in HOURS_CHOICES else DEFAULT_HOURS


def operation_stats(*, hours: int, scope: Scope) -> list[OperationStats]:
    buffer.flush()  # this process's own recent successes count too
    with connection.cursor() as cursor:
        cursor.execute(_STATS_SQL, {"window_s": hours * 3600, **scope.params})
        return [OperationStats(*row) for row in cursor.fetchall()]


def outcomes_over_time(*, hours: int, scope: Scope) -> dict[str, object]:
    """Successes, failures and retries per bucket over the whole window; the last bucket is still filling."""
    bucket_s = BUCKET_SECONDS.get(hours, max(60, hours * 3600 // 48))
    with connection.cursor() as cursor:
        cursor.execute(_SERIES_SQL, {"bucket_s": bucket_s, "window_s": hours * 3600, **scope.params})
        rows = cursor.fetchall()
    label_format = "%H:%M" if hours <= 24 else "%a %H:%M"
    local = [timezone.localtime(bucket) for bucket, *_ in rows]
    return {
        "bucket_seconds": bucket_s,
        "bucket_text": f"{bucket_s // 3600} h" if bucket_s >= 3600 else f"{bucket_s // 60} min",
        "time_zone": settings.TIME_ZONE,
        "labels": [moment.strftime(label_format) for moment in local],
        "starts": [moment.strftime("%Y-%m-%d %H:%M") for moment in local],
        "partial": [i == len(rows) - 1 for i in range(len(rows))],
        "succeeded": [succeeded for _, succeeded, _, _ in rows],
        "failed": [failed for _, _, failed, _ in rows],
        "retries": [int(retries) for *_, retries in rows],
    }


@login_required
@require_GET
def transactions_report(request: HttpRequest) -> HttpResponse:
    hours = hours_from(request.GET.get("hours"))
    scope = scope_of(request.user)
    stats = operation_stats(hours=hours, scope=scope)
    durations = {
        "labels": [s.operation for s in stats],
        "p50": [round(s.p50_ms, 2) for s in stats],
        "p95": [round(s.p95_ms, 2) for s in stats],
        "failed": [s.failed for s in stats],
    }
    series = outcomes_over_time(hours=hours, scope=scope)
    context = {
        "hours": hours,
        "hours_choices": HOURS_CHOICES,
        "stats": stats,
        "durations": durations,
        "series": series,
        "series_rows": list(zip(series["starts"], series["succeeded"], series["failed"], series["retries"], series["partial"])),
        "everything": scope.everything,
    }
    return render(request, "txmetrics/transactions.html", context)
