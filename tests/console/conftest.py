from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from campaigns.services.operators import OPERATOR_PERMISSIONS
from tests.factories import StaffFactory, UserFactory


def grant_operator(user):
    """What `add_operator` gives, granted to the user directly: manage campaigns, read the rest."""
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
