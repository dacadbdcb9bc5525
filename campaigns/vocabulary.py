"""One vocabulary for people: the words and number formats the console, the admin, exports and commands share.

Pure functions (no ORM, no I/O); every one takes a raw value and returns text.
"""
from __future__ import annotations

from datetime import datetime

from django.utils import timezone

TYPE_LABELS = {
    "domain_generation": "Domain generation",
    "dns_validation": "DNS validation",
    "http_keyword_validation": "HTTP keyword validation",
}
STATUS_LABELS = {
    "pending": "Pending",
    "queued": "Queued",
    "running": "Running",
    "paused": "Paused",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "archived": "Archived",
}
# The derived states the console shows instead of a bare status (see docs/DECISIONS.md).
STATE_LABELS = {
    **STATUS_LABELS,
    "completed_with_errors": "Completed with errors",
    "waiting_for_input": "Waiting for input",
    "waiting_for_worker": "Waiting for a worker",
}
# Result statuses and business statuses, as written in result rows.
RESULT_LABELS = {
    "resolved": "Resolved",
    "unresolved": "Unresolved (no such name or no address)",
    "timeout": "Timed out",
    "error": "Error",
    "success": "Answered",
    "failed": "Answered with an error status",
    "valid_dns": "Resolves",
    "lead_valid": "Lead (keywords found)",
    "http_valid_no_keywords": "Answers, no keywords",
    "invalid_http_code": "Answered with an error status",
    "invalid_http_response_error": "No usable answer",
    "": "None",
}
TRANSITION_LABELS = {
    "create": "Created",
    "start": "Started",
    "begin": "Began running",
    "pause": "Paused",
    "resume": "Resumed",
    "complete": "Completed",
    "fail": "Failed",
    "retry": "Retried",
    "cancel": "Cancelled",
    "archive": "Archived",
}


def _humanize(value: str) -> str:
    return value.replace("_", " ").capitalize() if value else ""


def type_label(value: str) -> str:
    """'dns_validation' -> 'DNS validation'."""
    return TYPE_LABELS.get(value, _humanize(value))


def status_label(value: str) -> str:
    """A campaign status or derived state -> 'Completed with errors'."""
    return STATE_LABELS.get(value, _humanize(value))


def result_label(value: str | None) -> str:
    """A result status or business status -> 'Unresolved (no such name or no address)'."""
    return RESULT_LABELS.get(value or "", _humanize(value or ""))


def transition_label(value: str) -> str:
    return TRANSITION_LABELS.get(value, _humanize(value))


def number(value: int | float | None) -> str:
    """Thousands separators: 20000 -> '20,000'; floats keep one decimal; None -> '—'."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def percent(value: float | None) -> str:
    """42.25 -> '42.3%'."""
    return "—" if value is None else f"{value:.1f}%"


def duration(seconds: float | None) -> str:
    """Seconds -> 'h:mm:ss' (1835 -> '0:30:35'); days stay hours (90000 -> '25:00:00'); None -> '—'."""
    if seconds is None:
        return "—"
    total = max(int(round(seconds)), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def rate(per_second: float | None) -> str:
    """Items per second -> '1,234.5/s'."""
    return "—" if per_second is None else f"{per_second:,.1f}/s"


def moment(value: datetime | None) -> str:
    """An aware datetime in the current time zone, with the zone: '2026-12-02 08:57:29 UTC'."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"


def header_label(column: str) -> str:
    """An export or table column name -> a header: 'business_status' -> 'Business status'."""
    special = {
        "ips": "IP addresses", "rcode": "DNS rcode", "latency_ms": "Latency (ms)", "response_time_ms": "Response time (ms)",
        "body_sha256": "Body SHA-256",
    }
    return special.get(column, _humanize(column).replace("Http", "HTTP").replace("Dns", "DNS").replace("url", "URL"))
