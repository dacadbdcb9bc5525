"""campaign_transition: the one way an operator changes a campaign's status.

The transition itself (campaigns.services.state) changes state and records
it; what it means for the rest of the pipeline is a step of its own, here:
starting a phase creates its first work and starts the phases it feeds,
cancelling cancels them, retrying reopens the ones that ended for want of input.
"""
from __future__ import annotations

from uuid import UUID

from campaigns.models import Campaign, CampaignStatus
from campaigns.models.campaign import TRANSITIONS
from campaigns.services.access import Actor, actor_label_of, audited_refusals, ensure_can_access
from campaigns.services.feed import feed_start, phases_fed_finish_if_done
from campaigns.services.state import apply_transition, lock_campaign
from txmetrics.decorators import safe_transaction

S = CampaignStatus
# The statuses of the later phases a cancel goes on to (the console names them before it asks).
CANCELLABLE = (S.PENDING, S.QUEUED, S.RUNNING, S.PAUSED)


@audited_refusals("campaign.{transition}")
@safe_transaction(operation="campaign.{transition}")
def campaign_transition(
    *,
    campaign_id: UUID | str,
    transition: str,
    actor: Actor,
    expected_version: int | None = None,
    reason: str = "",
    actor_label: str = "",
) -> Campaign:
    """Apply one named transition to a campaign, as `actor`, in its own transaction."""
    if transition not in TRANSITIONS:
        raise ValueError(f"unknown transition {transition!r}; expected one of {', '.join(TRANSITIONS)}")
    campaign = lock_campaign(campaign_id)
    ensure_can_access(actor, campaign)
    return campaign_transition_locked(
        campaign, transition=transition, actor=actor, actor_label=actor_label, expected_version=expected_version, reason=reason
    )


def campaign_transition_locked(
    campaign: Campaign,
    *,
    transition: str,
    actor: Actor,
    actor_label: str = "",
    expected_version: int | None = None,
    reason: str = "",
) -> Campaign:
    """The body of campaign_transition, for callers already holding the campaign's row lock."""
    apply_transition(
        campaign, transition=transition, actor=actor, actor_label=actor_label, expected_version=expected_version, reason=reason
    )
    pipeline_follow(campaign, transition=transition, actor=actor)
    return campaign


def pipeline_follow(campaign: Campaign, *, transition: str, actor: Actor) -> None:
    """What a phase's transition means for its own work and for the phases it feeds (same transaction)."""
    if transition == "start":
        feed_start(campaign)
        _downstream(campaign, from_statuses=(S.PENDING,), transition="start", actor=actor, reason="its pipeline started")
    elif transition == "cancel":
        _downstream(campaign, from_statuses=CANCELLABLE, transition="cancel", actor=actor,
                    reason=f"its source phase “{campaign.name}” was cancelled")
    elif transition == "retry":
        _downstream(campaign, from_statuses=(S.COMPLETED,), transition="reopen", actor=actor,
                    reason=f"its source phase “{campaign.name}” was retried")
    elif transition in ("complete", "fail"):
        phases_fed_finish_if_done(campaign, actor_label=actor_label_of(actor))


def _downstream(campaign: Campaign, *, from_statuses, transition: str, actor: Actor, reason: str) -> None:
    """Apply a transition to every later phase in one of from_statuses, in pipeline order."""
    for fed in Campaign.objects.select_for_update(no_key=True).filter(source_campaign=campaign).order_by("id"):
        if fed.status in from_statuses:
            apply_transition(fed, transition=transition, actor=actor, reason=reason)
            if transition == "start":
                feed_start(fed)
        _downstream(fed, from_statuses=from_statuses, transition=transition, actor=actor, reason=reason)
