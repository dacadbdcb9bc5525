"""Who may touch a campaign (docs/DECISIONS.md, "Shared configuration is staff's"), and the audit trail of every decision."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from campaigns.models import AuditLog, Campaign
from campaigns.services.errors import CampaignAccessDenied

F = TypeVar("F", bound=Callable[..., Any])

Actor = AbstractBaseUser | AnonymousUser | None


def actor_label_of(actor: Actor, fallback: str = "system") -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return fallback
    return actor.get_username()


def can_access(actor: Actor, campaign: Campaign) -> bool:
    """Staff see every campaign; everyone else only their own. None is the system (workers)."""
    if actor is None:
        return True
    if not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", False):
        return False
    return bool(actor.is_staff) or campaign.owner_id == actor.pk


def ensure_can_access(actor: Actor, campaign: Campaign) -> None:
    if not can_access(actor, campaign):
        raise CampaignAccessDenied(campaign.pk)


def campaigns_visible_to(actor: Actor, queryset: QuerySet[Campaign] | None = None) -> QuerySet[Campaign]:
    qs = Campaign.objects.all() if queryset is None else queryset
    if actor is None or (getattr(actor, "is_staff", False) and actor.is_active):
        return qs
    if not getattr(actor, "is_authenticated", False):
        return qs.none()
    return qs.filter(owner_id=actor.pk)


def audit_record(
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object,
    details: dict[str, Any] | None = None,
    decision: str = AuditLog.Decision.ALLOWED,
    actor_label: str = "",
) -> AuditLog:
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return AuditLog.objects.create(
        actor=user,
        actor_label=actor_label or actor_label_of(actor),
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        details=details or {},
        decision=decision,
    )


def audited_refusals(action: str) -> Callable[[F], F]:
    """Write a 'denied' audit row when the wrapped service refuses access.

    The refusal rolls the service's transaction back, so the row is written
    afterwards, in its own statement, where nothing can undo it.
    """

    def decorate(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except CampaignAccessDenied as denied:
                name = action.format(**kwargs)
                audit_record(
                    actor=kwargs.get("actor"),
                    action=name,
                    entity_type="campaign",
                    entity_id=denied.campaign_id,
                    details={"reason": str(denied)},
                    decision=AuditLog.Decision.DENIED,
                )
                raise

        return wrapper  # type: ignore[return-value]

    return decorate
