"""campaigns.http through real CONNECT, HTTPS and SOCKS5 proxies on 127.0.0.1, the proxy pool, and what a
hostile proxy's bytes do."""
from __future__ import annotations

import asyncio

import pytest

from campaigns.http import FetchTarget, ProxyConfig, ProxyPool, fetch_batch, parse_proxy_url
from tests.campaigns.test_http import LOCAL, RULES, fetch, persona
from tests.servers.http_proxies import BackgroundLoop, Proxy
from tests.servers.http_server import unused_port


@pytest.fixture
def fetch_tls(https_server, test_tls):
    """fetch() over TLS to the HTTPS test server, trusting the test CA."""

    def fetch_over_tls(domain: str, **kwargs):
        return fetch(domain, port=https_server.port, tls_ports=(https_server.port,), ca_file=test_tls.ca_file, **kwargs)

    return fetch_over_tls


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


# --------------------------------------------------------------------------- a proxy's every byte spoiled

PAGE = b"<title>Tunnelled</title><p>a widget</p>"
TUNNELLED = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(PAGE), PAGE)
CONNECT_REPLY = b"HTTP/1.1 200 Connection established\r\nVia: 1.1 px\r\n\r\n"
SOCKS_REPLY = b"\x05\x00" + b"\x05\x00\x00\x01\x7f\x00\x00\x01\x1f\x90"  # no auth; connected, bound 127.0.0.1:8080


class ScriptedProxy(Proxy):
    """A proxy (`kind` "connect" or "socks5") that answers the next tunnel request with `reply`,
    whatever its bytes; then serves the tunnelled request itself should one arrive within `serve_s`
    (the target it was asked for is not connected to); then hangs up."""

    def __init__(self, background: BackgroundLoop, kind: str) -> None:
        self.kind = kind
        self.reply = b""
        self.serve_s = 0.0
        super().__init__(background)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.kind == "socks5":
            await reader.readexactly(3)  # the greeting: version 5, one method, no authentication
        else:
            await reader.readuntil(b"\r\n\r\n")
        writer.write(self.reply)
        try:
            async with asyncio.timeout(self.serve_s):
                await reader.readuntil(b"\r\n\r\n")  # (after a SOCKS5 connect request) the tunnelled request
        except TimeoutError:
            return
        writer.write(TUNNELLED)
        await writer.drain()


# Bytes of each honest reply the client checks: another value there must never give a tunnel (the
# status's first digit; SOCKS5's versions, method and reply code).
CHECKED = {"connect": {9}, "socks5": {0, 1, 2, 3}}


@pytest.mark.parametrize("kind", ["connect", "socks5"])
def test_no_bytes_a_proxy_sends_escape_a_fetch(test_servers_loop, kind):
    """The proxy's reply cut short at every length and each of its bytes set to another value: every
    fetch ends with an outcome (no exception out of the batch, none waiting past its deadline), a
    reply cut short or wrong where the client checks it never carries a page, and the reply whole does."""
    proxy = ScriptedProxy(test_servers_loop, kind)
    honest = CONNECT_REPLY if kind == "connect" else SOCKS_REPLY
    cases = [(honest, None)] + [(honest[:k], None) for k in range(len(honest))]
    cases += [(honest[:i] + bytes([v]) + honest[i + 1 :], i)
              for i in range(len(honest)) for v in (0, 1, 3, 4, 0x35, 0xFF) if v != honest[i]]
    outcomes = []
    try:
        for reply, _ in cases:
            # The whole reply is served for as long as a fetch may take; a spoiled one, a moment (the
            # client may still wait for more of it).
            proxy.reply, proxy.serve_s = reply, 5.0 if reply == honest else 0.2 if len(reply) == len(honest) else 0
            pool = ProxyPool([ProxyConfig("px", proxy.url())])
            outcomes.append(fetch("tunnel.df.test", port=8080, proxies=pool, persona=persona(timeout_s=2.0)))
    finally:
        proxy.stop()

    assert (outcomes[0].status, outcomes[0].title) == ("success", "Tunnelled")
    for (reply, position), outcome in zip(cases, outcomes, strict=True):
        assert outcome.status in ("success", "failed", "error", "timeout"), (reply, outcome)
        assert outcome.status == "success" or outcome.error, (reply, outcome)
        if len(reply) < len(honest) or position in CHECKED[kind]:
            assert outcome.status != "success", (reply, outcome)
