"""Operators: non-staff console users who run their own campaigns (README, "Console").

The "Operators" group carries exactly the permissions an operator needs; the
admin and the services still limit every operator to their own campaigns.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.core.exceptions import ValidationError

from campaigns.services.access import Actor, audit_record
from campaigns.services.errors import CampaignError
from txmetrics.decorators import safe_transaction

OPERATORS_GROUP = "Operators"
OPERATOR_PERMISSIONS = (
    "add_campaign",
    "change_campaign",
    "view_campaign",
    "view_domaingenerationparams",
    "view_dnsvalidationparams",
    "view_httpvalidationparams",
    "view_generateddomain",
    "view_dnsresult",
    "view_httpresult",
    "view_campaignjob",
    "view_campaignstateevent",
    "view_auditlog",
    # Shared configuration, read-only: to pick personas and keyword sets for a campaign.
    "view_dnspersona",
    "view_httppersona",
    "view_keywordset",
)


class InvalidUsername(CampaignError):
    """The username breaks the user model's rules (letters, digits and @/./+/-/_, at most 150)."""


class NotAnOperatorCandidate(CampaignError):
    """Staff see and change everything already; the Operators group is for non-staff users."""


def operators_group() -> Group:
    """The Operators group with exactly OPERATOR_PERMISSIONS (created or corrected)."""
    group, _ = Group.objects.get_or_create(name=OPERATORS_GROUP)
    wanted = Permission.objects.filter(content_type__app_label="campaigns", codename__in=OPERATOR_PERMISSIONS)
    group.permissions.set(wanted)
    return group


def _join_operators(*, user: AbstractBaseUser, actor: Actor, actor_label: str, action: str) -> Group:
    group = operators_group()
    user.groups.add(group)
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action=action,
        entity_type="user",
        entity_id=user.pk,
        details={"username": user.get_username(), "group": OPERATORS_GROUP},
    )
    return group


@safe_transaction(operation="operator.add")
def operator_add(*, actor: Actor, user: AbstractBaseUser, actor_label: str = "") -> Group:
    """Put a non-staff user in the Operators group, audited."""
    if user.is_staff:
        raise NotAnOperatorCandidate(
            f"{user.get_username()} is staff, and staff see and change every campaign already."
        )
    return _join_operators(user=user, actor=actor, actor_label=actor_label, action="operator.add")


@safe_transaction(operation="operator.create")
def operator_create(*, actor: Actor, username: str, password: str, actor_label: str = "") -> AbstractBaseUser:
    """A new active non-staff user in the Operators group, audited."""
    User = get_user_model()
    try:
        User._meta.get_field(User.USERNAME_FIELD).run_validators(username)
        if not username:
            raise ValidationError("a username cannot be empty")
    except ValidationError as exc:
        raise InvalidUsername(f"{username!r} cannot be a username: {' '.join(exc.messages)}") from None
    if User._default_manager.filter(**{User.USERNAME_FIELD: username}).exists():
        raise CampaignError(f"a user named {username!r} exists already; leave out --create to add them")
    user = User._default_manager.create_user(username=username, password=password)
    _join_operators(user=user, actor=actor, actor_label=actor_label, action="operator.create")
    return user
