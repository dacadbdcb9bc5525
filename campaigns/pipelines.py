"""The read side of pipelines: a generation campaign and the phases it fed.

A pipeline is named by its first phase's id. Its later phases are the
campaigns reached through `Campaign.source_campaign` (the reverse relation
`fed_campaigns`), in creation order.
"""
from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from campaigns.models import Campaign, CampaignType
from campaigns.services.access import Actor, campaigns_visible_to
from campaigns.services.errors import CampaignError

# A chain is generation → DNS → HTTP; the bound only guards against a cycle in bad data.
MAX_PHASES = 16


class PhaseNotInPipeline(CampaignError):
    """The pipeline has no phase of the requested type."""


def pipeline_root_id(*, actor: Actor, campaign: Campaign) -> UUID:
    """The id of the first phase, visible to the actor, of the pipeline this campaign belongs to."""
    visible = campaigns_visible_to(actor)
    current, source = campaign.pk, campaign.source_campaign_id
    for _ in range(MAX_PHASES):
        if source is None:
            break
        row = visible.filter(pk=source).values_list("pk", "source_campaign_id").first()
        if row is None:
            break
        current, source = row
    return current


def pipeline_root(*, actor: Actor, campaign: Campaign) -> Campaign:
    """The first phase, visible to the actor, of the pipeline this campaign belongs to."""
    return Campaign.objects.get(pk=pipeline_root_id(actor=actor, campaign=campaign))


def pipelines_phases(
    *, actor: Actor, roots: list[Campaign], queryset: QuerySet[Campaign] | None = None
) -> dict[UUID, list[Campaign]]:
    """Each root with every campaign it fed, directly or not, that the actor may see: one query per
    level of the pipelines (not per campaign), oldest first within a level. `queryset` shapes the rows
    (e.g. the live columns)."""
    visible = campaigns_visible_to(actor, queryset).order_by("created_at", "pk")
    members: dict[UUID, list[Campaign]] = {root.pk: [root] for root in roots}
    root_of = {root.pk: root.pk for root in roots}
    frontier = list(root_of)
    for _ in range(MAX_PHASES):
        if not frontier:
            break
        fed = list(visible.filter(source_campaign_id__in=frontier).exclude(pk__in=list(root_of)))
        frontier = []
        for campaign in fed:
            root_of[campaign.pk] = root_of[campaign.source_campaign_id]
            members[root_of[campaign.pk]].append(campaign)
            frontier.append(campaign.pk)
    return members


def pipeline_phases(*, actor: Actor, root: Campaign) -> list[Campaign]:
    """The root and every campaign it fed, directly or not, that the actor may see."""
    return pipelines_phases(actor=actor, roots=[root])[root.pk]


def phases_after(*, actor: Actor, campaign_id: UUID | str) -> list[Campaign]:
    """Every campaign this one fed, directly or not, that the actor may see, in pipeline order; none
    if the actor may not see the campaign."""
    campaign = campaigns_visible_to(actor).filter(pk=campaign_id).first()
    return pipeline_phases(actor=actor, root=campaign)[1:] if campaign is not None else []


def later_versions(*, actor: Actor, campaign_id: UUID | str) -> dict[UUID, int]:
    """The version of each later phase (phases_after): read before a transition, it tells afterwards
    which of them the transition went on to (services/transitions.pipeline_follow)."""
    return {phase.pk: phase.version for phase in phases_after(actor=actor, campaign_id=campaign_id)}


def phases_moved(*, actor: Actor, campaign_id: UUID | str, versions: dict[UUID, int]) -> list[Campaign]:
    """The later phases whose version moved since `versions` (later_versions) was read."""
    return [phase for phase in phases_after(actor=actor, campaign_id=campaign_id)
            if phase.pk in versions and phase.version != versions[phase.pk]]


PHASE_NAMES = {
    "generation": CampaignType.DOMAIN_GENERATION,
    "dns": CampaignType.DNS_VALIDATION,
    "http": CampaignType.HTTP_KEYWORD_VALIDATION,
}


def pipeline_phase(*, actor: Actor, campaign: Campaign, phase: str) -> Campaign:
    """The first campaign of type `phase` (generation, dns, http) in this campaign's pipeline."""
    wanted = PHASE_NAMES[phase]
    for candidate in pipeline_phases(actor=actor, root=pipeline_root(actor=actor, campaign=campaign)):
        if candidate.campaign_type == wanted:
            return candidate
    raise PhaseNotInPipeline(f"The pipeline of campaign {campaign.pk} has no {phase} phase (yet).")
