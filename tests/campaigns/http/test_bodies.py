"""Response bodies from real servers on 127.0.0.1: caps, decompression, charsets, framing errors."""
from __future__ import annotations

import hashlib
import tracemalloc
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from campaigns.http.wire import _Message
from campaigns.keywords import page_text
from tests.campaigns.test_http import fetch, persona
from tests.servers.http_server import COMPRESSED_HTML, Page, html


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


def analysis_peak(body: bytes) -> int:
    """Peak Python allocations of analysing `body` as HTML alone (its DOM is ~60x a tag-dense page)."""
    with peak_memory() as peak:
        page_text(body.decode())
    return peak[0]


def test_the_body_is_read_up_to_the_cap_only(http_server):
    expected = (b"<p>filler widgets</p>\n" * 2978 * 2)[:100_000]  # the page is 10 MiB of these
    with peak_memory() as peak:
        outcome = fetch("big.df.test", port=http_server.port, persona=persona(max_body_bytes=100_000))

    assert (outcome.status, outcome.content_length) == ("success", 100_000)
    assert outcome.body_sha256 == hashlib.sha256(expected).hexdigest()
    assert peak[0] < 1_500_000 + analysis_peak(expected)


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

    expected = (b"<p>bomb</p>" * 20_000)[:200_000]
    assert (outcome.status, outcome.content_length) == ("success", 200_000)  # it inflates to 16 MiB
    assert outcome.body_sha256 == hashlib.sha256(expected).hexdigest()
    assert peak[0] < 1_500_000 + analysis_peak(expected)


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
    assert outcome.error == "malformed HTTP response: Invalid character in Content-Length"


def test_the_script_title_is_returned_as_exact_text(http_server):
    outcome = fetch("xss.df.test", port=http_server.port)
    assert outcome.title == "<script>alert(1)</script>"
    assert outcome.snippet == "Hello"


def test_a_response_that_is_not_http_is_an_error_without_retry(http_server):
    outcome = fetch("garbage.df.test", port=http_server.port, retries=2)
    assert (outcome.status, outcome.business_status, outcome.attempts) == ("error", "invalid_http_response_error", 1)
    assert outcome.error == "malformed HTTP response: Expected HTTP/, RTSP/ or ICE/"


def test_only_the_headers_the_fetcher_reads_are_kept():
    message = _Message(1 << 20)
    message.feed(b"HTTP/1.1 200 OK\r\nServer: first\r\nX-Trace: 1\r\nSet-Cookie: s=1\r\nSet-Cookie: t=2\r\n"
                 b"Server: last\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok")
    assert message.done
    assert message.headers == {"server": "last", "content-type": "text/html", "content-length": "2"}
