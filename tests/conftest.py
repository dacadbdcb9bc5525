from __future__ import annotations

import pytest
from django.db import connection

from campaigns.services.campaigns import campaign_create
from tests.factories import UserFactory, generation_params
from txmetrics import buffer

pytest_plugins = [
    "tests.servers.dns_server",
    "tests.servers.http_server",
]


@pytest.fixture(autouse=True)
def metrics_buffer(settings):
    """Each test starts with no queued metrics and no background flusher (tests flush explicitly)."""
    settings.DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S = 0
    buffer.discard()
    yield buffer
    buffer.discard()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def make_campaign(db):
    """Create a generation campaign through the service, as a user would."""

    def make(*, actor, start: bool = False, name: str = "campaign", **params):
        return campaign_create(
            actor=actor,
            name=name,
            campaign_type="domain_generation",
            params=generation_params(**params),
            start=start,
        ).campaign

    return make


def our_idle_in_transaction() -> list[tuple]:
    """Sessions of this test database left idle inside a transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, query FROM pg_stat_activity"
            " WHERE datname = current_database() AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchall()
