"""DNS and HTTP campaigns and result rows for console tests: personas, keyword sets, rows written directly."""
from __future__ import annotations

import pytest

from campaigns.models import DnsPersona, DnsResult, HttpPersona, HttpResult, KeywordRule, KeywordSet
from campaigns.services.campaigns import campaign_create


@pytest.fixture
def config(db):
    """The personas and keywords the validation campaigns below name."""
    DnsPersona.objects.create(name="local", resolvers=["127.0.0.1:5353"])
    HttpPersona.objects.create(name="browser")
    shop = KeywordSet.objects.create(name="shop")
    KeywordRule.objects.create(keyword_set=shop, pattern="widget")
    KeywordRule.objects.create(keyword_set=shop, pattern=r"galor\w+", kind="regex")


@pytest.fixture
def dns_campaign(config, make_campaign):
    """A DNS campaign (through campaign_create) of a generation campaign, for the given owner."""

    def make(owner, *, name: str = "dns phase"):
        source = make_campaign(actor=owner, name=f"{name} source")
        return campaign_create(
            actor=owner, name=name, campaign_type="dns_validation", params={"personas": ["local"], "batch_size": 7},
            source_campaign_id=source.pk,
        ).campaign

    return make


@pytest.fixture
def http_campaign(dns_campaign):
    def make(owner, *, name: str = "http phase"):
        source = dns_campaign(owner, name=f"{name} dns")
        return campaign_create(
            actor=owner, name=name, campaign_type="http_keyword_validation",
            params={"persona": "browser", "keyword_sets": ["shop"], "adhoc_keywords": [" sale "], "target_ports": [8080]},
            source_campaign_id=source.pk,
        ).campaign

    return make


def add_dns(campaign, **fields) -> DnsResult:
    """A row as a committed batch writes it: always an answer (no row waits "pending"); NXDOMAIN unless told."""
    if "status" not in fields:
        fields.update(status="unresolved", rcode="NXDOMAIN")
    return DnsResult.objects.create(campaign=campaign, batch_number=0, **fields)


def add_http(campaign, **fields) -> HttpResult:
    """A row as a committed batch writes it: always an outcome; no usable answer unless told."""
    if "status" not in fields:
        fields.update(status="error", business_status="invalid_http_response_error")
    return HttpResult.objects.create(campaign=campaign, batch_number=0, **fields)


def hit(keyword: str, count: int = 1, *, kind: str = "string", keyword_set: str = "shop", contexts=("…",)) -> dict:
    return {"keyword_set": keyword_set, "keyword": keyword, "kind": kind, "count": count, "contexts": list(contexts)}


