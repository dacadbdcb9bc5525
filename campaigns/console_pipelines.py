"""Pipelines on the console's screens: a first campaign and the phases chained from it, read as one unit.

A pipeline is named by its first phase's id; all its phases exist from its
creation (docs/ARCHITECTURE.md). They are found by following `fed_campaigns` one
level at a time (campaigns.pipelines): the number of queries grows with the
chain's length (three phases), never with the number of pipelines shown.
"""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet

from campaigns import console_queries as queries
from campaigns import vocabulary as words
from campaigns.exports import FORMATS, SOURCES
from campaigns.live import LiveProgress, live_progress, live_queryset
from campaigns.models import Campaign, CampaignStatus, CampaignType
from campaigns.pipelines import pipeline_root_id, pipelines_phases
from campaigns.selectors import campaign_history
from campaigns.services.access import Actor, campaigns_visible_to

DASHBOARD_PAGE_SIZE = 50


@dataclass(frozen=True)
class FunnelStep:
    key: str
    label: str
    count: int | None  # None: the phase that produces it does not exist (yet)
    conversion: float | None  # percent of the step before
    more: bool = False  # counted up to its cap: the true count (and conversion) is larger

    @property
    def count_text(self) -> str:
        return f"more than {words.number(self.count)}" if self.more else words.number(self.count)

    @property
    def conversion_text(self) -> str:
        if self.conversion is None:
            return ""
        return f"more than {words.percent(self.conversion)}" if self.more else words.percent(self.conversion)


@dataclass(frozen=True)
class Pipeline:
    id: str
    name: str
    phases: list[LiveProgress]
    funnel: list[FunnelStep]
    settled: bool
    current: LiveProgress  # the phase whose state the pipeline's row shows


@dataclass(frozen=True)
class PhaseChain:
    source: LiveProgress | None  # None: a first phase, or a source this actor cannot see
    fed: list[LiveProgress]


def phase_chain(*, pipeline: Pipeline, focus: LiveProgress) -> PhaseChain:
    """What a phase consumes and what it feeds, among its pipeline's phases: no walk of its own."""
    source = next((p for p in pipeline.phases if focus.source_id is not None and p.id == focus.source_id), None)
    return PhaseChain(source=source, fed=[p for p in pipeline.phases if p.source_id == focus.id])


def roots_visible_to(actor: Actor) -> QuerySet[Campaign]:
    """First phases: campaigns with no source, or whose source this actor cannot see."""
    visible = campaigns_visible_to(actor)
    return visible.filter(Q(source_campaign__isnull=True) | ~Q(source_campaign__in=visible.values("pk")))


def pipeline_page(*, actor: Actor, page: object = 1, status: str | None = None) -> Page:
    """A page of pipelines (their first phases), newest first."""
    roots = live_queryset(roots_visible_to(actor)).order_by("-created_at", "-id")
    if status in CampaignStatus.values:
        roots = roots.filter(status=status)
    return Paginator(roots, DASHBOARD_PAGE_SIZE).get_page(page)


def pipelines(*, actor: Actor, roots: list[Campaign]) -> list[Pipeline]:
    """The pipelines of these first phases, with every phase's live progress and the funnel."""
    if not roots:
        return []
    members = pipelines_phases(actor=actor, roots=roots, queryset=live_queryset(Campaign.objects.all()))
    everything = [c for phases in members.values() for c in phases]
    progress = live_progress(everything)
    # Counted up to a cap, not in full: every poll asks, and no counter on the row holds them.
    leads = queries.matches_counted([c.pk for c in everything if c.campaign_type == CampaignType.HTTP_KEYWORD_VALIDATION])
    return [_pipeline(r, members[r.pk], progress, leads) for r in roots]


def _pipeline(root: Campaign, phases: list[Campaign], progress: dict[str, LiveProgress], leads) -> Pipeline:
    shown = [progress[str(c.pk)] for c in phases]
    # Every phase of a pipeline exists from its creation: it is settled once they all are.
    unfinished = [p for p in shown if not p.settled]
    return Pipeline(
        id=str(root.pk), name=root.name, phases=shown, funnel=funnel(phases=phases, progress=progress, leads=leads),
        settled=not unfinished, current=unfinished[0] if unfinished else shown[-1],
    )


def funnel(*, phases: list[Campaign], progress: dict[str, LiveProgress], leads: dict[UUID, int]) -> list[FunnelStep]:
    """Names generated → resolved → fetched → matched, each with its conversion from the step before."""
    by_type: dict[str, Campaign] = {}
    for c in phases:
        by_type.setdefault(c.campaign_type, c)

    def successful(campaign_type: str) -> int | None:
        c = by_type.get(campaign_type)
        return None if c is None else progress[str(c.pk)].successful

    http = by_type.get(CampaignType.HTTP_KEYWORD_VALIDATION)
    matched = None if http is None else leads.get(http.pk, 0)
    more_matched = matched is not None and matched > queries.RESULT_COUNT_CAP
    counts = [
        ("generated", "Names generated", successful(CampaignType.DOMAIN_GENERATION), False),
        ("resolved", "Resolved", successful(CampaignType.DNS_VALIDATION), False),
        ("fetched", "Fetched", successful(CampaignType.HTTP_KEYWORD_VALIDATION), False),
        ("matched", "Matched keywords", queries.RESULT_COUNT_CAP if more_matched else matched, more_matched),
    ]
    steps: list[FunnelStep] = []
    previous: int | None = None
    for key, label, count, more in counts:
        if count is None:
            continue
        conversion = round(100.0 * count / previous, 1) if previous else (None if previous is None else 0.0)
        steps.append(FunnelStep(key, label, count, conversion, more))
        previous = count
    return steps


def campaign_view(*, actor: Actor, campaign: Campaign, details: bool = True) -> dict[str, object]:
    """Everything a campaign's page shows: its pipeline (phases, funnel, chain) and this phase's own details.

    Every poll asks for it, so nothing here reads more result rows for a larger campaign: the
    counts come from the campaign rows' counters or are capped (queries.RESULT_COUNT_CAP), the
    preview is the first few rows. Top keywords need every row: they have their own page,
    counted on request (views.campaign_keywords). The admin's live panel shows no results:
    `details=False` leaves them out of its polls.
    """
    root = live_queryset(Campaign.objects.filter(pk=pipeline_root_id(actor=actor, campaign=campaign))).get()
    pipeline = pipelines(actor=actor, roots=[root])[0]
    focus = next((p for p in pipeline.phases if p.id == str(campaign.pk)), None)
    if focus is None:  # deeper than the walk: show the phase on its own
        focus = live_progress(live_queryset(Campaign.objects.filter(pk=campaign.pk)))[str(campaign.pk)]
    view: dict[str, object] = {
        "campaign": campaign,
        "pipeline": pipeline,
        "progress": focus,
        "history": list(campaign_history(campaign=campaign).select_related("actor")),
        "formats": FORMATS,
        "exportable": campaign.campaign_type in SOURCES,
    }
    view["chain"] = phase_chain(pipeline=pipeline, focus=focus)
    if details:
        view["results"] = queries.result_summary(campaign=campaign)
    return view
