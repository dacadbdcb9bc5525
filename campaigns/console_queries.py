"""Read-only queries of the operator console (admin and pages) that selectors.py does not offer.

Everything here filters through campaigns_visible_to, so a non-staff user
never reads another owner's rows, whichever page or admin list asks.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from django.db import connection
from django.db.models import CharField, Count, Model, Q, QuerySet
from django.db.models.functions import Cast

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
# What the result summary counts by: for each model an indexed (campaign, column) pair.
RESULT_BREAKDOWN = {DnsResult: "status", HttpResult: "business_status"}

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


@dataclass(frozen=True)
class ResultSummary:
    kind: str  # the campaign type: the template picks the preview's columns by it
    sample: list[Model]
    sample_size: int
    breakdown: list[tuple[str, int]]  # (status or business status, rows), largest first


def result_summary(*, campaign: Campaign, sample_size: int = 10) -> ResultSummary:
    """A few of the campaign's results in their natural order, and how many there are of each outcome."""
    model = RESULT_MODELS[campaign.campaign_type]
    rows = model.objects.filter(campaign=campaign)
    sample = list(rows.order_by(RESULT_ORDER[model])[:sample_size])
    breakdown: list[tuple[str, int]] = []
    column = RESULT_BREAKDOWN.get(model)
    if column is not None:
        counts = rows.order_by().values_list(column).annotate(n=Count("pk"))
        breakdown = sorted(((value or "none", n) for value, n in counts), key=lambda item: (-item[1], item[0]))
    return ResultSummary(campaign.campaign_type, sample, sample_size, breakdown)


@dataclass(frozen=True)
class KeywordTotal:
    keyword: str
    hits: int  # matches over all pages
    pages: int  # pages with at least one match


_TOP_KEYWORDS_SQL = f"""
SELECT hit->>'keyword', sum((hit->>'count')::bigint), count(*)
FROM {HttpResult._meta.db_table} AS r CROSS JOIN LATERAL jsonb_array_elements(r.keyword_hits) AS hit
WHERE r.campaign_id = %(campaign)s AND r.keyword_count > 0
GROUP BY 1
ORDER BY 2 DESC, 1
LIMIT %(limit)s
"""


def top_keywords(*, campaign: Campaign, limit: int = 20) -> list[KeywordTotal]:
    """The HTTP campaign's most matched keywords; empty for other types and before any match."""
    if campaign.campaign_type != CampaignType.HTTP_KEYWORD_VALIDATION:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_TOP_KEYWORDS_SQL, {"campaign": campaign.pk, "limit": limit})
        return [KeywordTotal(keyword, int(hits), pages) for keyword, hits, pages in cursor.fetchall()]
