from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from campaigns.models import DnsPersona, HttpPersona, KeywordRule, KeywordSet, Proxy
from tests.campaigns.commands.config_documents import DNS_LOCAL, DNS_PUBLIC, HTTP_BROWSER, PROXY_EU, PROXY_US, SHOP


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", password=None)  # no hashing: fast


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", "alice@example.com", password=None)


@pytest.fixture
def configured(db):
    """The configuration of full_document(), made row by row (deliberately not in name order)."""
    DnsPersona.objects.create(**DNS_PUBLIC)
    DnsPersona.objects.create(**DNS_LOCAL)
    HttpPersona.objects.create(**HTTP_BROWSER)
    Proxy.objects.create(**PROXY_US)
    Proxy.objects.create(**PROXY_EU, password="s3cret:/@")
    shop = KeywordSet.objects.create(name="shop", description=SHOP["description"])
    for rule in SHOP["rules"]:
        KeywordRule.objects.create(keyword_set=shop, **rule)
