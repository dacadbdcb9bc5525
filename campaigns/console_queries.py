"""Read-only queries of the operator console (admin and pages) that selectors.py does not offer.

Everything here filters through campaigns_visible_to, so a non-staff user
never reads another owner's rows, whichever page or admin list asks.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from django.db import OperationalError, connection, transaction
from django.db.models import CharField, Count, Model, Q, QuerySet
from django.db.models.functions import Cast
from psycopg import errors as pg_errors

from campaigns.live import live_queryset
from campaigns.models import (
    AuditLog,
    Campaign,
    CampaignJob,
    CampaignType,
    DnsResult,
    GeneratedDomain,
    HttpResult,
)
from campaigns.selectors import CampaignProgress, campaigns_progress
from campaigns.services.access import Actor, campaigns_visible_to

# Each campaign type's result model (a model with a `campaign` foreign key);
# admin and pages look results up through this one table.
RESULT_MODELS: dict[str, type[Model]] = {
    CampaignType.DOMAIN_GENERATION: GeneratedDomain,
    CampaignType.DNS_VALIDATION: DnsResult,
    CampaignType.HTTP_KEYWORD_VALIDATION: HttpResult,
}
# The order a campaign's results are previewed in: the one its unique index serves.
RESULT_ORDER = {GeneratedDomain: "offset_index", DnsResult: "domain_name", HttpResult: "domain_name"}
# What the result summary counts by: for each model an indexed (campaign, column) pair, and the
# value whose rows that index leaves out, if any: they have a partial index of their own (the DNS
# phase's resolved rows, see DnsResult) and are counted apart.
RESULT_BREAKDOWN = {DnsResult: ("status", "resolved"), HttpResult: ("business_status", None)}

# The most campaigns progress.json answers for in one request, named by ?ids= or not.
PROGRESS_MAX_IDS = 200


def sees_everything(actor: Actor) -> bool:
    return bool(actor is not None and getattr(actor, "is_staff", False) and getattr(actor, "is_active", False))


def results_visible_to(actor: Actor, queryset: QuerySet) -> QuerySet:
    """Rows of any model with a `campaign` foreign key, limited to campaigns the actor may see."""
    if sees_everything(actor):
        return queryset
    if actor is None or not getattr(actor, "is_authenticated", False):
        return queryset.none()
    return queryset.filter(campaign__owner_id=actor.pk)


def audit_visible_to(actor: Actor, queryset: QuerySet[AuditLog]) -> QuerySet[AuditLog]:
    """Audit rows: staff read all; others read their own acts and those about their campaigns."""
    if sees_everything(actor):
        return queryset
    if actor is None or not getattr(actor, "is_authenticated", False):
        return queryset.none()
    own_ids = campaigns_visible_to(actor).annotate(id_text=Cast("id", CharField())).values("id_text")
    return queryset.filter(Q(actor_id=actor.pk) | Q(entity_type="campaign", entity_id__in=own_ids))


def parse_campaign_ids(values: Iterable[str]) -> list[UUID]:
    """UUIDs from `?ids=a,b&ids=c`; anything malformed is dropped (it could match no campaign anyway)."""
    ids: list[UUID] = []
    for value in values:
        for part in value.split(","):
            try:
                ids.append(UUID(part.strip()))
            except ValueError:
                continue
    return ids[:PROGRESS_MAX_IDS]


def progress_of(
    *, actor: Actor, campaign_ids: list[UUID] | None = None, limit: int = PROGRESS_MAX_IDS
) -> tuple[list[CampaignProgress], bool]:
    """campaign_progress of the given campaigns (or of the newest the actor may see), newest first, at most
    `limit` of them; and whether more matched. An owner may hold any number of campaigns: a request reads a page."""
    campaigns = live_queryset(campaigns_visible_to(actor)).order_by("-created_at", "-id")
    if campaign_ids is not None:
        campaigns = campaigns.filter(pk__in=campaign_ids)
    found = list(campaigns[: limit + 1])
    return campaigns_progress(found[:limit]), len(found) > limit


def jobs_summary(*, campaign: Campaign) -> dict[str, int]:
    """How many of the campaign's jobs are in each status."""
    rows = CampaignJob.objects.filter(campaign=campaign).order_by().values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def first_jobs(*, campaign: Campaign, limit: int = 20) -> list[CampaignJob]:
    return list(CampaignJob.objects.filter(campaign=campaign).order_by("batch_number")[:limit])


# A poll reads at most this many result rows per count it shows ("more than 10,000" beyond):
# the campaign row's counters say how many succeeded and failed in all, exactly and for free;
# the finer splits below have no counter, and an operator watching a campaign of ten million
# rows wants its page to answer in the same time as one of ten.
RESULT_COUNT_CAP = 10_000
# The outcomes of a phase are its statuses (a handful); the bound only guards against bad data.
MAX_OUTCOMES = 32


@dataclass(frozen=True)
class ResultSummary:
    kind: str  # the campaign type: the template picks the preview's columns by it
    sample: list[Model]
    sample_size: int
    breakdown: list[tuple[str, int]]  # (status or business status, rows up to cap + 1), largest first
    cap: int  # a count above it reads "more than {cap}"


_OUTCOMES_SQL = """
WITH RECURSIVE outcome(value) AS (
    (SELECT {column} FROM {table} WHERE campaign_id = %(campaign)s{others} ORDER BY {column} LIMIT 1)
    UNION ALL
    SELECT (SELECT {column} FROM {table} WHERE campaign_id = %(campaign)s{others} AND {column} > outcome.value
            ORDER BY {column} LIMIT 1)
    FROM outcome WHERE outcome.value IS NOT NULL
)
(SELECT outcome.value,
        (SELECT count(*) FROM (SELECT 1 FROM {table} WHERE campaign_id = %(campaign)s AND {column} = outcome.value
                               LIMIT %(count_to)s) AS capped)
 FROM outcome WHERE outcome.value IS NOT NULL
 LIMIT %(outcomes)s)
"""
_APART_SQL = """
UNION ALL
SELECT {value}, (SELECT count(*) FROM (SELECT 1 FROM {table} WHERE campaign_id = %(campaign)s AND {column} = {value}
                                       LIMIT %(count_to)s) AS capped)
"""


def _outcomes_sql(table: str, column: str, apart: str | None) -> str:
    """The statement counting a campaign's results per outcome, up to the cap.

    The value counted apart is written into the statement as a literal, not passed as a
    parameter: only a condition the planner can read (column <> 'resolved') lets it use the
    partial index that leaves those rows out.
    """
    if apart is None:
        return _OUTCOMES_SQL.format(table=table, column=column, others="")
    value = "'" + apart.replace("'", "''") + "'"
    return (_OUTCOMES_SQL.format(table=table, column=column, others=f" AND {column} <> {value}")
            + _APART_SQL.format(table=table, column=column, value=value))


def result_summary(*, campaign: Campaign, sample_size: int = 10) -> ResultSummary:
    """The campaign's first results in their natural order, and how many there are of each outcome, up to a cap.

    Both walk the (campaign, column) indexes and stop early: the outcomes are found by skipping
    from one value to the next (one index probe each), then each is counted up to the cap; a value
    counted apart is counted along its own index.
    """
    model = RESULT_MODELS[campaign.campaign_type]
    sample = list(model.objects.filter(campaign=campaign).order_by(RESULT_ORDER[model])[:sample_size])
    breakdown: list[tuple[str, int]] = []
    if model in RESULT_BREAKDOWN:
        column, apart = RESULT_BREAKDOWN[model]
        params = {"campaign": campaign.pk, "count_to": RESULT_COUNT_CAP + 1, "outcomes": MAX_OUTCOMES}
        with connection.cursor() as cursor:
            cursor.execute(_outcomes_sql(model._meta.db_table, column, apart), params)
            counts = [(value, n) for value, n in cursor.fetchall() if n]
        breakdown = sorted(((value or "none", n) for value, n in counts), key=lambda item: (-item[1], item[0]))
    return ResultSummary(campaign.campaign_type, sample, sample_size, breakdown, RESULT_COUNT_CAP)


_MATCHED_SQL = f"""
SELECT c.id, (SELECT count(*) FROM (SELECT 1 FROM {HttpResult._meta.db_table} AS r
                                     WHERE r.campaign_id = c.id AND r.business_status = 'lead_valid'
                                     LIMIT %(count_to)s) AS capped)
FROM unnest(%(ids)s::uuid[]) AS c(id)
"""


def matches_counted(http_ids: list[UUID]) -> dict[UUID, int]:
    """Pages with a keyword match (leads) of each HTTP phase, counted up to RESULT_COUNT_CAP + 1, in one statement.

    No counter on the campaign row holds them, and the dashboard asks on every poll.
    """
    if not http_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_MATCHED_SQL, {"ids": list(http_ids), "count_to": RESULT_COUNT_CAP + 1})
        return dict(cursor.fetchall())


@dataclass(frozen=True)
class KeywordTotal:
    keyword: str
    hits: int  # matches over all pages
    pages: int  # pages with at least one match


class TopKeywordsTimedOut(Exception):
    """Counting the keywords of every matching page took longer than a page may wait."""


# Top keywords read every matching page of a campaign: counted when an operator asks (their own
# page, never a poll) and given up after this long rather than holding a connection indefinitely.
TOP_KEYWORDS_TIMEOUT_MS = 15_000

_TOP_KEYWORDS_SQL = f"""
SELECT hit->>'keyword', sum((hit->>'count')::bigint), count(*)
FROM {HttpResult._meta.db_table} AS r CROSS JOIN LATERAL jsonb_array_elements(r.keyword_hits) AS hit
WHERE r.campaign_id = %(campaign)s AND r.keyword_count > 0
GROUP BY 1
ORDER BY 2 DESC, 1
LIMIT %(limit)s
"""


def top_keywords(*, campaign: Campaign, limit: int = 20, timeout_ms: int | None = None) -> list[KeywordTotal]:
    """The HTTP campaign's most matched keywords over all its pages; empty for other types and before any match.

    One scan of the campaign's matching rows: TopKeywordsTimedOut once it runs past the timeout.
    """
    if campaign.campaign_type != CampaignType.HTTP_KEYWORD_VALIDATION:
        return []
    timeout = TOP_KEYWORDS_TIMEOUT_MS if timeout_ms is None else timeout_ms
    try:
        # SET LOCAL needs a transaction of its own, and ends with it.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {int(timeout)}")
            cursor.execute(_TOP_KEYWORDS_SQL, {"campaign": campaign.pk, "limit": limit})
            rows = cursor.fetchall()
    except OperationalError as exc:
        if isinstance(exc.__cause__, pg_errors.QueryCanceled):
            raise TopKeywordsTimedOut() from exc
        raise
    return [KeywordTotal(keyword, int(hits), pages) for keyword, hits, pages in rows]
