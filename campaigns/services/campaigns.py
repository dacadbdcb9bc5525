"""Creating and editing campaigns: campaign_create (a phase, or a whole pipeline) and campaign_update."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence
from uuid import UUID

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from campaigns.models import Campaign, CampaignStateEvent, CampaignStatus, CampaignType
from campaigns.services.access import Actor, actor_label_of, audit_record, audited_refusals, ensure_can_access
from campaigns.services.errors import CampaignError, InvalidCampaignParams, StaleCampaign
from campaigns.services.params import NEXT_TYPE, SaveParams, build_params, check_source
from campaigns.services.state import lock_campaign
from campaigns.services.transitions import campaign_transition_locked
from txmetrics.decorators import safe_transaction

PHASE_NAMES = {CampaignType.DNS_VALIDATION: "DNS", CampaignType.HTTP_KEYWORD_VALIDATION: "HTTP"}


@dataclass(frozen=True)
class CreateStep:
    """One step of campaign creation; an optional step's failure rolls back only that step."""

    name: str
    run: Callable[[Campaign], None]
    required: bool = True


@dataclass
class CreateOutcome:
    campaign: Campaign
    warnings: list[str] = field(default_factory=list)
    # The later phases of a pipeline, in order (empty for a single campaign).
    phases: list[Campaign] = field(default_factory=list)


def campaign_create(
    *,
    actor: Actor,
    name: str,
    campaign_type: str,
    params: dict[str, Any],
    owner_id: int | None = None,
    source_campaign_id: UUID | str | None = None,
    chain_next: bool = False,
    chain_params: dict[str, Any] | None = None,
    start: bool = False,
    extra_steps: Sequence[CreateStep] = (),
) -> CreateOutcome:
    """Create a campaign with its params, creation event and audit row; optionally start it.

    With chain_next, the phases named in chain_params are created with it, each
    reading the one before: the whole pipeline exists from the start.
    """
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise CampaignError("You must be signed in to create a campaign.")
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidCampaignParams({"name": "must be 1 to 200 characters"})
    if campaign_type not in CampaignType.values:
        raise InvalidCampaignParams({"campaign_type": f"must be one of {', '.join(CampaignType.values)}"})
    owner_id = owner_id or actor.pk
    if owner_id != actor.pk and not actor.is_staff:
        raise CampaignError("Only staff can create campaigns for another user.")
    if not get_user_model().objects.filter(pk=owner_id, is_active=True).exists():
        raise InvalidCampaignParams({"owner": f"no active user with id {owner_id}"})
    chain_params = chain_params or {}
    if not isinstance(chain_params, dict) or set(chain_params) - {CampaignType.DNS_VALIDATION, CampaignType.HTTP_KEYWORD_VALIDATION}:
        raise InvalidCampaignParams({"chain_params": "must map dns_validation / http_keyword_validation to their params"})
    save_params = build_params(campaign_type, params)
    later = _later_phases(campaign_type, chain_params) if chain_next else []
    return _create(
        actor=actor,
        name=name,
        campaign_type=campaign_type,
        owner_id=owner_id,
        source_campaign_id=source_campaign_id,
        chain_params=chain_params if chain_next else {},
        save_params=save_params,
        later=later,
        start=start,
        extra_steps=extra_steps,
    )


def _later_phases(campaign_type: str, chain_params: dict[str, Any]) -> list[tuple[str, SaveParams]]:
    """The phases after campaign_type that chain_params describe, validated now, in order."""
    phases = []
    next_type = NEXT_TYPE.get(campaign_type)
    while next_type is not None and next_type in chain_params:
        phases.append((next_type, build_params(next_type, chain_params[next_type])))
        next_type = NEXT_TYPE.get(next_type)
    if not phases:
        raise InvalidCampaignParams({"chain_params": "a pipeline needs the params of at least the next phase"})
    return phases


@safe_transaction(operation="campaign.create")
def _create(
    *,
    actor: Actor,
    name: str,
    campaign_type: str,
    owner_id: int,
    source_campaign_id: UUID | str | None,
    chain_params: dict[str, Any],
    save_params: SaveParams,
    later: list[tuple[str, SaveParams]],
    start: bool,
    extra_steps: Sequence[CreateStep],
) -> CreateOutcome:
    source = None
    if source_campaign_id is not None:
        source = lock_campaign(source_campaign_id)
        ensure_can_access(actor, source)
    check_source(campaign_type, source)
    campaign = _insert(actor, name=name, campaign_type=campaign_type, owner_id=owner_id, source=source,
                       chain_params=chain_params, save_params=save_params)
    outcome = CreateOutcome(campaign)
    before = campaign
    for phase_type, save in later:
        before = _insert(actor, name=f"{name} → {PHASE_NAMES[phase_type]}", campaign_type=phase_type, owner_id=owner_id,
                         source=before, chain_params={}, save_params=save)
        outcome.phases.append(before)
    steps = list(extra_steps)
    if start:
        steps.append(CreateStep("start", lambda c: campaign_transition_locked(c, transition="start", actor=actor), required=False))
    for step in steps:
        if step.required:
            step.run(campaign)
            continue
        try:
            with transaction.atomic():  # a savepoint: only this step is undone
                step.run(Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk))
        except (CampaignError, ValidationError, DatabaseError, ValueError) as exc:
            outcome.warnings.append(f"{step.name} failed: {exc}")
    # Steps may have changed the rows through their own locked copies.
    outcome.campaign = Campaign.objects.get(pk=campaign.pk)
    outcome.phases = list(Campaign.objects.filter(pk__in=[p.pk for p in outcome.phases]).order_by("created_at"))
    return outcome


def _insert(actor: Actor, *, name: str, campaign_type: str, owner_id: int, source: Campaign | None,
            chain_params: dict[str, Any], save_params: SaveParams) -> Campaign:
    campaign = Campaign.objects.create(
        name=name,
        campaign_type=campaign_type,
        owner_id=owner_id,
        source_campaign=source,
        chain_next=bool(chain_params),
        chain_params=chain_params,
    )
    CampaignStateEvent.objects.create(
        campaign=campaign,
        sequence=1,
        from_status="",
        to_status=CampaignStatus.PENDING,
        transition="create",
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=actor_label_of(actor),
        campaign_version=campaign.version,
    )
    audit_record(
        actor=actor,
        action="campaign.create",
        entity_type="campaign",
        entity_id=campaign.pk,
        details={"name": name, "type": campaign_type, "owner_id": owner_id, "source": str(source.pk) if source else ""},
    )
    save_params(campaign)
    return campaign


@audited_refusals("campaign.update")
@safe_transaction(operation="campaign.update")
def campaign_update(
    *, campaign_id: UUID | str, actor: Actor, expected_version: int | None, name: str | None = None, chain_next: bool | None = None
) -> Campaign:
    """Rename a campaign; refuses a stale version like a transition does.

    Whether a campaign heads a pipeline is fixed at creation (its phases exist
    from then on), so chain_next may be passed only unchanged.
    """
    campaign = lock_campaign(campaign_id)
    ensure_can_access(actor, campaign)
    if expected_version is not None and campaign.version != expected_version:
        raise StaleCampaign(campaign.pk, expected=expected_version, actual=campaign.version)
    if chain_next is not None and chain_next != campaign.chain_next:
        raise InvalidCampaignParams(
            {"chain_next": "a pipeline's phases are created with its first phase; create a new pipeline instead"}
        )
    if name is None:
        return campaign
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidCampaignParams({"name": "must be 1 to 200 characters"})
    if name != campaign.name:
        audit_record(actor=actor, action="campaign.update", entity_type="campaign", entity_id=campaign.pk,
                     details={"name": [campaign.name, name]})
        campaign.name = name
        campaign.version += 1
        campaign.save(update_fields=["name", "version", "updated_at"])
    return campaign
