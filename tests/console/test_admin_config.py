"""Config admins: staff create and change personas, proxies and keyword sets; write-only passwords; audit."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils.html import escape

from campaigns import keywords
from campaigns.models import AuditLog, DnsPersona, HttpPersona, KeywordRule, KeywordSet, Proxy

SECRET = "s3cr@t pass/wörd"  # characters the proxy URL %-encodes


def admin_url(model: str, view: str = "changelist", *args) -> str:
    return reverse(f"admin:campaigns_{model}_{view}", args=args)


def grant(user, *codenames: str):
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="campaigns", codename__in=codenames))
    return type(user).objects.get(pk=user.pk)  # a fresh instance: permissions are cached per instance


DNS_PERSONA = {
    "name": "local",
    "resolvers": "127.0.0.1:5353,1.1.1.1",
    "resolver_weights": "",
    "strategy": "sequential_failover",
    "timeout_s": "1.5",
    "retries": "3",
    "max_in_flight": "20",
    "rate_limit_qps": "50",
    "record_types": "A",
    "enabled": "on",  # the box is ticked on the add page
}
HTTP_PERSONA = {
    "name": "browser",
    "user_agent": "DomainFlowTest/1.0",
    "headers": '{"Accept-Language": "en"}',
    "timeout_s": "5",
    "follow_redirects": "on",
    "max_redirects": "3",
    "allowed_status_codes": "200,301",
    "max_body_bytes": "65536",
    "enabled": "on",
}
PROXY = {
    "name": "squid",
    "scheme": "http",
    "host": "proxy.example.test",
    "port": "3128",
    "username": "df",
    "password": SECRET,
    "enabled": "on",
}


def rules_form(*rules: dict, initial: int = 0) -> dict[str, str]:
    """The keyword rules inline's management form and rows."""
    data = {"rules-TOTAL_FORMS": str(len(rules)), "rules-INITIAL_FORMS": str(initial), "rules-MIN_NUM_FORMS": "0",
            "rules-MAX_NUM_FORMS": "1000"}
    for i, rule in enumerate(rules):
        data.update({f"rules-{i}-{key}": value for key, value in {"kind": "string", "context_chars": "40", **rule}.items()})
    return data


def config_audits(action: str | None = None):
    rows = AuditLog.objects.filter(action__startswith="config.").order_by("id")
    return rows.filter(action=action) if action else rows


# --- creating through the add views ---


@pytest.mark.django_db
def test_staff_create_a_dns_persona(staff, client_for):
    response = client_for(staff).post(admin_url("dnspersona", "add"), DNS_PERSONA)
    assert response.status_code == 302
    persona = DnsPersona.objects.get(name="local")
    assert (persona.resolvers, persona.strategy, persona.timeout_s, persona.retries, persona.rate_limit_qps, persona.record_types) == (
        ["127.0.0.1:5353", "1.1.1.1"], "sequential_failover", 1.5, 3, 50.0, ["A"]
    )
    (audit,) = config_audits()
    assert (audit.action, audit.entity_type, audit.entity_id, audit.actor, audit.decision) == (
        "config.add", "dns_persona", str(persona.pk), staff, "allowed"
    )
    assert audit.details["name"] == "local" and {"resolvers", "strategy", "timeout_s"} <= set(audit.details["fields"])


@pytest.mark.django_db
def test_staff_create_an_http_persona(staff, client_for):
    assert client_for(staff).post(admin_url("httppersona", "add"), HTTP_PERSONA).status_code == 302
    persona = HttpPersona.objects.get(name="browser")
    assert (persona.headers, persona.follow_redirects, persona.verify_tls, persona.allowed_status_codes, persona.max_body_bytes) == (
        {"Accept-Language": "en"}, True, False, [200, 301], 65536
    )
    assert config_audits("config.add").get().entity_type == "http_persona"


@pytest.mark.django_db
def test_staff_create_a_proxy_and_its_password_is_stored_but_never_logged(staff, client_for):
    assert client_for(staff).post(admin_url("proxy", "add"), PROXY).status_code == 302
    proxy = Proxy.objects.get(name="squid")
    assert (proxy.host, proxy.port, proxy.username, proxy.password, proxy.healthy) == ("proxy.example.test", 3128, "df", SECRET, True)
    audit = config_audits("config.add").get()
    assert audit.entity_type == "proxy" and "password" in audit.details["fields"]
    assert SECRET not in str(audit.details)
    assert SECRET not in LogEntry.objects.get(object_id=str(proxy.pk)).change_message


@pytest.mark.django_db
def test_staff_create_a_keyword_set_with_its_rules(staff, client_for):
    data = {"name": "shop", "description": "shops", **rules_form({"pattern": "widget"}, {"pattern": r"galor\w+", "kind": "regex", "context_chars": "10"})}
    assert client_for(staff).post(admin_url("keywordset", "add"), data).status_code == 302
    shop = KeywordSet.objects.get(name="shop")
    assert list(shop.rules.order_by("id").values_list("pattern", "kind", "context_chars")) == [
        ("widget", "string", 40), (r"galor\w+", "regex", 10)
    ]
    audit = config_audits("config.add").get()
    assert (audit.entity_type, audit.entity_id) == ("keyword_set", str(shop.pk))
    assert audit.details["rules"] == {"added": ["widget", r"galor\w+"]}


# --- the model's validation, on the form ---


def refused(response, field: str | None, message: str) -> None:
    """The add page came back with the model's message on the field (or the form), escaped in the page."""
    assert response.status_code == 200
    form = response.context["adminform"].form
    errors = form.errors.get(field or "__all__", [])
    assert message in errors, errors
    assert escape(message) in response.content.decode()


@pytest.mark.django_db
def test_a_bad_regex_is_refused_with_the_re2_message_and_nothing_is_saved(staff, client_for):
    with pytest.raises(keywords.InvalidKeywordRule) as expected:
        keywords.compile_rule(keywords.KeywordRuleSpec(keyword_set="", pattern="(unclosed", kind="regex", case_sensitive=False, context_chars=40))
    data = {"name": "broken", **rules_form({"pattern": "fine"}, {"pattern": "(unclosed", "kind": "regex"})}
    response = client_for(staff).post(admin_url("keywordset", "add"), data)
    assert response.status_code == 200
    (formset,) = [inline.formset for inline in response.context["inline_admin_formsets"]]
    assert formset.forms[1].errors["pattern"] == [str(expected.value)]
    assert escape(str(expected.value)) in response.content.decode()
    assert not KeywordSet.objects.exists() and not KeywordRule.objects.exists()
    assert not config_audits().exists()


@pytest.mark.django_db
def test_a_bad_resolver_is_refused_with_the_models_message_and_nothing_is_saved(staff, client_for):
    response = client_for(staff).post(admin_url("dnspersona", "add"), {**DNS_PERSONA, "resolvers": "1.1.1.1,dns.example"})
    refused(response, "resolvers", "invalid resolver 'dns.example': must be an IP address, optionally with :port")
    assert not DnsPersona.objects.exists() and not config_audits().exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"host": "bad_host!"}, "proxy URL 'http://df:***@bad_host!:3128' has an invalid host 'bad_host!'"),
        ({"port": "0"}, "proxy URL 'http://df:***@proxy.example.test:0' has port 0 (expected 1-65535)"),
        ({"port": "70000"}, "invalid proxy URL 'http://df:***@proxy.example.test:70000': Port out of range 0-65535"),
    ],
)
def test_a_bad_proxy_host_or_port_is_refused_with_the_models_message_and_no_password(staff, client_for, change, message):
    response = client_for(staff).post(admin_url("proxy", "add"), {**PROXY, **change})
    refused(response, None, message)
    page = response.content.decode()
    assert SECRET not in page and quote(SECRET, safe="") not in page and escape(SECRET) not in page
    assert not Proxy.objects.exists() and not config_audits().exists()


# --- the proxy password is write-only ---


@pytest.fixture
def proxy(staff, client_for):
    client_for(staff).post(admin_url("proxy", "add"), PROXY)
    return Proxy.objects.get(name="squid")


def proxy_change(proxy, **fields) -> dict[str, str]:
    return {"name": proxy.name, "scheme": proxy.scheme, "host": proxy.host, "port": str(proxy.port),
            "username": proxy.username, "enabled": "on", "password": "", **fields}


def assert_secret_absent(text: str, secret: str = SECRET) -> None:
    for form in (secret, quote(secret, safe=""), escape(secret)):
        assert form not in text


@pytest.mark.django_db
def test_the_proxy_password_appears_on_no_admin_page(staff, proxy, client_for):
    client = client_for(staff)
    for url in (
        admin_url("proxy"),
        admin_url("proxy") + "?q=squid",
        admin_url("proxy", "change", proxy.pk),
        admin_url("proxy", "history", proxy.pk),
        admin_url("proxy", "delete", proxy.pk),
        admin_url("auditlog"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_secret_absent(response.content.decode())
    change_page = client.get(admin_url("proxy", "change", proxy.pk)).content.decode()
    assert 'type="password" name="password"' in change_page and 'autocomplete="new-password"' in change_page


@pytest.mark.django_db
def test_a_blank_password_keeps_the_stored_one(staff, proxy, client_for):
    response = client_for(staff).post(admin_url("proxy", "change", proxy.pk), proxy_change(proxy, host="proxy2.example.test"))
    assert response.status_code == 302
    proxy.refresh_from_db()
    assert (proxy.host, proxy.password) == ("proxy2.example.test", SECRET)
    assert config_audits("config.change").get().details["fields"] == ["host"]


@pytest.mark.django_db
def test_a_typed_password_replaces_it_and_clear_removes_it(staff, proxy, client_for):
    client = client_for(staff)
    url = admin_url("proxy", "change", proxy.pk)
    client.post(url, proxy_change(proxy, password="n3w@one"))
    proxy.refresh_from_db()
    assert proxy.password == "n3w@one"
    client.post(url, proxy_change(proxy, clear_password="on"))
    proxy.refresh_from_db()
    assert proxy.password == ""
    changes = list(config_audits("config.change"))
    assert [a.details["fields"] for a in changes] == [["password"], ["password"]]
    assert_secret_absent(str([a.details for a in changes]), "n3w@one")
    assert_secret_absent(" ".join(LogEntry.objects.values_list("change_message", flat=True)), "n3w@one")


@pytest.mark.django_db
def test_typing_a_password_and_clearing_it_at_once_is_refused(staff, proxy, client_for):
    response = client_for(staff).post(
        admin_url("proxy", "change", proxy.pk), proxy_change(proxy, password="other", clear_password="on")
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["clear_password"] == [
        "Type a new password or clear the stored one, not both."
    ]
    proxy.refresh_from_db()
    assert proxy.password == SECRET and not config_audits("config.change").exists()


@pytest.mark.django_db
def test_a_bad_host_on_change_does_not_reveal_the_stored_password(staff, proxy, client_for):
    response = client_for(staff).post(admin_url("proxy", "change", proxy.pk), proxy_change(proxy, host="bad_host!"))
    refused(response, None, "proxy URL 'http://df:***@bad_host!:3128' has an invalid host 'bad_host!'")
    assert_secret_absent(response.content.decode())


# --- proxy health: read-only, reset by an action ---


@pytest.mark.django_db
def test_health_fields_are_read_only_and_mark_healthy_resets_them(staff, proxy, client_for):
    Proxy.objects.filter(pk=proxy.pk).update(healthy=False, consecutive_failures=5, use_count=7, last_error="refused")
    client = client_for(staff)
    client.post(admin_url("proxy", "change", proxy.pk), proxy_change(proxy, healthy="on", consecutive_failures="0", use_count="0"))
    proxy.refresh_from_db()
    assert (proxy.healthy, proxy.consecutive_failures, proxy.use_count, proxy.last_error) == (False, 5, 7, "refused")

    response = client.post(admin_url("proxy"), {"action": "mark_healthy", "_selected_action": [str(proxy.pk)]}, follow=True)

    assert "Marked 1 proxy healthy." in response.content.decode()
    proxy.refresh_from_db()
    assert (proxy.healthy, proxy.consecutive_failures, proxy.use_count, proxy.last_error) == (True, 0, 7, "")
    audit = config_audits("config.mark_healthy").get()
    assert (audit.entity_id, audit.actor, audit.details["fields"]) == (
        str(proxy.pk), staff, ["consecutive_failures", "healthy", "last_error"]
    )


# --- changing and deleting are audited ---


@pytest.mark.django_db
def test_changing_a_keyword_sets_rules_is_audited_by_pattern(staff, client_for):
    shop = KeywordSet.objects.create(name="shop")
    keep = KeywordRule.objects.create(keyword_set=shop, pattern="widget")
    drop = KeywordRule.objects.create(keyword_set=shop, pattern="gadget")
    data = {
        "name": "shop", "description": "now described",
        **rules_form({"id": str(keep.pk), "pattern": "widget"}, {"id": str(drop.pk), "pattern": "gadget", "DELETE": "on"},
                     {"pattern": "gizmo"}, initial=2),
        "rules-0-keyword_set": str(shop.pk), "rules-1-keyword_set": str(shop.pk),
    }
    response = client_for(staff).post(admin_url("keywordset", "change", shop.pk), data)
    assert response.status_code == 302
    assert list(shop.rules.order_by("id").values_list("pattern", flat=True)) == ["widget", "gizmo"]
    audit = config_audits("config.change").get()
    assert audit.details == {"name": "shop", "fields": ["description"], "rules": {"added": ["gizmo"], "deleted": ["gadget"]}}


@pytest.mark.django_db
def test_deleting_config_is_audited(staff, client_for):
    persona = DnsPersona.objects.create(name="gone", resolvers=["1.1.1.1"])
    others = [HttpPersona.objects.create(name=f"h{n}") for n in range(2)]
    client = client_for(staff)
    assert client.post(admin_url("dnspersona", "delete", persona.pk), {"post": "yes"}).status_code == 302
    client.post(admin_url("httppersona"), {"action": "delete_selected", "post": "yes", "_selected_action": [str(p.pk) for p in others]})
    assert not DnsPersona.objects.exists() and not HttpPersona.objects.exists()
    deletes = [(a.entity_type, a.entity_id, a.details["name"]) for a in config_audits("config.delete")]
    assert deletes == [("dns_persona", str(persona.pk), "gone"), ("http_persona", str(others[0].pk), "h0"),
                       ("http_persona", str(others[1].pk), "h1")]


# --- who may do what ---


@pytest.mark.django_db
def test_an_operator_may_view_personas_and_keyword_sets_but_not_change_them(operator, client_for):
    # Even holding Django's add and change permissions: shared config is staff-only to write.
    operator = grant(operator, "view_dnspersona", "add_dnspersona", "change_dnspersona", "view_keywordset", "change_keywordset")
    persona = DnsPersona.objects.create(name="local", resolvers=["1.1.1.1"])
    shop = KeywordSet.objects.create(name="shop")
    KeywordRule.objects.create(keyword_set=shop, pattern="widget")
    client = client_for(operator)

    assert "local" in client.get(admin_url("dnspersona")).content.decode()
    page = client.get(admin_url("dnspersona", "change", persona.pk)).content.decode()
    assert 'name="_save"' not in page and 'name="resolvers"' not in page
    assert "widget" in client.get(admin_url("keywordset", "change", shop.pk)).content.decode()

    assert client.get(admin_url("dnspersona", "add")).status_code == 403
    assert client.post(admin_url("dnspersona", "add"), {**DNS_PERSONA, "name": "mine"}).status_code == 403
    changed = client.post(admin_url("dnspersona", "change", persona.pk), {**DNS_PERSONA, "name": "renamed"})
    assert changed.status_code == 403
    assert client.post(admin_url("dnspersona", "delete", persona.pk), {"post": "yes"}).status_code == 403
    assert client.post(admin_url("keywordset", "change", shop.pk), {"name": "renamed", **rules_form()}).status_code == 403

    assert list(DnsPersona.objects.values_list("name", flat=True)) == ["local"]
    assert KeywordSet.objects.get().name == "shop"
    denied = [(a.action, a.entity_type, a.decision, a.actor) for a in config_audits()]
    assert denied == [
        ("config.add", "dns_persona", "denied", operator),
        ("config.change", "dns_persona", "denied", operator),
        ("config.delete", "dns_persona", "denied", operator),
        ("config.change", "keyword_set", "denied", operator),
    ]


@pytest.mark.django_db
def test_an_operator_cannot_see_proxies_even_with_the_permission(operator, proxy, client_for):
    operator = grant(operator, "view_proxy", "change_proxy")
    client = client_for(operator)
    assert client.get(admin_url("proxy")).status_code == 403
    assert client.get(admin_url("proxy", "change", proxy.pk)).status_code == 403
    assert client.post(admin_url("proxy", "change", proxy.pk), proxy_change(proxy, host="evil.test")).status_code == 403
    assert "/admin/campaigns/proxy/" not in client.get(reverse("admin:index")).content.decode()
    proxy.refresh_from_db()
    assert proxy.host == "proxy.example.test"
