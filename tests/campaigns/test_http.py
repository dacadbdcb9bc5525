"""campaigns.http against real servers on 127.0.0.1 (tests/servers/http_server.py): pinning, redirects, batches.

Bodies are tested in tests/campaigns/http/test_bodies.py, proxies in tests/campaigns/http/test_proxies.py.
"""
from __future__ import annotations

import asyncio
import hashlib
import time

import pytest

from campaigns.http import FetchTarget, HttpOutcome, HttpPersonaConfig, client, fetch_batch, fetch_many, pages
from campaigns.keywords import KeywordRuleSpec, compile_rule
from tests.servers.http_server import SHOP_HTML, Page, WebServer, html, redirect, unused_port

LOCAL = ("127.0.0.1",)
RULES = (compile_rule(KeywordRuleSpec("products", "widget", "string")),)
SHOP_TEXT = ("Welcome to Widget Shop We sell Widgets and gadgets with FREE shipping. "
             "Order widgets today: call 555-0100.")


def persona(**overrides) -> HttpPersonaConfig:
    return HttpPersonaConfig(name="test-persona", **{"timeout_s": 5.0, **overrides})


def fetch(domain: str, *, port: int, ips: tuple[str, ...] = LOCAL, **kwargs) -> HttpOutcome:
    """One fetch of `domain` pinned to `ips` on `port`, loopback allowed, no retries unless asked."""
    kwargs.setdefault("persona", persona())
    kwargs.setdefault("rules", RULES)
    kwargs.setdefault("allow_private", True)
    kwargs.setdefault("retries", 0)
    [outcome] = fetch_batch([FetchTarget(domain, ips)], ports=(port,), **kwargs)
    return outcome


@pytest.fixture
def fetch_tls(https_server, test_tls):
    """fetch() over TLS to the HTTPS test server, trusting the test CA."""

    def fetch_over_tls(domain: str, **kwargs) -> HttpOutcome:
        return fetch(domain, port=https_server.port, tls_ports=(https_server.port,), ca_file=test_tls.ca_file, **kwargs)

    return fetch_over_tls


# --------------------------------------------------------------------------- pinning, Host and SNI


def test_the_request_goes_to_the_dns_address_with_the_domain_as_host(http_server):
    outcome = fetch("shop.df.test", port=http_server.port)

    [request] = http_server.requests
    assert (request.host, request.local_address, request.path) == (f"shop.df.test:{http_server.port}", "127.0.0.1", "/")
    body = SHOP_HTML.encode()
    assert outcome == HttpOutcome(
        domain="shop.df.test", status="success", business_status="lead_valid", status_code=200,
        final_url=f"http://shop.df.test:{http_server.port}/", redirect_count=0, title="Widget Shop — Home",
        server="df-test/1.0", content_length=len(body), body_sha256=hashlib.sha256(body).hexdigest(),
        snippet=SHOP_TEXT, keyword_hits=outcome.keyword_hits, persona="test-persona", proxy="", attempts=1,
        response_time_ms=outcome.response_time_ms, error="",
    )
    [hit] = outcome.keyword_hits
    assert (hit.keyword_set, hit.keyword, hit.kind, hit.count) == ("products", "widget", "string", 3)
    assert hit.contexts[0] == SHOP_TEXT[: SHOP_TEXT.index("Widget") + 6 + 40]


def test_https_sends_the_domain_as_sni_and_host_to_the_pinned_address(https_server, fetch_tls):
    outcome = fetch_tls("shop.df.test")

    assert (outcome.status, outcome.final_url) == ("success", f"https://shop.df.test:{https_server.port}/")
    [request] = https_server.requests
    assert (request.sni, request.host, request.local_address) == (
        "shop.df.test", f"shop.df.test:{https_server.port}", "127.0.0.1")


def test_a_certificate_for_another_name_is_refused_unless_verification_is_off(fetch_tls):
    refused = fetch_tls("nocert.other.test")
    assert (refused.status, refused.business_status) == ("error", "invalid_http_response_error")
    assert "TLS certificate verification failed: Hostname mismatch" in refused.error

    unverified = fetch_tls("nocert.other.test", persona=persona(verify_tls=False))
    assert (unverified.status, unverified.title) == ("success", "No certificate")


def test_a_certificate_from_an_unknown_ca_is_refused(https_server):
    outcome = fetch("shop.df.test", port=https_server.port, tls_ports=(https_server.port,))
    assert outcome.status == "error"
    assert outcome.error.startswith("TLS certificate verification failed: ")


@pytest.mark.parametrize(
    ("ip", "kind"),
    [("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.10", "private"), ("169.254.169.254", "link-local"),
     ("::1", "loopback"), ("fe80::1", "link-local"), ("::ffff:127.0.0.1", "loopback"), ("0.0.0.0", "unspecified")],
)
def test_non_public_addresses_are_refused_without_allow_private(http_server, ip, kind):
    outcome = fetch("shop.df.test", port=http_server.port, ips=(ip,), allow_private=False)

    assert (outcome.status, outcome.business_status, outcome.attempts) == ("error", "invalid_http_response_error", 0)
    assert outcome.error == f"refused non-public address {ip} ({kind}) for shop.df.test (allow_private is off)"
    assert http_server.requests == []


def test_an_address_that_is_not_an_ip_is_refused(http_server):
    outcome = fetch("shop.df.test", port=http_server.port, ips=("shop.df.test",))
    assert outcome.error == ("refused non-public address 'shop.df.test' (not an IP address) for shop.df.test "
                             "(allow_private is off)")


# --------------------------------------------------------------------------- ports, addresses, retries


def test_ports_are_tried_in_order_and_the_next_port_is_the_retry(http_server):
    targets = [FetchTarget("plain.df.test", LOCAL)]
    refused_first = (unused_port(), http_server.port)

    [retried] = fetch_batch(targets, persona=persona(), rules=RULES, ports=refused_first, allow_private=True, retries=1)
    [no_retry] = fetch_batch(targets, persona=persona(), rules=RULES, ports=refused_first, allow_private=True,
                             retries=0)

    assert (retried.status, retried.attempts, retried.final_url) == ("success", 2, f"http://plain.df.test:{http_server.port}/")
    assert (no_retry.status, no_retry.attempts) == ("error", 1)
    assert no_retry.error == f"connection refused (127.0.0.1:{refused_first[0]})"


def test_a_connection_error_moves_on_to_the_next_dns_address(http_server):
    # the servers listen on 127.0.0.1 only, so 127.0.0.2 refuses the connection
    outcome = fetch("plain.df.test", port=http_server.port, ips=("127.0.0.2", "127.0.0.1"), retries=1)
    assert (outcome.status, outcome.attempts) == ("success", 2)
    assert [r.local_address for r in http_server.requests] == ["127.0.0.1"]


def test_tls_ports_decide_the_scheme(https_server, test_tls):
    as_http = fetch("shop.df.test", port=https_server.port, ca_file=test_tls.ca_file)  # not a TLS port
    as_https = fetch("shop.df.test", port=https_server.port, tls_ports=(https_server.port,), ca_file=test_tls.ca_file)

    assert (as_http.status, as_http.business_status) == ("error", "invalid_http_response_error")
    assert [r.sni for r in https_server.requests] == ["shop.df.test"]  # the plain request never got through
    assert (as_https.status, as_https.final_url) == ("success", f"https://shop.df.test:{https_server.port}/")


def test_port_8443_is_https_by_default(test_servers_loop, web_site, test_tls):
    try:
        server = WebServer(test_servers_loop, web_site, tls=test_tls.server_context(), port=8443)
    except OSError:
        pytest.skip("port 8443 is in use on this machine")
    try:
        outcome = fetch("shop.df.test", port=8443, ca_file=test_tls.ca_file)
    finally:
        server.stop()
    assert (outcome.status, outcome.final_url) == ("success", "https://shop.df.test:8443/")
    assert [(r.sni, r.host) for r in server.requests] == [("shop.df.test", "shop.df.test:8443")]


# --------------------------------------------------------------------------- redirects


def test_redirects_are_followed_on_the_pinned_address(http_server):
    outcome = fetch("redirect.df.test", port=http_server.port)

    assert (outcome.status, outcome.business_status, outcome.redirect_count) == ("success", "lead_valid", 2)
    assert outcome.final_url == f"http://redirect.df.test:{http_server.port}/final"
    assert [(r.host, r.path) for r in http_server.requests] == [
        (f"redirect.df.test:{http_server.port}", path) for path in ("/", "/step2", "/final")]


def test_a_redirect_from_http_to_https_keeps_the_dns_address_and_sends_sni(http_server, https_server, test_tls):
    outcome = fetch("tohttps.df.test", port=http_server.port, ca_file=test_tls.ca_file)

    assert (outcome.status, outcome.title) == ("success", "Secure")
    assert outcome.final_url == f"https://tohttps.df.test:{https_server.port}/secure"
    [request] = https_server.requests
    assert (request.sni, request.local_address) == ("tohttps.df.test", "127.0.0.1")


def test_the_redirect_limit_is_enforced(http_server):
    too_many = fetch("chain.df.test", port=http_server.port, persona=persona(max_redirects=5))
    assert (too_many.status, too_many.business_status) == ("error", "invalid_http_response_error")
    assert too_many.error == "too many redirects (more than 5), the last to /6"

    enough = fetch("chain.df.test", port=http_server.port, persona=persona(max_redirects=6))
    assert (enough.status, enough.redirect_count, enough.title) == ("success", 6, "End of chain")


def test_a_redirect_loop_is_an_error(http_server):
    outcome = fetch("loop.df.test", port=http_server.port, retries=1)
    base = f"http://loop.df.test:{http_server.port}"
    assert (outcome.status, outcome.business_status, outcome.attempts) == ("error", "invalid_http_response_error", 1)
    assert outcome.error == f"redirect loop: {base}/a redirects to {base}/, which was already visited"


def test_without_follow_redirects_the_redirect_is_the_answer(http_server):
    outcome = fetch("redirect.df.test", port=http_server.port, persona=persona(follow_redirects=False))
    assert (outcome.status, outcome.business_status, outcome.status_code) == ("failed", "invalid_http_code", 301)


def test_a_redirect_to_another_host_resolves_it(http_server):
    outcome = fetch("tolocal.df.test", port=http_server.port)
    assert (outcome.status, outcome.title) == ("success", "Local")
    assert outcome.final_url == f"http://localhost:{http_server.port}/local"
    assert http_server.requests[-1].host == f"localhost:{http_server.port}"


def test_a_redirect_to_an_ip_literal_uses_it(http_server):
    outcome = fetch("toip.df.test", port=http_server.port)
    assert (outcome.status, outcome.final_url) == ("success", f"http://127.0.0.1:{http_server.port}/ip")


def test_a_redirect_to_a_non_public_address_is_refused(http_server, web_site, monkeypatch):
    """127.0.0.1 stands in for a public address here (all test servers are on loopback)."""
    classify = client.classify_address
    monkeypatch.setattr(client, "classify_address", lambda ip: (ip, None) if ip == "127.0.0.1" else classify(ip))
    web_site.add("toprivate.df.test", "/", redirect("http://127.0.0.2:{http_port}/"))

    outcome = fetch("toprivate.df.test", port=http_server.port, allow_private=False)

    assert (outcome.status, outcome.business_status) == ("error", "invalid_http_response_error")
    assert outcome.error == ("refused non-public address 127.0.0.2 (loopback) for redirect to 127.0.0.2 "
                             "(allow_private is off)")
    assert [r.hostname for r in http_server.requests] == ["toprivate.df.test"]


# --------------------------------------------------------------------------- status codes and timeouts


@pytest.mark.parametrize(("host", "code"), [("notfound.df.test", 404), ("error.df.test", 500)])
def test_a_status_outside_the_allowed_codes_is_invalid_http_code(http_server, host, code):
    outcome = fetch(host, port=http_server.port)
    assert (outcome.status, outcome.business_status, outcome.status_code) == ("failed", "invalid_http_code", code)
    assert outcome.keyword_hits == ()  # the 404 page mentions widgets: not a lead
    assert outcome.error == f"HTTP status {code} is not allowed"


def test_allowed_status_codes_replace_the_2xx_default(http_server):
    allowed_404 = fetch("notfound.df.test", port=http_server.port, persona=persona(allowed_status_codes=(404,)))
    assert (allowed_404.status, allowed_404.business_status) == ("success", "lead_valid")

    only_201 = fetch("plain.df.test", port=http_server.port, persona=persona(allowed_status_codes=(201,)))
    assert (only_201.status, only_201.business_status, only_201.status_code) == ("failed", "invalid_http_code", 200)


def test_a_page_without_keywords_is_http_valid_no_keywords(http_server):
    outcome = fetch("plain.df.test", port=http_server.port, adhoc_keywords=("ordinary",))
    assert outcome.business_status == "lead_valid"
    assert [(h.keyword_set, h.keyword, h.count) for h in outcome.keyword_hits] == [("adhoc", "ordinary", 1)]
    assert fetch("plain.df.test", port=http_server.port).business_status == "http_valid_no_keywords"


def test_a_slow_server_times_out_and_is_retried(http_server):
    started = time.monotonic()
    outcome = fetch("slow.df.test", port=http_server.port, persona=persona(timeout_s=0.4), retries=1)

    assert (outcome.status, outcome.business_status, outcome.attempts) == ("timeout", "invalid_http_response_error", 2)
    assert outcome.error == f"timed out after 0.4s (127.0.0.1:{http_server.port})"
    assert time.monotonic() - started < 2.5
    assert len(http_server.requests_for("slow.df.test")) == 2


# --------------------------------------------------------------------------- persona


def test_the_persona_user_agent_and_headers_reach_the_server(http_server):
    agent = persona(user_agent="DomainFlowBot/2.0 (+https://example.com/bot)",
                    headers=(("Accept-Language", "de-DE"), ("X-Campaign", "c-42"), ("Accept", "text/html")))
    fetch("plain.df.test", port=http_server.port, persona=agent)

    [request] = http_server.requests
    assert request.header("User-Agent") == "DomainFlowBot/2.0 (+https://example.com/bot)"
    assert (request.header("Accept-Language"), request.header("X-Campaign")) == ("de-DE", "c-42")
    assert [value for name, value in request.headers if name.lower() == "accept"] == ["text/html"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"headers": (("Host", "evil.test"),)}, "header 'Host' is set by the client and cannot be overridden"),
     ({"headers": (("X-A", "1\r\nX-B: 2"),)}, "header 'X-A' must not contain CR, LF or NUL"),
     ({"headers": (("Bad Name", "1"),)}, "invalid header name 'Bad Name'"),
     ({"user_agent": "bot\n"}, "header 'User-Agent' must not contain CR, LF or NUL"),
     ({"timeout_s": 0}, "timeout must be positive, got 0"),
     ({"allowed_status_codes": (200, 999)}, "allowed status code 999 is not between 100 and 599")],
)
def test_a_bad_persona_is_refused_when_built(overrides, message):
    with pytest.raises(ValueError) as caught:
        HttpPersonaConfig(name="bad", **overrides)
    assert str(caught.value) == message


# --------------------------------------------------------------------------- connections and batches


def test_a_keep_alive_connection_serves_many_domains_on_one_address(http_server):
    targets = [FetchTarget(d, LOCAL) for d in ("shop.df.test", "plain.df.test", "gzip.df.test", "br.df.test")]
    outcomes = fetch_batch(targets, persona=persona(), rules=RULES, ports=(http_server.port,), allow_private=True,
                           max_in_flight=1)
    assert [o.status for o in outcomes] == ["success"] * 4
    assert len({r.connection for r in http_server.requests}) == 1
    assert [r.hostname for r in http_server.requests] == [t.domain for t in targets]


def test_many_tls_domains_in_one_batch_each_get_their_own_sni(https_server, test_tls):
    # idle TLS connections are kept per SNI and capped, so this also runs the pool's eviction
    domains = [f"site{i}.df.test" for i in range(12)]
    outcomes = fetch_batch([FetchTarget(d, LOCAL) for d in domains], persona=persona(), rules=RULES,
                           ports=(https_server.port,), tls_ports=(https_server.port,), ca_file=test_tls.ca_file,
                           allow_private=True, max_in_flight=1)
    assert [(o.domain, o.status_code) for o in outcomes] == [(d, 404) for d in domains]  # unknown sites
    assert [r.sni for r in https_server.requests] == domains
    assert len({r.connection for r in https_server.requests}) == 12


def test_a_page_that_cannot_be_analysed_fails_alone(http_server, monkeypatch):
    def page_text(markup: str) -> tuple[str, str]:
        if "Widget Shop" in markup:
            raise RuntimeError("injected failure")
        return real_page_text(markup)

    real_page_text = pages.page_text
    monkeypatch.setattr(pages, "page_text", page_text)
    outcomes = fetch_batch([FetchTarget(d, LOCAL) for d in ("plain.df.test", "shop.df.test", "gzip.df.test")],
                           persona=persona(), rules=RULES, ports=(http_server.port,), allow_private=True)

    assert [(o.status, o.status_code) for o in outcomes] == [("success", 200), ("error", 200), ("success", 200)]
    assert outcomes[1].error == "unexpected RuntimeError reading the page: injected failure"
    assert outcomes[1].final_url == f"http://shop.df.test:{http_server.port}/"


def test_fetch_many_returns_outcomes_in_target_order(http_server):
    domains = ["slow.df.test", "shop.df.test", "notfound.df.test", "plain.df.test", "garbage.df.test"]

    outcomes = asyncio.run(fetch_many([FetchTarget(d, LOCAL) for d in domains], persona=persona(timeout_s=0.3),
                                      rules=RULES, ports=(http_server.port,), allow_private=True, retries=0,
                                      max_in_flight=3))

    assert [(o.domain, o.status) for o in outcomes] == [
        ("slow.df.test", "timeout"), ("shop.df.test", "success"), ("notfound.df.test", "failed"),
        ("plain.df.test", "success"), ("garbage.df.test", "error")]
    assert fetch_batch([], persona=persona(), rules=RULES) == []


# --------------------------------------------------------------------------- test servers


def test_a_new_page_can_be_served_per_host(http_server, web_site):
    web_site.add("custom.df.test", "/", Page(html("Custom", "<p>custom widget</p>"), headers=(("X-Test", "1"),)))
    outcome = fetch("custom.df.test", port=http_server.port)
    assert (outcome.title, outcome.business_status) == ("Custom", "lead_valid")
