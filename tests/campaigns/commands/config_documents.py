"""Shared data for the import_config / export_config tests: the sample document and its rows."""
from __future__ import annotations

import json

from campaigns.models import AuditLog, DnsPersona, HttpPersona, KeywordRule, KeywordSet, Proxy

EMPTY = {"version": 1, "dns_personas": [], "http_personas": [], "proxies": [], "keyword_sets": []}

DNS_LOCAL = {
    "name": "local",
    "enabled": True,
    "resolvers": ["127.0.0.1:5353", "[::1]:53"],
    "resolver_weights": [3, 1],
    "strategy": "weighted",
    "timeout_s": 0.5,
    "retries": 1,
    "max_in_flight": 20,
    "rate_limit_qps": 100.0,
    "record_types": ["A"],
}
DNS_PUBLIC = {
    "name": "public",
    "enabled": False,  # carried like every other field
    "resolvers": ["1.1.1.1"],
    "resolver_weights": [],
    "strategy": "round_robin",
    "timeout_s": 2.0,
    "retries": 2,
    "max_in_flight": 100,
    "rate_limit_qps": None,
    "record_types": [],
}
HTTP_BROWSER = {
    "name": "browser",
    "enabled": True,
    "user_agent": "Mozilla/5.0 (DomainFlow)",
    "headers": {"Accept-Language": "en", "X-Trace": "1"},
    "timeout_s": 7.5,
    "follow_redirects": False,
    "max_redirects": 0,
    "verify_tls": False,
    "allowed_status_codes": [200, 404],
    "max_body_bytes": 65536,
}
PROXY_EU = {"name": "eu", "scheme": "socks5", "host": "proxy.example.test", "port": 1080, "username": "bob", "enabled": True}
PROXY_US = {"name": "us", "scheme": "http", "host": "10.0.0.7", "port": 3128, "username": "", "enabled": False}
SHOP = {
    "name": "shop",
    "description": "Signs of a web shop",
    "rules": [
        {"pattern": "widget", "kind": "string", "case_sensitive": False, "context_chars": 40},
        {"pattern": r"free\s+shipping", "kind": "regex", "case_sensitive": True, "context_chars": 10},
    ],
}


def full_document(*, passwords: dict[str, str] | None = None) -> dict:
    proxies = [dict(PROXY_EU), dict(PROXY_US)]
    if passwords is not None:
        for proxy in proxies:
            proxy["password"] = passwords.get(proxy["name"], "")
    return {
        "version": 1,
        "dns_personas": [DNS_LOCAL, DNS_PUBLIC],
        "http_personas": [HTTP_BROWSER],
        "proxies": proxies,
        "keyword_sets": [SHOP],
    }


def write(tmp_path, document, name="config.json"):
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


def config_rows() -> dict:
    """Everything an import may write, to compare before and after a refusal."""
    return {
        "dns": list(DnsPersona.objects.order_by("name").values()),
        "http": list(HttpPersona.objects.order_by("name").values()),
        "proxies": list(Proxy.objects.order_by("name").values()),
        "sets": list(KeywordSet.objects.order_by("name").values()),
        "rules": list(KeywordRule.objects.order_by("id").values()),
        "audit": AuditLog.objects.count(),
    }
