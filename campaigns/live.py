"""Honest live progress: derived states, outcome splits, rate over active time.

Read side only; the console's screens, the commands and selectors.campaign_progress
all read it. `live_progress` takes any number of campaigns and asks the database a
fixed number of questions (jobs, state events; negative answers are the row's own
counter), never one per campaign, so a poll of 50 rows costs what a poll of 1 does.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone

from campaigns import vocabulary as words
from campaigns.models import Campaign, CampaignJob, CampaignStateEvent, CampaignStatus, CampaignType

# Statuses after which a campaign's numbers no longer move.
SETTLED_STATUSES = frozenset(
    {CampaignStatus.COMPLETED, CampaignStatus.FAILED, CampaignStatus.CANCELLED, CampaignStatus.ARCHIVED}
)
ACTIVE_STATUSES = frozenset({CampaignStatus.QUEUED, CampaignStatus.RUNNING})
SOURCE_STILL_PRODUCING = frozenset({CampaignStatus.QUEUED, CampaignStatus.RUNNING, CampaignStatus.PAUSED})
# A poll counts at most this many queued (and running) jobs per campaign ("more than 10,000"
# beyond): a phase started over a large finished source gets all its jobs at once, and counting
# them all on every poll would cost more the larger the source.
JOB_COUNT_CAP = 10_000

# "Completed with errors": a completed campaign whose errors (failures that are not
# negative answers) exceed this share of its processed items, or that processed
# items and had no success at all. Documented in docs/DECISIONS.md.
ERROR_THRESHOLD_PERCENT = 1.0

# The columns this module reads (plus the source's status, annotated).
LIVE_FIELDS = (
    "id", "name", "campaign_type", "status", "version", "owner_id", "source_campaign_id", "chain_next", "created_at",
    "total_items", "processed_items", "successful_items", "failed_items", "negative_items", "error_message",
    "started_at", "finished_at",
)
NEGATIVE_LABELS = {CampaignType.DNS_VALIDATION: "unresolved", CampaignType.HTTP_KEYWORD_VALIDATION: "error status"}
SUCCESS_LABELS = {
    CampaignType.DOMAIN_GENERATION: "generated",
    CampaignType.DNS_VALIDATION: "resolved",
    CampaignType.HTTP_KEYWORD_VALIDATION: "fetched",
}


def with_source_status(queryset: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """The source's status in the same query: derived_state tells "waiting for input" by it."""
    return queryset.annotate(source_status=F("source_campaign__status"))


def live_queryset(queryset: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """The columns live_progress needs, and the source's status."""
    return with_source_status(queryset.only(*LIVE_FIELDS))


@dataclass(frozen=True)
class LiveProgress:
    id: str
    name: str
    campaign_type: str
    status: str
    state: str  # a status or a derived state: completed_with_errors, waiting_for_input, waiting_for_worker
    state_text: str
    settled: bool
    version: int
    total: int
    processed: int
    successful: int
    negative: int  # failed items that were an answer: unresolved names, error statuses
    errors: int  # failed items that were not: timeouts, refusals, broken answers
    percent: float
    rate_per_s: float | None
    eta_s: float | None
    active_s: float
    queued_jobs: int  # counted up to JOB_COUNT_CAP + 1
    running_jobs: int  # likewise
    source_id: str | None
    error_message: str
    started_at: datetime | None
    finished_at: datetime | None
    texts: dict[str, str] = field(default_factory=dict)

    @property
    def type_label(self) -> str:
        return words.type_label(self.campaign_type)

    @property
    def success_label(self) -> str:
        return SUCCESS_LABELS.get(self.campaign_type, "successful")

    @property
    def negative_label(self) -> str:
        return NEGATIVE_LABELS.get(self.campaign_type, "")

    def share(self, part: int) -> float:
        return round(100.0 * part / self.total, 2) if self.total else 0.0

    @property
    def bar(self) -> dict[str, float]:
        return {"successful": self.share(self.successful), "negative": self.share(self.negative), "errors": self.share(self.errors)}

    def as_dict(self) -> dict[str, object]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("started_at", "finished_at")}
        data["started_at"] = self.started_at.isoformat() if self.started_at else None
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        data["bar"] = self.bar
        return data


def active_seconds(events: Sequence[tuple[str, datetime]], *, now: datetime) -> float:
    """Seconds spent running, from (to_status, at) events in order: queued and paused time does not count."""
    total = 0.0
    since: datetime | None = None
    for to_status, at in events:
        if to_status == CampaignStatus.RUNNING and since is None:
            since = at
        elif to_status != CampaignStatus.RUNNING and since is not None:
            total += (at - since).total_seconds()
            since = None
    if since is not None:
        total += (now - since).total_seconds()
    return max(total, 0.0)


def derived_state(c: Campaign, *, negative: int, queued: int, running: int) -> tuple[str, str]:
    """(state key, text people read) for one campaign."""
    status = c.status
    if status == CampaignStatus.COMPLETED:
        errors = max(c.failed_items - negative, 0)
        no_success = c.processed_items > 0 and c.successful_items == 0
        if no_success or errors * 100 > ERROR_THRESHOLD_PERCENT * max(c.processed_items, 1):
            return "completed_with_errors", words.status_label("completed_with_errors")
    if status in ACTIVE_STATUSES and c.campaign_type != CampaignType.DOMAIN_GENERATION:
        source_status = getattr(c, "source_status", None)
        if queued == 0 and running == 0 and source_status in SOURCE_STILL_PRODUCING:
            return "waiting_for_input", f"Waiting for input ({words.status_label(source_status).lower()} source)"
    if status in ACTIVE_STATUSES and queued > 0 and running == 0:
        count = f"more than {words.number(JOB_COUNT_CAP)}" if queued > JOB_COUNT_CAP else words.number(queued)
        return "waiting_for_worker", f"Waiting for a worker ({count} queued)"
    return status, words.status_label(status)


_JOB_COUNTS_SQL = f"""
SELECT c.id,
       (SELECT count(*) FROM (SELECT 1 FROM {CampaignJob._meta.db_table} j
                              WHERE j.campaign_id = c.id AND j.status = 'queued' LIMIT %(count_to)s) AS q),
       (SELECT count(*) FROM (SELECT 1 FROM {CampaignJob._meta.db_table} j
                              WHERE j.campaign_id = c.id AND j.status = 'running' LIMIT %(count_to)s) AS r)
FROM unnest(%(ids)s::uuid[]) AS c(id)
"""


def _job_counts(ids: list[UUID]) -> dict[UUID, tuple[int, int]]:
    """(queued, running) jobs by campaign, each counted up to JOB_COUNT_CAP + 1."""
    with connection.cursor() as cursor:
        cursor.execute(_JOB_COUNTS_SQL, {"ids": ids, "count_to": JOB_COUNT_CAP + 1})
        return {campaign_id: (queued, running) for campaign_id, queued, running in cursor.fetchall()}


def _events(ids: list[UUID]) -> dict[UUID, list[tuple[str, datetime]]]:
    events: dict[UUID, list[tuple[str, datetime]]] = defaultdict(list)
    rows = CampaignStateEvent.objects.filter(campaign_id__in=ids).order_by("campaign_id", "sequence")
    for campaign_id, to_status, at in rows.values_list("campaign_id", "to_status", "created_at"):
        events[campaign_id].append((to_status, at))
    return events


def live_progress(campaigns: Iterable[Campaign]) -> dict[str, LiveProgress]:
    """LiveProgress by campaign id, for campaigns loaded through live_queryset: two queries at most."""
    campaigns = list(campaigns)
    if not campaigns:
        return {}
    ids = [c.pk for c in campaigns]
    jobs, events = _job_counts(ids), _events(ids)
    now = timezone.now()
    out: dict[str, LiveProgress] = {}
    for c in campaigns:
        negative = min(c.negative_items, c.failed_items)
        queued, running = jobs.get(c.pk, (0, 0))
        state, state_text = derived_state(c, negative=negative, queued=queued, running=running)
        end = c.finished_at if c.status in SETTLED_STATUSES and c.finished_at else now
        active = active_seconds(events.get(c.pk, []), now=end)
        rate, eta = rate_and_eta(c, active=active, state=state)
        out[str(c.pk)] = _build(c, state, state_text, negative, queued, running, active, rate, eta)
    return out


def rate_and_eta(c: Campaign, *, active: float, state: str) -> tuple[float | None, float | None]:
    """Items per second of active time, and the seconds left at that rate.

    The one computation of both: selectors.campaign_progress (the command line's --json,
    progress.json) reads them through live_progress, so no two screens disagree. Queued and
    paused time do not count, and a campaign waiting for a worker or for input has no ETA:
    its rate says nothing about when the wait ends.
    """
    # While a campaign runs, a rate over less than a second of work says little (one batch
    # landing early); a settled campaign's rate is final, however short its work was.
    measured = active >= 1 or (active > 0 and c.status in SETTLED_STATUSES)
    rate = c.processed_items / active if measured and c.processed_items else None
    eta = None
    if rate and c.status == CampaignStatus.RUNNING and state == CampaignStatus.RUNNING:
        eta = max(c.total_items - c.processed_items, 0) / rate
    return rate, eta


def _build(c, state, state_text, negative, queued, running, active, rate, eta) -> LiveProgress:
    percent = round(min(100.0, 100.0 * c.processed_items / c.total_items), 1) if c.total_items else 0.0
    errors = max(c.failed_items - negative, 0)
    p = LiveProgress(
        id=str(c.pk), name=c.name, campaign_type=c.campaign_type, status=c.status, state=state, state_text=state_text,
        settled=c.status in SETTLED_STATUSES, version=c.version, total=c.total_items, processed=c.processed_items,
        successful=c.successful_items, negative=negative, errors=errors, percent=percent,
        rate_per_s=round(rate, 1) if rate is not None else None, eta_s=round(eta) if eta is not None else None,
        active_s=round(active, 1), queued_jobs=queued, running_jobs=running,
        source_id=str(c.source_campaign_id) if c.source_campaign_id else None, error_message=c.error_message,
        started_at=c.started_at, finished_at=c.finished_at,
    )
    p.texts.update(
        state=state_text, type=p.type_label, percent=words.percent(percent), processed=words.number(p.processed),
        total=words.number(p.total), successful=words.number(p.successful), negative=words.number(negative),
        errors=words.number(errors), rate=words.rate(p.rate_per_s), eta=words.duration(p.eta_s),
        active=words.duration(active), started=words.moment(c.started_at), finished=words.moment(c.finished_at),
        bar_label=f"{p.name}: {words.percent(percent)} processed, {words.number(p.successful)} {p.success_label}, "
        f"{words.number(negative + errors)} failed",
    )
    return p
