"""Invariants the write side keeps, checked by reading the rows (`manage.py check_consistency`).

Pure reads: nothing here writes, not even a metric. All checks run in one
REPEATABLE READ snapshot, so a worker committing a batch between two
queries cannot make a counter and its rows look out of step.
"""
from __future__ import annotations

from collections.abc import Callable

from django.db import connection, transaction

from campaigns.models import (
    Campaign,
    CampaignJob,
    CampaignStateEvent,
    CampaignStatus,
    CampaignType,
    DnsResult,
    GeneratedDomain,
    HttpResult,
    JobStatus,
)

CAMPAIGN = Campaign._meta.db_table
EVENT = CampaignStateEvent._meta.db_table
JOB = CampaignJob._meta.db_table
DOMAIN = GeneratedDomain._meta.db_table
# A validation campaign's result table, and what its rows are called in a message.
RESULTS = {
    CampaignType.DNS_VALIDATION: (DnsResult._meta.db_table, "DNS results"),
    CampaignType.HTTP_KEYWORD_VALIDATION: (HttpResult._meta.db_table, "HTTP results"),
}

# The rows written by the thousand reference their campaign without a database constraint
# (campaigns/models/campaign.py, _lock_before_delete): none may outlive its campaign.
BULK_ROWS = ((DOMAIN, "generated domains"), *RESULTS.values())

# Counting every generated domain of a large database takes a while; it is a read, so let it.
STATEMENT_TIMEOUT_MS = 600_000


def consistency_violations() -> list[str]:
    """Every violated invariant, one sentence each, ordered by check and then by campaign."""
    if connection.in_atomic_block:
        # Already in a transaction (a test, a caller's snapshot): read within it.
        return _run_checks()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        return _run_checks()


def _run_checks() -> list[str]:
    violations: list[str] = []
    for check in CHECKS:
        with connection.cursor() as cursor:
            violations.extend(check(cursor))
    return violations


def _status_matches_last_event(cursor) -> list[str]:
    cursor.execute(
        f"""
        SELECT c.id, c.status, e.sequence, e.to_status
        FROM {CAMPAIGN} c
        LEFT JOIN LATERAL (
            SELECT sequence, to_status FROM {EVENT} WHERE campaign_id = c.id ORDER BY sequence DESC LIMIT 1
        ) e ON true
        WHERE e.sequence IS NULL OR e.to_status <> c.status
        ORDER BY c.id
        """
    )
    out = []
    for campaign_id, status, sequence, to_status in cursor.fetchall():
        if sequence is None:
            out.append(f"campaign {campaign_id}: has no state events (its creation should be event #1)")
        else:
            out.append(
                f"campaign {campaign_id}: status is {status!r} but its last state event (#{sequence}) says {to_status!r}"
            )
    return out


def _event_sequences_contiguous(cursor) -> list[str]:
    # Sequences are unique and positive, so they run 1..n exactly when the largest is n.
    cursor.execute(
        f"""
        SELECT campaign_id, count(*), array_agg(sequence ORDER BY sequence)
        FROM {EVENT}
        GROUP BY campaign_id
        HAVING max(sequence) <> count(*)
        ORDER BY campaign_id
        """
    )
    out = []
    for campaign_id, count, sequences in cursor.fetchall():
        missing = sorted(set(range(1, sequences[-1] + 1)) - set(sequences))
        shown = ", ".join(map(str, missing[:10])) + (", …" if len(missing) > 10 else "")
        out.append(
            f"campaign {campaign_id}: state event sequences are not contiguous from 1 "
            f"({count} events, numbered up to {sequences[-1]}; missing {shown})"
        )
    return out


def _version_counts_events(cursor) -> list[str]:
    cursor.execute(
        f"""
        SELECT c.id, c.version, e.n
        FROM {CAMPAIGN} c JOIN (SELECT campaign_id, count(*) AS n FROM {EVENT} GROUP BY campaign_id) e
            ON e.campaign_id = c.id
        WHERE c.version < e.n
        ORDER BY c.id
        """
    )
    return [
        f"campaign {campaign_id}: version is {version} but it has {events} state events (each one bumps the version)"
        for campaign_id, version, events in cursor.fetchall()
    ]


def _counters_coherent(cursor) -> list[str]:
    cursor.execute(
        f"""
        SELECT id, total_items, processed_items, successful_items, failed_items
        FROM {CAMPAIGN}
        WHERE processed_items > total_items OR successful_items + failed_items > processed_items
        ORDER BY id
        """
    )
    out = []
    for campaign_id, total, processed, successful, failed in cursor.fetchall():
        if processed > total:
            out.append(f"campaign {campaign_id}: processed_items ({processed}) exceeds total_items ({total})")
        if successful + failed > processed:
            out.append(
                f"campaign {campaign_id}: successful_items + failed_items ({successful} + {failed}) "
                f"exceed processed_items ({processed})"
            )
    return out


def _generation_counts_rows(cursor) -> list[str]:
    cursor.execute(
        f"""
        SELECT c.id, c.processed_items, coalesce(d.n, 0)
        FROM {CAMPAIGN} c
        LEFT JOIN (SELECT campaign_id, count(*) AS n FROM {DOMAIN} GROUP BY campaign_id) d ON d.campaign_id = c.id
        WHERE c.campaign_type = %s AND c.processed_items <> coalesce(d.n, 0)
        ORDER BY c.id
        """,
        [CampaignType.DOMAIN_GENERATION],
    )
    return [
        f"campaign {campaign_id}: processed_items is {processed} but it has {rows} generated domains"
        for campaign_id, processed, rows in cursor.fetchall()
    ]


def _validation_counts_rows(cursor) -> list[str]:
    """processed_items = the result rows its batches wrote; a completed campaign processed all it was fed.

    Result rows are written only when their batch commits, and total_items grows
    as the source feeds the phase, so the two meet when the phase completes.
    """
    out: list[tuple[object, str]] = []
    for campaign_type, (table, noun) in RESULTS.items():
        cursor.execute(
            f"""
            SELECT c.id, c.status, c.total_items, c.processed_items, coalesce(r.n, 0)
            FROM {CAMPAIGN} c
            LEFT JOIN (SELECT campaign_id, count(*) AS n FROM {table} GROUP BY campaign_id) r ON r.campaign_id = c.id
            WHERE c.campaign_type = %s
              AND (c.processed_items <> coalesce(r.n, 0) OR (c.status = 'completed' AND c.total_items <> c.processed_items))
            ORDER BY c.id
            """,
            [campaign_type],
        )
        for campaign_id, status, total, processed, rows in cursor.fetchall():
            if processed != rows:
                out.append((campaign_id, f"campaign {campaign_id}: processed_items is {processed} but it has {rows} {noun}"))
            if status == "completed" and total != processed:
                out.append((campaign_id, f"campaign {campaign_id}: is completed but processed {processed} of the {total} items it was fed"))
    out.sort(key=lambda found: found[0])  # by campaign, like every other check (stable: a campaign's own order stays)
    return [message for _, message in out]


def _running_jobs_leased(cursor) -> list[str]:
    cursor.execute(
        f"""
        SELECT campaign_id, id, batch_number, lease_token IS NULL, lease_expires_at IS NULL, locked_by = ''
        FROM {JOB}
        WHERE status = %s AND (lease_token IS NULL OR lease_expires_at IS NULL OR locked_by = '')
        ORDER BY campaign_id, batch_number
        """,
        [JobStatus.RUNNING],
    )
    out = []
    for campaign_id, job_id, batch, no_token, no_expiry, no_worker in cursor.fetchall():
        missing = [
            text
            for text, flag in (("no lease token", no_token), ("no lease expiry", no_expiry), ("no worker", no_worker))
            if flag
        ]
        out.append(
            f"campaign {campaign_id}: job {job_id} (batch {batch}) is running without a lease ({', '.join(missing)})"
        )
    return out


def _completed_has_no_open_jobs(cursor) -> list[str]:
    cursor.execute(
        f"""
        SELECT c.id, count(*) FILTER (WHERE j.status = %s), count(*) FILTER (WHERE j.status = %s)
        FROM {CAMPAIGN} c JOIN {JOB} j ON j.campaign_id = c.id
        WHERE c.status = %s AND j.status IN (%s, %s)
        GROUP BY c.id
        ORDER BY c.id
        """,
        [JobStatus.QUEUED, JobStatus.RUNNING, CampaignStatus.COMPLETED, JobStatus.QUEUED, JobStatus.RUNNING],
    )
    return [
        f"campaign {campaign_id}: is completed but has {queued} queued and {running} running jobs"
        for campaign_id, queued, running in cursor.fetchall()
    ]


def _rows_have_their_campaign(cursor) -> list[str]:
    out: list[tuple[str, str]] = []
    for table, what in BULK_ROWS:
        cursor.execute(
            f"SELECT r.campaign_id, count(*) FROM {table} r"
            f" WHERE NOT EXISTS (SELECT 1 FROM {CAMPAIGN} c WHERE c.id = r.campaign_id) GROUP BY r.campaign_id"
        )
        out += [(str(campaign_id), f"campaign {campaign_id}: does not exist, but {n} {what} reference it")
                for campaign_id, n in cursor.fetchall()]
    out.sort(key=lambda found: found[0])
    return [message for _, message in out]


CHECKS: tuple[Callable[..., list[str]], ...] = (
    _status_matches_last_event,
    _event_sequences_contiguous,
    _version_counts_events,
    _counters_coherent,
    _generation_counts_rows,
    _validation_counts_rows,
    _running_jobs_leased,
    _completed_has_no_open_jobs,
    _rows_have_their_campaign,
)
