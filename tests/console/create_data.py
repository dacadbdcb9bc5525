"""Personas, source campaigns and form data for the admin add-page tests (fixtures: config, sources)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import DnsPersona, HttpPersona, KeywordSet, Proxy
from campaigns.services.campaigns import campaign_create

ADD = reverse("admin:campaigns_campaign_add")
DNS_ADD = f"{ADD}?type=dns_validation"
HTTP_ADD = f"{ADD}?type=http_keyword_validation"

GENERATION = {
    "name": "generated",
    "pattern": "prefix",
    "prefix_length": "2",
    "suffix_length": "0",
    "charset": "abc",
    "constant": "shop",
    "tlds": "com",
    "count": "9",
    "batch_size": "3",
}


@pytest.fixture
def config(db):
    """Personas, keyword sets and proxies; "local" is created before "backup", so ids differ from any given order."""
    return {
        "local": DnsPersona.objects.create(name="local", resolvers=["127.0.0.1:53"]),
        "backup": DnsPersona.objects.create(name="backup", resolvers=["127.0.0.2:53"]),
        "browser": HttpPersona.objects.create(name="browser"),
        "shop": KeywordSet.objects.create(name="shop"),
        "promo": KeywordSet.objects.create(name="promo"),
        "p1": Proxy.objects.create(name="p1", scheme="http", host="127.0.0.1", port=3128),
        "p2": Proxy.objects.create(name="p2", scheme="socks5", host="127.0.0.1", port=1080),
    }


@pytest.fixture
def sources(operator, other_operator, config):
    """Each operator's generation campaign and the operator's DNS campaign on it (none completed)."""
    mine = campaign_create(
        actor=operator, name="my generation", campaign_type="domain_generation",
        params={"pattern": "prefix", "prefix_length": 1, "charset": "ab", "constant": "x", "tlds": ["com"], "count": 2},
    ).campaign
    theirs = campaign_create(
        actor=other_operator, name="their generation", campaign_type="domain_generation",
        params={"pattern": "prefix", "prefix_length": 1, "charset": "ab", "constant": "y", "tlds": ["com"], "count": 2},
    ).campaign
    my_dns = campaign_create(
        actor=operator, name="my dns", campaign_type="dns_validation", params={"personas": ["local"]},
        source_campaign_id=mine.pk,
    ).campaign
    their_dns = campaign_create(
        actor=other_operator, name="their dns", campaign_type="dns_validation", params={"personas": ["local"]},
        source_campaign_id=theirs.pk,
    ).campaign
    return {"mine": mine, "theirs": theirs, "my_dns": my_dns, "their_dns": their_dns}


def dns_form(source, **fields) -> dict[str, str]:
    return {"name": "resolve them", "source_campaign": str(source.pk), "personas": "backup, local", "batch_size": "50", **fields}


def http_form(source, **fields) -> dict[str, str | list[str]]:
    return {
        "name": "fetch them",
        "source_campaign": str(source.pk),
        "persona": "browser",
        "keyword_sets": ["shop", "promo"],
        "adhoc_keywords": "buy now, widget",
        "proxies": ["p2", "p1"],
        "proxy_strategy": "least_used",
        "target_ports": "8443, 8080",
        "batch_size": "20",
        "retries": "2",
        "max_in_flight": "7",
        **fields,
    }
