from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.factories import StaffFactory, UserFactory

# What an operator (a non-staff console user) is given: manage campaigns, read the rest.
OPERATOR_PERMISSIONS = (
    "add_campaign",
    "change_campaign",
    "view_campaign",
    "view_domaingenerationparams",
    "view_generateddomain",
    "view_dnsvalidationparams",
    "view_dnsresult",
    "view_httpvalidationparams",
    "view_httpresult",
    "view_campaignjob",
    "view_campaignstateevent",
    "view_auditlog",
)


def grant_operator(user):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="campaigns", codename__in=OPERATOR_PERMISSIONS)
    )
    return user


@pytest.fixture
def operator(db):
    """A non-staff user with the campaigns permissions: sees and changes only their own campaigns."""
    return grant_operator(UserFactory(username="operator-a"))


@pytest.fixture
def other_operator(db):
    return grant_operator(UserFactory(username="operator-b"))


@pytest.fixture
def staff(db):
    return StaffFactory(username="staff-s", is_superuser=True)


@pytest.fixture
def client_for():
    def make(user, *, csrf: bool = False) -> Client:
        client = Client(enforce_csrf_checks=csrf)
        client.force_login(user)
        return client

    return make
