"""campaigns.http against real servers and proxies on 127.0.0.1 (tests/servers/http_server.py)."""
from __future__ import annotations

import asyncio
import hashlib
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from campaigns import http
from campaigns.http import (
    FetchTarget,
    HttpOutcome,
    HttpPersonaConfig,
    ProxyConfig,
    ProxyPool,
    fetch_batch,
    fetch_many,
    parse_proxy_url,
)
from campaigns.keywords import KeywordRuleSpec, compile_rule
from tests.servers.http_server import COMPRESSED_HTML, SHOP_HTML, Page, WebServer, html, redirect, unused_port

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


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """Yields a list that receives the peak of Python allocations (bytes) made inside the block."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result: list[int] = []
    try:
        yield result
    finally:
        result.append(tracemalloc.get_traced_memory()[1] - base)
        if not was_tracing:
            tracemalloc.stop()


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
    classify = http._classify_address
    monkeypatch.setattr(http, "_classify_address", lambda ip: (ip, None) if ip == "127.0.0.1" else classify(ip))
    web_site.add("toprivate.df.test", "/", redirect("http://127.0.0.2:{http_port}/"))

    outcome = fetch("toprivate.df.test", port=http_server.port, allow_private=False)

    assert (outcome.status, outcome.business_status) == ("error", "invalid_http_response_error")
    assert outcome.error == ("refused non-public address 127.0.0.2 (loopback) for redirect to 127.0.0.2 "
                             "(allow_private is off)")
    assert [r.hostname for r in http_server.requests] == ["toprivate.df.test"]


# --------------------------------------------------------------------------- bodies


def test_the_body_is_read_up_to_the_cap_only(http_server):
    with peak_memory() as peak:
        outcome = fetch("big.df.test", port=http_server.port, persona=persona(max_body_bytes=100_000))

    assert (outcome.status, outcome.content_length) == ("success", 100_000)
    expected = (b"<p>filler widgets</p>\n" * 2978 * 2)[:100_000]  # the page is 10 MiB of these
    assert outcome.body_sha256 == hashlib.sha256(expected).hexdigest()
    assert peak[0] < 1_500_000


@pytest.mark.parametrize("host", ["gzip.df.test", "deflate.df.test", "br.df.test"])
def test_compressed_bodies_are_decompressed(http_server, host):
    outcome = fetch(host, port=http_server.port)

    assert (outcome.status, outcome.business_status, outcome.title) == ("success", "lead_valid", "Compressed")
    assert outcome.content_length == len(COMPRESSED_HTML.encode())
    assert outcome.body_sha256 == hashlib.sha256(COMPRESSED_HTML.encode()).hexdigest()
    accept = http_server.requests[0].header("Accept-Encoding")
    assert accept == "gzip, deflate, br"


@pytest.mark.parametrize("host", ["gzipbomb.df.test", "brbomb.df.test"])
def test_the_cap_applies_to_the_decompressed_size(http_server, host):
    with peak_memory() as peak:
        outcome = fetch(host, port=http_server.port, persona=persona(max_body_bytes=200_000))

    assert (outcome.status, outcome.content_length) == ("success", 200_000)  # it inflates to 16 MiB
    assert outcome.body_sha256 == hashlib.sha256((b"<p>bomb</p>" * 20_000)[:200_000]).hexdigest()
    assert peak[0] < 1_500_000


def test_chunked_bodies_and_declared_charsets_are_decoded(http_server):
    chunked = fetch("chunked.df.test", port=http_server.port)
    assert (chunked.status, chunked.business_status, chunked.content_length) == ("success", "lead_valid", 12_127)

    latin1 = fetch("latin1.df.test", port=http_server.port)
    assert (latin1.title, latin1.snippet) == ("Café", "Café crème")


def test_deflate_without_its_zlib_wrapper_is_decompressed(http_server, web_site):
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    wire = packer.compress(COMPRESSED_HTML.encode()) + packer.flush()
    web_site.add("rawdeflate.df.test", "/", Page(wire=wire, encoding="deflate"))
    outcome = fetch("rawdeflate.df.test", port=http_server.port)
    assert (outcome.status, outcome.title, outcome.content_length) == ("success", "Compressed", len(COMPRESSED_HTML))


def test_informational_responses_are_skipped_and_http_1_0_bodies_end_at_close(http_server, web_site):
    body = b"<title>After 103</title>"
    web_site.add("hints.df.test", "/", Page(raw=b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                                                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)))
    web_site.add("old.df.test", "/", Page(raw=b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\n<title>Until close</title>"))

    hints = fetch("hints.df.test", port=http_server.port)
    old = fetch("old.df.test", port=http_server.port)

    assert (hints.status_code, hints.title, hints.content_length) == (200, "After 103", len(body))
    assert (old.status_code, old.title, old.server) == (200, "Until close", "old")


@pytest.mark.parametrize("charset", ["rot13", "hex", "no-such-charset"])
def test_an_unusable_declared_charset_falls_back_to_utf_8(http_server, web_site, charset):
    host = f"charset-{charset}.df.test"
    web_site.add(host, "/", Page(html("Caf\u00e9", "<p>ok</p>"), content_type=f"text/html; charset={charset}"))
    outcome = fetch(host, port=http_server.port)
    assert (outcome.status, outcome.title) == ("success", "Caf\u00e9")


def test_a_bogus_content_length_is_a_protocol_error(http_server, web_site):
    raw = "HTTP/1.1 200 OK\r\nContent-Length: \u00b2\r\n\r\nxx".encode("latin-1")
    web_site.add("badlength.df.test", "/", Page(raw=raw))
    outcome = fetch("badlength.df.test", port=http_server.port)
    assert (outcome.status, outcome.business_status) == ("error", "invalid_http_response_error")
    assert outcome.error == "invalid Content-Length '\u00b2'"


def test_the_script_title_is_returned_as_exact_text(http_server):
    outcome = fetch("xss.df.test", port=http_server.port)
    assert outcome.title == "<script>alert(1)</script>"
    assert outcome.snippet == "Hello"


def test_a_response_that_is_not_http_is_an_error_without_retry(http_server):
    outcome = fetch("garbage.df.test", port=http_server.port, retries=2)
    assert (outcome.status, outcome.business_status, outcome.attempts) == ("error", "invalid_http_response_error", 1)
    assert outcome.error == "malformed HTTP status line 'SPDY/9 what is this'"


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

    real_page_text = http.page_text
    monkeypatch.setattr(http, "page_text", page_text)
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


# --------------------------------------------------------------------------- proxies


@pytest.mark.parametrize("kind", ["connect_proxy", "https_proxy", "socks5_proxy"])
def test_each_proxy_kind_tunnels_to_the_dns_address_with_the_domain_as_host_and_sni(
    request, kind, http_server, https_server, fetch_tls, test_tls
):
    proxy = request.getfixturevalue(kind)
    pool = ProxyPool([ProxyConfig("px", proxy.url())])

    plain = fetch("shop.df.test", port=http_server.port, proxies=pool, ca_file=test_tls.ca_file)
    secure = fetch_tls("shop.df.test", proxies=pool)

    assert [(o.status, o.business_status, o.proxy) for o in (plain, secure)] == [("success", "lead_valid", "px")] * 2
    assert proxy.targets == [f"127.0.0.1:{http_server.port}", f"127.0.0.1:{https_server.port}"]
    assert http_server.requests[0].host == f"shop.df.test:{http_server.port}"
    assert (https_server.requests[0].sni, https_server.requests[0].host) == (
        "shop.df.test", f"shop.df.test:{https_server.port}")
    assert pool.stats()[0].successes == 2


@pytest.mark.parametrize("kind", ["connect_proxy", "socks5_proxy"])
def test_proxy_credentials_are_sent_and_a_rejection_is_the_proxys_failure(request, kind, http_server):
    proxy = request.getfixturevalue(kind)
    proxy.auth = ("user", "s3cret")
    good = ProxyPool([ProxyConfig("good", proxy.url(("user", "s3cret")))])
    bad = ProxyPool([ProxyConfig("bad", proxy.url(("user", "wrong")))])

    ok = fetch("plain.df.test", port=http_server.port, proxies=good)
    refused = fetch("plain.df.test", port=http_server.port, proxies=bad)

    assert ok.status == "success"
    assert proxy.requests[0].credentials == ("user", "s3cret")
    assert refused.status == "error"
    expected = "CONNECT 127.0.0.1:{} answered 407" if kind == "connect_proxy" else "SOCKS5 username/password rejected"
    assert refused.error == f"proxy bad: {expected.format(http_server.port)}"
    assert (bad.stats()[0].failures, bad.stats()[0].consecutive_failures) == (1, 1)


def test_round_robin_alternates_proxies(http_server, connect_proxy, socks5_proxy):
    pool = ProxyPool([ProxyConfig("a", connect_proxy.url()), ProxyConfig("b", socks5_proxy.url())])
    targets = [FetchTarget(d, LOCAL) for d in ("shop.df.test", "plain.df.test", "gzip.df.test", "br.df.test")]

    outcomes = fetch_batch(targets, persona=persona(), rules=RULES, ports=(http_server.port,), allow_private=True,
                           proxies=pool, max_in_flight=1)

    assert [o.proxy for o in outcomes] == ["a", "b", "a", "b"]
    assert [(s.key, s.uses, s.successes) for s in pool.stats()] == [("a", 2, 2), ("b", 2, 2)]


def test_least_used_prefers_the_proxy_with_the_fewest_uses(http_server, connect_proxy, socks5_proxy):
    pool = ProxyPool([ProxyConfig("a", connect_proxy.url()), ProxyConfig("b", socks5_proxy.url())],
                     strategy="least_used", usage={"a": 2})
    targets = [FetchTarget(d, LOCAL) for d in ("shop.df.test", "plain.df.test", "gzip.df.test", "br.df.test")]

    outcomes = fetch_batch(targets, persona=persona(), rules=RULES, ports=(http_server.port,), allow_private=True,
                           proxies=pool, max_in_flight=1)

    assert [o.proxy for o in outcomes] == ["b", "b", "a", "b"]
    assert [(s.key, s.uses) for s in pool.stats()] == [("a", 1), ("b", 3)]  # this batch's uses, to add up


def test_random_strategy_is_reproducible_with_a_seed(connect_proxy, socks5_proxy):
    proxies = [ProxyConfig("a", connect_proxy.url()), ProxyConfig("b", socks5_proxy.url())]
    picks = [[ProxyPool(proxies, strategy="random", seed=7).choose().key for _ in range(1)] for _ in range(3)]
    pool = ProxyPool(proxies, strategy="random", seed=7)
    sequence = [pool.choose().key for _ in range(40)]
    again = ProxyPool(proxies, strategy="random", seed=7)
    assert [again.choose().key for _ in range(40)] == sequence
    assert set(sequence) == {"a", "b"}
    assert len({p[0] for p in picks}) == 1


def test_a_failing_proxy_is_skipped_and_marked_unhealthy(http_server, connect_proxy, make_proxy):
    broken = make_proxy("connect")
    broken.mode = "close"  # accepts, then hangs up at once
    pool = ProxyPool([ProxyConfig("broken", broken.url()), ProxyConfig("good", connect_proxy.url())],
                     unhealthy_after=2)
    targets = [FetchTarget(d, LOCAL) for d in ("shop.df.test", "plain.df.test", "gzip.df.test", "br.df.test")]

    outcomes = fetch_batch(targets, persona=persona(), rules=RULES, ports=(http_server.port,), allow_private=True,
                           proxies=pool, max_in_flight=1, retries=1)

    assert [(o.status, o.proxy, o.attempts) for o in outcomes] == [
        ("success", "good", 2), ("success", "good", 2), ("success", "good", 1), ("success", "good", 1)]
    assert broken.connections == 2  # never tried again once unhealthy
    stats = {s.key: s for s in pool.stats()}
    assert (stats["broken"].failures, stats["broken"].consecutive_failures, stats["broken"].healthy) == (2, 2, False)
    assert (stats["good"].successes, stats["good"].healthy) == (4, True)


def test_a_refused_proxy_fails_over_to_the_next_one(http_server, socks5_proxy):
    pool = ProxyPool([ProxyConfig("dead", f"socks5://127.0.0.1:{unused_port()}"),
                      ProxyConfig("alive", socks5_proxy.url())])

    failover = fetch("plain.df.test", port=http_server.port, proxies=pool, retries=1)
    assert (failover.status, failover.proxy, failover.attempts) == ("success", "alive", 2)

    alone = ProxyPool([ProxyConfig("dead", f"http://127.0.0.1:{unused_port()}")])
    outcome = fetch("plain.df.test", port=http_server.port, proxies=alone)
    assert (outcome.status, outcome.error) == ("error", "proxy dead: connection refused")


def test_without_a_healthy_proxy_nothing_is_fetched(http_server, connect_proxy):
    pool = ProxyPool([ProxyConfig("a", connect_proxy.url())], unhealthy=["a"])
    outcome = fetch("plain.df.test", port=http_server.port, proxies=pool)
    assert (outcome.status, outcome.attempts) == ("error", 0)
    assert outcome.error == "no healthy proxy left (1 configured, all unhealthy)"
    assert connect_proxy.connections == 0


@pytest.mark.parametrize("kind", ["connect_proxy", "socks5_proxy"])
def test_an_unreachable_target_behind_a_working_proxy_is_not_the_proxys_fault(request, kind):
    proxy = request.getfixturevalue(kind)
    pool = ProxyPool([ProxyConfig("px", proxy.url())], unhealthy_after=1)
    port = unused_port()

    outcome = fetch("plain.df.test", port=port, proxies=pool)

    assert outcome.status == "error"
    assert outcome.error in (f"proxy could not reach 127.0.0.1:{port} (CONNECT answered 502)",
                             f"SOCKS5 proxy could not reach 127.0.0.1:{port}: connection refused")
    assert pool.stats()[0].healthy


def test_a_rejecting_proxy_is_marked_failed(http_server, socks5_proxy):
    socks5_proxy.mode = "reject"
    pool = ProxyPool([ProxyConfig("px", socks5_proxy.url())], unhealthy_after=1)
    outcome = fetch("plain.df.test", port=http_server.port, proxies=pool)
    assert outcome.error == (f"proxy px: SOCKS5 proxy could not reach 127.0.0.1:{http_server.port}: "
                             "connection not allowed by ruleset")
    assert not pool.stats()[0].healthy


@pytest.mark.parametrize(
    ("url", "parsed"),
    [("http://proxy.example:3128", ("http", "proxy.example", 3128, "", "")),
     ("https://u:p%40ss@10.0.0.1:8443/", ("https", "10.0.0.1", 8443, "u", "p@ss")),
     ("socks5://[2001:db8::1]", ("socks5", "2001:db8::1", 1080, "", "")),
     ("HTTP://proxy.example", ("http", "proxy.example", 80, "", ""))],
)
def test_parse_proxy_url_accepts_http_https_and_socks5(url, parsed):
    result = parse_proxy_url(url)
    assert (result.scheme, result.host, result.port, result.username, result.password) == parsed


@pytest.mark.parametrize(
    ("url", "message"),
    [("ftp://proxy.example:21",
      "unsupported proxy scheme 'ftp' in 'ftp://proxy.example:21' (expected http, https or socks5)"),
     ("socks4://p.example:1080",
      "unsupported proxy scheme 'socks4' in 'socks4://p.example:1080' (expected http, https or socks5)"),
     ("http://:8080", "proxy URL 'http://:8080' has no host"),
     ("http://bad_host!:8080", "proxy URL 'http://bad_host!:8080' has an invalid host 'bad_host!'"),
     ("http://p.example:99999", "invalid proxy URL 'http://p.example:99999': Port out of range 0-65535"),
     ("http://p.example:0", "proxy URL 'http://p.example:0' has port 0 (expected 1-65535)"),
     ("http://p.example:", "proxy URL 'http://p.example:' has an empty port"),
     ("http://p.example:8080/path", "proxy URL 'http://p.example:8080/path' must not have a path, query or fragment"),
     ("proxy.example:8080",
      "unsupported proxy scheme 'proxy.example' in 'proxy.example:8080' (expected http, https or socks5)")],
)
def test_parse_proxy_url_refuses_bad_urls_with_a_clear_message(url, message):
    with pytest.raises(ValueError) as caught:
        parse_proxy_url(url)
    assert str(caught.value) == message


def test_proxy_pool_refuses_a_bad_configuration():
    with pytest.raises(ValueError, match=r"^unknown proxy strategy 'fastest' \(expected round_robin, random, "
                                         r"least_used\)$"):
        ProxyPool([], strategy="fastest")
    with pytest.raises(ValueError, match="^proxy keys must be unique$"):
        ProxyPool([ProxyConfig("a", "http://p.example:1"), ProxyConfig("a", "http://p.example:2")])
    with pytest.raises(ValueError, match="has no host"):
        ProxyPool([ProxyConfig("a", "http://:1")])


def test_an_https_proxy_is_verified_like_a_target(http_server, https_proxy):
    pool = ProxyPool([ProxyConfig("px", https_proxy.url())])
    outcome = fetch("shop.df.test", port=http_server.port, proxies=pool)  # the test CA is not trusted
    assert outcome.error.startswith("proxy px: TLS certificate verification failed: ")


def test_a_new_page_can_be_served_per_host(http_server, web_site):
    web_site.add("custom.df.test", "/", Page(html("Custom", "<p>custom widget</p>"), headers=(("X-Test", "1"),)))
    outcome = fetch("custom.df.test", port=http_server.port)
    assert (outcome.title, outcome.business_status) == ("Custom", "lead_valid")
