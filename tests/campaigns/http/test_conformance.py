"""DomainFlow's fetcher beside aiohttp (a test oracle only) on nginx and on a misbehaving-server corpus.

For every well-formed response both must agree on status, final URL, body hash and decoded text;
every malformed framing case must be refused by DomainFlow; and no way of splitting a response
across reads may change what DomainFlow makes of it.
"""
from __future__ import annotations

import asyncio
import gzip
import hashlib
import random
import socket

import aiohttp
import aiohttp.abc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.http import FetchTarget, HttpOutcome, HttpPersonaConfig, fetch_batch
from campaigns.keywords import page_text
from tests.campaigns.http.test_hostile_servers import response
from tests.servers.http_server import COMPRESSED_HTML, Page, html

PERSONA = HttpPersonaConfig(name="conformance", timeout_s=5.0)
WORDS = "widget gadget ünïcödé 日本語 &amp; &lt;tag&gt; café".split()


class ToLoopback(aiohttp.abc.AbstractResolver):
    """Every name resolves to 127.0.0.1, as the DNS phase pins targets for DomainFlow."""

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        pass


def oracle(domain: str, port: int) -> tuple[int, str, str, str, str]:
    """(status, final URL, body sha256, title, first 300 characters of text) as aiohttp sees the page."""

    async def get() -> tuple[int, str, bytes, str]:
        connector = aiohttp.TCPConnector(resolver=ToLoopback(), force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(f"http://{domain}:{port}/") as reply:
                body = await reply.read()
                return reply.status, str(reply.url), body, reply.get_encoding()

    status, url, body, encoding = asyncio.run(get())
    title, text = page_text(body.decode(encoding, errors="replace"))
    return status, url, hashlib.sha256(body).hexdigest(), title, text[:300]


def ours(domain: str, port: int) -> HttpOutcome:
    [outcome] = fetch_batch([FetchTarget(domain, ("127.0.0.1",))], persona=PERSONA, rules=(), ports=(port,),
                            allow_private=True, retries=0)
    return outcome


def agree(domain: str, port: int) -> None:
    outcome = ours(domain, port)
    assert outcome.error in ("", f"HTTP status {outcome.status_code} is not allowed")
    assert (outcome.status_code, outcome.final_url, outcome.body_sha256, outcome.title, outcome.snippet) == oracle(
        domain, port)


# --------------------------------------------------------------------------- nginx


def _words(seed: int, count: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(count))


NGINX_SITES = {
    "plain.conf.test": {"index.html": html("Plain", f"<p>{_words(1, 50)}</p>").encode()},
    "big.conf.test": {"index.html": html("Big", "".join(f"<div><p>{_words(n, 40)}</p></div>"
                                                        for n in range(600))).encode()},
    "empty.conf.test": {"index.html": b""},
    "binary.conf.test": {"index.html": bytes(random.Random(7).randrange(256) for _ in range(5000))},
    "redirect.conf.test": {"redirect": b"", "final.html": html("Final", "<p>arrived</p>").encode()},
    "entities.conf.test": {"index.html": html("A &amp; B", "<p>&copy; &#x1F600; &nbsp;x</p>").encode()},
}


@pytest.mark.parametrize("site", sorted(NGINX_SITES) + ["missing.conf.test"])
def test_domainflow_and_aiohttp_agree_on_nginx(nginx_sites, site):
    nginx_sites.add(site, NGINX_SITES.get(site, {}))
    agree(site, nginx_sites.port)


def test_nginx_gzips_and_chunks_the_big_page(nginx_sites):
    """The big page exercises decompression and chunked framing, not only Content-Length."""
    nginx_sites.add("big.conf.test", NGINX_SITES["big.conf.test"])
    raw = socket.create_connection(("127.0.0.1", nginx_sites.port))
    with raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: big.conf.test\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
        head = raw.recv(4096).split(b"\r\n\r\n")[0].lower()
    assert b"transfer-encoding: chunked" in head and b"content-encoding: gzip" in head


# --------------------------------------------------------------------------- misbehaving servers

GOOD_RAW = {
    "chunk-extensions-and-trailers": response(
        b"Content-Type: text/html\r\nTransfer-Encoding: chunked\r\n",
        b"7;ext=1\r\n<p>hi, \r\nA;a=b;c\r\nwidget</p>\r\n0\r\nX-Trailer: 1\r\n\r\n"),
    "early-hints": (b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                    + response(b"Content-Type: text/html\r\nContent-Length: 22\r\n", b"<title>After</title>ok")),
    "http-1-0-until-close": b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<title>Old</title><p>until close",
    "obs-text-and-repeated-headers": response(
        b"Server: caf\xe9\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Type: text/html; charset=iso-8859-1\r\n"
        b"Content-Length: 17\r\n", b"<p>caf\xe9 cr\xe8me</p>"),
    "no-reason-phrase": b"HTTP/1.1 200\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nplain  words",
    "gzip-chunked": (response(b"Content-Type: text/html\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
                              b"%x\r\n%s\r\n0\r\n\r\n" % (len(gzip.compress(COMPRESSED_HTML.encode(), mtime=0)),
                                                         gzip.compress(COMPRESSED_HTML.encode(), mtime=0)))),
}
BAD_RAW = {
    "cl-and-te": response(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n"),
    "negative-chunk": response(b"Transfer-Encoding: chunked\r\n", b"-5\r\nhello\r\n0\r\n\r\n"),
    "hex-prefixed-chunk": response(b"Transfer-Encoding: chunked\r\n", b"0x5\r\nhello\r\n0\r\n\r\n"),
    "underscore-chunk": response(b"Transfer-Encoding: chunked\r\n", b"0_5\r\nhello\r\n0\r\n\r\n"),
    "unknown-coding": response(b"Transfer-Encoding: gzip\r\n", b"not chunked at all"),
    "truncated-chunked": response(b"Transfer-Encoding: chunked\r\n", b"ff\r\nshort"),
    "truncated-length": response(b"Content-Length: 100\r\n", b"short"),
    "conflicting-lengths": response(b"Content-Length: 2\r\nContent-Length: 3\r\n", b"abc"),
    "not-http": b"SPDY/9 what is this\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(GOOD_RAW))
def test_domainflow_and_aiohttp_agree_on_odd_but_well_formed_responses(http_server, web_site, case):
    web_site.add(f"{case}.df.test", "/", Page(raw=GOOD_RAW[case]))
    agree(f"{case}.df.test", http_server.port)


@pytest.mark.parametrize("case", sorted(BAD_RAW))
def test_domainflow_refuses_every_malformed_framing(http_server, web_site, case):
    web_site.add(f"{case}.df.test", "/", Page(raw=BAD_RAW[case]))
    outcome = ours(f"{case}.df.test", http_server.port)
    assert (outcome.status, outcome.business_status, outcome.body_sha256) == (
        "error", "invalid_http_response_error", "")


# --------------------------------------------------------------------------- reads split anywhere


def _summary(outcome: HttpOutcome) -> tuple:
    return (outcome.status, outcome.status_code, outcome.body_sha256, outcome.title, outcome.snippet, outcome.error)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(sorted(GOOD_RAW) + sorted(BAD_RAW)), data=st.data())
def test_where_a_response_is_split_across_reads_changes_nothing(split_server, case, data):
    wire = {**GOOD_RAW, **BAD_RAW}[case]
    split_server.response, split_server.cuts = wire, []
    whole = _summary(ours("split.df.test", split_server.port))
    split_server.cuts = data.draw(st.lists(st.integers(1, max(1, len(wire) - 1)), max_size=8))
    assert _summary(ours("split.df.test", split_server.port)) == whole
    assert (whole[0] == "error") == (case in BAD_RAW)
