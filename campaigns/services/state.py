"""A campaign's state: lock it, apply one transition, record it (version, event, audit).

Lock order, everywhere in the write side: campaign rows in pipeline order
(generation, then DNS, then HTTP; by id among equals), then jobs, then results.
A batch's transaction is the one exception, and it is safe: it locks its own
job first (the proof of its lease), then its campaign's row with one UPDATE at
the end, and no transition waits on a running job's row. Campaign rows are
locked FOR NO KEY UPDATE, which still lets workers insert rows that reference them.
"""
from __future__ import annotations

from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils import timezone
from django_fsm import can_proceed

from campaigns.models import AuditLog, Campaign, CampaignStateEvent
from campaigns.services import jobs
from campaigns.services.access import Actor, actor_label_of, audit_record
from campaigns.services.errors import CampaignNotFound, StaleCampaign, TransitionNotAllowed


def lock_campaign(campaign_id: UUID | str) -> Campaign:
    try:
        return Campaign.objects.select_for_update(no_key=True).get(pk=campaign_id)
    except (Campaign.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise CampaignNotFound(campaign_id) from exc


def apply_transition(
    campaign: Campaign,
    *,
    transition: str,
    actor: Actor,
    actor_label: str = "",
    expected_version: int | None = None,
    reason: str = "",
) -> Campaign:
    """Change a locked campaign's status and record it; effects on its own jobs only."""
    if expected_version is not None and campaign.version != expected_version:
        raise StaleCampaign(campaign.pk, expected=expected_version, actual=campaign.version)
    method = getattr(campaign, transition)
    if not can_proceed(method):
        raise TransitionNotAllowed(transition=transition, status=campaign.status)
    from_status = campaign.status
    method()
    now = timezone.now()
    if transition == "start":
        campaign.started_at = now
    elif transition in ("complete", "fail", "cancel"):
        campaign.finished_at = now
        campaign.error_message = reason if transition == "fail" else ""
    elif transition in ("retry", "reopen"):
        campaign.finished_at = None
        campaign.error_message = ""
    if transition == "retry":
        jobs.jobs_requeue_failed(campaign.pk)
    elif transition == "cancel":
        jobs.jobs_cancel_queued(campaign.pk)
    record_transition(
        campaign, from_status=from_status, transition=transition, actor=actor, actor_label=actor_label, reason=reason
    )
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
