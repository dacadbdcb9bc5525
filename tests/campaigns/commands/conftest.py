from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", password=None)  # no hashing: fast


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", "alice@example.com", password=None)
