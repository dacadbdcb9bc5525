"""The read side of pipelines: a generation campaign and the phases it fed.

A pipeline is named by its first phase's id. Its later phases are the
campaigns reached through `Campaign.source_campaign` (the reverse relation
`fed_campaigns`), in creation order.
"""
from __future__ import annotations

from campaigns.models import Campaign, CampaignType
from campaigns.services.access import Actor, campaigns_visible_to
from campaigns.services.errors import CampaignError

# A chain is generation → DNS → HTTP; the bound only guards against a cycle in bad data.
MAX_PHASES = 16


class PhaseNotInPipeline(CampaignError):
    """The pipeline has no phase of the requested type."""


def pipeline_root(campaign: Campaign) -> Campaign:
    """The first phase of the pipeline this campaign belongs to."""
    seen = {campaign.pk}
    while campaign.source_campaign_id is not None and len(seen) < MAX_PHASES:
        campaign = Campaign.objects.select_related("source_campaign").get(pk=campaign.source_campaign_id)
        if campaign.pk in seen:
            break
        seen.add(campaign.pk)
    return campaign


def pipeline_phases(*, actor: Actor, root: Campaign) -> list[Campaign]:
    """The root and every campaign it fed, directly or not, that the actor may see: breadth first, oldest first."""
    phases, frontier, seen = [root], [root.pk], {root.pk}
    while frontier and len(phases) < MAX_PHASES:
        fed = list(
            campaigns_visible_to(actor, Campaign.objects.filter(source_campaign_id__in=frontier))
            .exclude(pk__in=seen)
            .order_by("created_at", "pk")
        )
        phases += fed
        frontier = [c.pk for c in fed]
        seen.update(frontier)
    return phases[:MAX_PHASES]


PHASE_NAMES = {
    "generation": CampaignType.DOMAIN_GENERATION,
    "dns": CampaignType.DNS_VALIDATION,
    "http": CampaignType.HTTP_KEYWORD_VALIDATION,
}


def pipeline_phase(*, actor: Actor, campaign: Campaign, phase: str) -> Campaign:
    """The first campaign of type `phase` (generation, dns, http) in this campaign's pipeline."""
    wanted = PHASE_NAMES[phase]
    for candidate in pipeline_phases(actor=actor, root=pipeline_root(campaign)):
        if candidate.campaign_type == wanted:
            return candidate
    raise PhaseNotInPipeline(f"The pipeline of campaign {campaign.pk} has no {phase} phase (yet).")
