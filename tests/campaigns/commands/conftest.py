from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from campaigns.models import DnsPersona, HttpPersona, KeywordRule, KeywordSet, Proxy
from tests.campaigns.commands.config_documents import DNS_LOCAL, DNS_PUBLIC, HTTP_BROWSER, PROXY_EU, PROXY_US, SHOP
from tests.campaigns.commands.helpers import FORMULA_BODY, LEAD_BODY, run
from tests.servers.http_server import Page


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


@pytest.fixture
def world(root, dns_server, http_server, web_site, tmp_path):
    """DNS answers and pages for the three generated names; the personas come in through import_config."""
    dns_server.set("acli.df.test", a=["127.0.0.1"])
    dns_server.set("bcli.df.test", rcode="NXDOMAIN")
    dns_server.set("ccli.df.test", a=["127.0.0.1"])
    web_site.add("acli.df.test", "/", Page(body=LEAD_BODY))
    web_site.add("ccli.df.test", "/", Page(body=FORMULA_BODY))
    config = {
        "version": 1,
        "dns_personas": [{"name": "local", "resolvers": [dns_server.address], "timeout_s": 0.5, "retries": 1, "record_types": ["A"]}],
        "http_personas": [{"name": "browser", "user_agent": "DomainFlowTest/1.0", "timeout_s": 5}],
        "keyword_sets": [
            {"name": "shop", "rules": [{"pattern": "widget"}, {"pattern": r"galor\w+", "kind": "regex"}]},
            {"name": "unused", "rules": [{"pattern": "nothing-matches-this"}]},
        ],
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    run("import_config", str(tmp_path / "config.json"))
    return {"dns": dns_server, "http": http_server}
