"""The read side: what pages, commands and workers ask of the database."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from campaigns.live import LiveProgress, live_progress, live_queryset

from campaigns.models import (
    Campaign,
    CampaignJob,
    CampaignStateEvent,
    CampaignStatus,
    DnsPersona,
    HttpPersona,
    JobStatus,
    KeywordSet,
    Proxy,
)
from campaigns.services.access import Actor, campaigns_visible_to
from campaigns.services.errors import CampaignNotFound
from campaigns.services.feed import phases_idle


def campaign_list(*, actor: Actor) -> QuerySet[Campaign]:
    return campaigns_visible_to(actor).select_related("owner").order_by("-created_at")


def campaign_get(*, actor: Actor, campaign_id: UUID | str) -> Campaign:
    """The campaign if it exists and the actor may see it; CampaignNotFound otherwise (no existence leak)."""
    try:
        return campaigns_visible_to(actor).select_related("owner", "source_campaign").get(pk=campaign_id)
    except (Campaign.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise CampaignNotFound(campaign_id) from exc


@dataclass(frozen=True)
class CampaignProgress:
    id: str
    name: str
    campaign_type: str
    status: str
    version: int
    total_items: int
    processed_items: int
    successful_items: int
    failed_items: int
    percent: float
    rate_per_s: float | None
    eta_s: float | None
    error_message: str
    started_at: datetime | None
    finished_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("started_at", "finished_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def campaign_progress(campaign: Campaign) -> CampaignProgress:
    """Progress, rate and ETA, derived from the counters (never stored twice); the row is re-read."""
    return campaigns_progress(live_queryset(Campaign.objects.filter(pk=campaign.pk)))[0]


def campaigns_progress(campaigns: Iterable[Campaign]) -> list[CampaignProgress]:
    """CampaignProgress of campaigns loaded through live.live_queryset, in their order.

    Rate and ETA are live_progress's (over active time), so `--json`, progress.json and
    the console's pages show the same figures; live_progress's fixed number of queries,
    however many campaigns.
    """
    campaigns = list(campaigns)
    live = live_progress(campaigns)
    return [_progress(campaign, live[str(campaign.pk)]) for campaign in campaigns]


def _progress(campaign: Campaign, live: LiveProgress) -> CampaignProgress:
    return CampaignProgress(
        id=str(campaign.pk),
        name=campaign.name,
        campaign_type=campaign.campaign_type,
        status=campaign.status,
        version=campaign.version,
        total_items=campaign.total_items,
        processed_items=campaign.processed_items,
        successful_items=campaign.successful_items,
        failed_items=campaign.failed_items,
        percent=campaign.progress_percent,
        rate_per_s=live.rate_per_s,
        eta_s=live.eta_s,
        error_message=campaign.error_message,
        started_at=campaign.started_at,
        finished_at=campaign.finished_at,
    )


def campaign_history(*, campaign: Campaign) -> QuerySet[CampaignStateEvent]:
    return campaign.state_events.order_by("sequence")


def work_remaining() -> bool:
    """Whether any job could still be run, or any phase finished, by some worker (for `run_worker --burst`)."""
    active = [CampaignStatus.QUEUED, CampaignStatus.RUNNING]
    if Campaign.objects.filter(status=CampaignStatus.QUEUED).exists():
        return True
    if CampaignJob.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING], campaign__status__in=active).exists():
        return True
    return bool(phases_idle(limit=1))


# Statuses in which a campaign may still run (or be retried) and so still needs its configuration.
LIVE_STATUSES = (
    CampaignStatus.PENDING,
    CampaignStatus.QUEUED,
    CampaignStatus.RUNNING,
    CampaignStatus.PAUSED,
    CampaignStatus.FAILED,
)


def _named_in_chain(phase: str, key: str, values: tuple[object, ...]) -> Q:
    """Campaigns whose chain_params name one of `values` under phase.key (as one value or in a list)."""
    found = Q(pk__in=[])
    for value in values:
        found |= Q(chain_params__contains={phase: {key: value}}) | Q(chain_params__contains={phase: {key: [value]}})
    return found


def campaigns_using_config(obj: DnsPersona | HttpPersona | KeywordSet | Proxy) -> QuerySet[Campaign]:
    """Live campaigns whose params, or whose chained next phase, use this persona, keyword set or proxy.

    Params keep ids in arrays (no foreign key) and chain_params keep names or ids,
    so deleting the object would break these campaigns at their next batch.
    """
    refs = (obj.name, obj.pk)
    if isinstance(obj, DnsPersona):
        uses = Q(dns_params__persona_ids__contains=[obj.pk]) | _named_in_chain("dns_validation", "personas", refs)
    elif isinstance(obj, HttpPersona):
        uses = Q(http_params__persona_id=obj.pk) | _named_in_chain("http_keyword_validation", "persona", refs)
    elif isinstance(obj, KeywordSet):
        uses = Q(http_params__keyword_set_ids__contains=[obj.pk]) | _named_in_chain(
            "http_keyword_validation", "keyword_sets", refs
        )
    else:
        uses = Q(http_params__proxy_ids__contains=[obj.pk])
    return Campaign.objects.filter(uses, status__in=LIVE_STATUSES).order_by("created_at")
