"""Creating and editing campaigns: campaign_create (the orchestrator) and campaign_update."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence
from uuid import UUID

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from campaigns.models import Campaign, CampaignStateEvent, CampaignStatus, CampaignType, DomainGenerationParams
from campaigns.services.access import Actor, actor_label_of, audit_record, audited_refusals, ensure_can_access
from campaigns.services.errors import CampaignError, InvalidCampaignParams, StaleCampaign
from campaigns.services.transitions import apply_transition, lock_campaign
from txmetrics.decorators import safe_transaction


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


def build_params(campaign_type: str, params: dict[str, Any]) -> Callable[[Campaign], Any]:
    """Validate a type's params before any transaction; return the function that saves them."""
    if campaign_type == CampaignType.DOMAIN_GENERATION:
        return _generation_params(params)
    from campaigns.services import validation

    return validation.build_params(campaign_type, params)


def _generation_params(params: dict[str, Any]) -> Callable[[Campaign], Any]:
    allowed = {"pattern", "prefix_length", "suffix_length", "charset", "constant", "tlds", "count", "batch_size"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidCampaignParams({unknown[0]: "is not a domain generation parameter"})
    if "count" not in params:
        raise InvalidCampaignParams({"count": "is required"})
    model = DomainGenerationParams(**{"batch_size": 10_000, "prefix_length": 0, "suffix_length": 0, **params})
    model.clean()  # normalises; raises ValidationError naming the field
    return lambda campaign: _save_params(model, campaign)


def _save_params(model: Any, campaign: Campaign) -> Any:
    model.campaign = campaign
    model.save(force_insert=True)
    return model


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
    """Create a campaign with its params, creation event and audit row; optionally start it."""
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
    try:
        save_params = build_params(campaign_type, params)
        for next_type, next_params in chain_params.items():
            build_params(next_type, next_params)  # refuse now what chaining would refuse later
    except ValidationError as exc:
        raise InvalidCampaignParams({key: "; ".join(msgs) for key, msgs in exc.message_dict.items()}) from exc
    return _create(
        actor=actor,
        name=name,
        campaign_type=campaign_type,
        owner_id=owner_id,
        source_campaign_id=source_campaign_id,
        chain_next=chain_next,
        chain_params=chain_params,
        save_params=save_params,
        start=start,
        extra_steps=extra_steps,
    )


def create_in_transaction(
    *,
    actor: Actor,
    name: str,
    campaign_type: str,
    owner_id: int,
    source_campaign_id: UUID | str | None,
    chain_next: bool,
    chain_params: dict[str, Any],
    save_params: Callable[[Campaign], Any],
    start: bool,
    extra_steps: Sequence[CreateStep] = (),
    lock_source: bool = True,
) -> CreateOutcome:
    """The body of campaign_create, for callers already inside a transaction (chaining)."""
    source = None
    if source_campaign_id is not None:
        source = lock_campaign(source_campaign_id) if lock_source else Campaign.objects.get(pk=source_campaign_id)
        ensure_can_access(actor, source)
    from campaigns.services.validation import check_source

    check_source(campaign_type, source)
    campaign = Campaign.objects.create(
        name=name,
        campaign_type=campaign_type,
        owner_id=owner_id,
        source_campaign_id=source_campaign_id,
        chain_next=chain_next,
        chain_params=chain_params,
    )
    label = actor_label_of(actor)
    CampaignStateEvent.objects.create(
        campaign=campaign,
        sequence=1,
        from_status="",
        to_status=CampaignStatus.PENDING,
        transition="create",
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=label,
        campaign_version=campaign.version,
    )
    audit_record(
        actor=actor,
        action="campaign.create",
        entity_type="campaign",
        entity_id=campaign.pk,
        details={"name": name, "type": campaign_type, "owner_id": owner_id, "source": str(source_campaign_id or "")},
    )
    steps = [CreateStep("params", save_params), *extra_steps]
    if start:
        steps.append(CreateStep("start", lambda c: _start(c, actor), required=False))
    outcome = CreateOutcome(campaign)
    for step in steps:
        if step.required:
            step.run(campaign)
            continue
        try:
            with transaction.atomic():  # a savepoint: only this step is undone
                step.run(campaign)
        except (CampaignError, ValidationError, DatabaseError, ValueError) as exc:
            outcome.warnings.append(f"{step.name} failed: {exc}")
    # Steps may have changed the row through their own locked copy.
    outcome.campaign = Campaign.objects.get(pk=campaign.pk)
    return outcome


_create = safe_transaction(operation="campaign.create")(create_in_transaction)


def _start(campaign: Campaign, actor: Actor) -> None:
    apply_transition(Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk), transition="start", actor=actor)


@audited_refusals("campaign.update")
@safe_transaction(operation="campaign.update")
def campaign_update(
    *, campaign_id: UUID | str, actor: Actor, expected_version: int | None, name: str | None = None, chain_next: bool | None = None
) -> Campaign:
    """Edit a campaign's own settings; refuses a stale version like a transition does."""
    campaign = lock_campaign(campaign_id)
    ensure_can_access(actor, campaign)
    if expected_version is not None and campaign.version != expected_version:
        raise StaleCampaign(campaign.pk, expected=expected_version, actual=campaign.version)
    changes: dict[str, Any] = {}
    if name is not None:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidCampaignParams({"name": "must be 1 to 200 characters"})
        if name != campaign.name:
            changes["name"] = [campaign.name, name]
            campaign.name = name
    if chain_next is not None and chain_next != campaign.chain_next:
        changes["chain_next"] = [campaign.chain_next, chain_next]
        campaign.chain_next = chain_next
    if changes:
        campaign.version += 1
        campaign.save(update_fields=["name", "chain_next", "version", "updated_at"])
        audit_record(actor=actor, action="campaign.update", entity_type="campaign", entity_id=campaign.pk, details=changes)
    return campaign

