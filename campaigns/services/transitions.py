"""campaign_transition: the one way a campaign's status changes (DESIGN §4).

Lock order, everywhere in the write side: campaign row, then its jobs, then
its results. The campaign row is locked FOR NO KEY UPDATE, which still lets
workers insert rows that reference it.
"""
from __future__ import annotations

from typing import Callable
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Max
from django.utils import timezone
from django_fsm import can_proceed

from campaigns.models import AuditLog, Campaign, CampaignStateEvent
from campaigns.models.campaign import TRANSITIONS
from campaigns.services import jobs as job_effects
from campaigns.services.access import Actor, actor_label_of, audit_record, audited_refusals, ensure_can_access
from campaigns.services.errors import CampaignError, CampaignNotFound, StaleCampaign, TransitionNotAllowed
from txmetrics.decorators import safe_transaction


def lock_campaign(campaign_id: UUID | str) -> Campaign:
    try:
        return Campaign.objects.select_for_update(no_key=True).get(pk=campaign_id)
    except (Campaign.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise CampaignNotFound(campaign_id) from exc


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
    return apply_transition(
        campaign,
        transition=transition,
        actor=actor,
        actor_label=actor_label,
        expected_version=expected_version,
        reason=reason,
    )


def apply_transition(
    campaign: Campaign,
    *,
    transition: str,
    actor: Actor,
    actor_label: str = "",
    expected_version: int | None = None,
    reason: str = "",
) -> Campaign:
    """The body of campaign_transition, for callers already holding the campaign's row lock."""
    if expected_version is not None and campaign.version != expected_version:
        raise StaleCampaign(campaign.pk, expected=expected_version, actual=campaign.version)
    method = getattr(campaign, transition)
    if not can_proceed(method):
        raise TransitionNotAllowed(transition=transition, status=campaign.status)
    from_status = campaign.status
    method()
    _EFFECTS.get(transition, _no_effect)(campaign, reason)
    record_transition(
        campaign, from_status=from_status, transition=transition, actor=actor, actor_label=actor_label, reason=reason
    )
    if transition == "complete" and campaign.chain_next:
        _chain(campaign)
    return campaign


def record_transition(
    campaign: Campaign, *, from_status: str, transition: str, actor: Actor, actor_label: str, reason: str
) -> CampaignStateEvent:
    """Bump the version, save the row, append the state event and the audit row."""
    label = actor_label or actor_label_of(actor)
    campaign.version += 1
    campaign.save()
    last = CampaignStateEvent.objects.filter(campaign=campaign).aggregate(last=Max("sequence"))["last"] or 0
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    event = CampaignStateEvent.objects.create(
        campaign=campaign,
        sequence=last + 1,
        from_status=from_status,
        to_status=campaign.status,
        transition=transition,
        actor=user,
        actor_label=label,
        reason=reason,
        campaign_version=campaign.version,
    )
    audit_record(
        actor=actor,
        actor_label=label,
        action=f"campaign.{transition}",
        entity_type="campaign",
        entity_id=campaign.pk,
        details={"from": from_status, "to": campaign.status, "version": campaign.version, "reason": reason},
        decision=AuditLog.Decision.ALLOWED,
    )
    return event


def _chain(campaign: Campaign) -> None:
    """Create and start the next phase; if that fails, the completion stands and the failure is audited."""
    from campaigns.services.validation import chain_next_phase

    try:
        with transaction.atomic():  # a savepoint: a refused chain never undoes the completion
            chain_next_phase(campaign)
    except (CampaignError, DatabaseError, ValueError) as exc:
        audit_record(
            actor=None,
            actor_label="system",
            action="campaign.chain",
            entity_type="campaign",
            entity_id=campaign.pk,
            details={"error": str(exc)},
            decision=AuditLog.Decision.DENIED,
        )


def _no_effect(campaign: Campaign, reason: str) -> None:
    pass


def _on_start(campaign: Campaign, reason: str) -> None:
    campaign.started_at = timezone.now()
    job_effects.jobs_create_for_start(campaign)


def _on_complete(campaign: Campaign, reason: str) -> None:
    campaign.finished_at = timezone.now()


def _on_fail(campaign: Campaign, reason: str) -> None:
    campaign.finished_at = timezone.now()
    campaign.error_message = reason


def _on_retry(campaign: Campaign, reason: str) -> None:
    campaign.finished_at = None
    campaign.error_message = ""
    job_effects.jobs_requeue_failed(campaign)


def _on_cancel(campaign: Campaign, reason: str) -> None:
    campaign.finished_at = timezone.now()
    job_effects.jobs_cancel_unfinished(campaign)


_EFFECTS: dict[str, Callable[[Campaign, str], None]] = {
    "start": _on_start,
    "complete": _on_complete,
    "fail": _on_fail,
    "retry": _on_retry,
    "cancel": _on_cancel,
}
