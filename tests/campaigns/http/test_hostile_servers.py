"""What a hostile or broken server can do to a batch: refused framing, unstorable bytes, CPU, memory."""
from __future__ import annotations

import asyncio
import json
import threading

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.http import FetchTarget, HttpPersonaConfig, fetch_batch, fetch_many
from campaigns.http.batch import LOOP_PAGE_BYTES, ByteBudget, byte_budget, shutdown_analysis_pool
from campaigns.http.pages import storable
from campaigns.keywords import KeywordRuleSpec, compile_rule
from tests.servers.http_server import Page, html

LOCAL = ("127.0.0.1",)
RULES = (compile_rule(KeywordRuleSpec("products", "widget", "string")),)


def persona(**overrides) -> HttpPersonaConfig:
    return HttpPersonaConfig(name="hostile-test", **{"timeout_s": 5.0, **overrides})


def fetch(domain: str, port: int, **kwargs):
    kwargs.setdefault("persona", persona())
    [outcome] = fetch_batch([FetchTarget(domain, LOCAL)], rules=RULES, ports=(port,), allow_private=True,
                            retries=0, **kwargs)
    return outcome


def response(head: bytes, body: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + head + b"\r\n" + body


# --------------------------------------------------------------------------- strict framing


@pytest.mark.parametrize(
    ("wire", "error"),
    [(response(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n"),
      "malformed HTTP response: Transfer-Encoding can't be present with Content-Length"),
     *[(response(b"Transfer-Encoding: chunked\r\n", size + b"\r\nhello\r\n0\r\n\r\n"),
        "malformed HTTP response: Invalid character in chunk size") for size in (b"-5", b"0x5", b"0_5", b"+5")],
     (response(b"Transfer-Encoding: gzip\r\n", b"\x1f\x8b\x08\x00 not chunked"),
      "unsupported transfer coding 'gzip'"),
     (response(b"Transfer-Encoding: gzip, chunked\r\n", b"3\r\nabc\r\n0\r\n\r\n"),
      "unsupported transfer coding 'gzip, chunked'"),
     (response(b"Location: /a\r\nLocation: /b\r\nContent-Length: 0\r\n"),
      "conflicting Location headers in one response"),
     (response(b"Content-Length: 2\r\nContent-Length: 3\r\n", b"abc"),
      "malformed HTTP response: Duplicate Content-Length")],
    ids=["cl-and-te", "chunk-negative", "chunk-0x", "chunk-underscore", "chunk-plus", "te-gzip", "te-gzip-chunked",
         "two-locations", "two-lengths"],
)
def test_ambiguous_framing_is_refused_for_that_domain(http_server, web_site, wire, error):
    web_site.add("framing.df.test", "/", Page(raw=wire))
    outcome = fetch("framing.df.test", http_server.port)
    assert (outcome.status, outcome.business_status, outcome.error) == (
        "error", "invalid_http_response_error", error)


def test_bytes_after_a_response_retire_the_keep_alive_connection(http_server, web_site):
    web_site.add("extra.df.test", "/", Page(raw=response(b"Content-Length: 2\r\n", b"okHTTP/1.1 200 OK\r\n")))
    outcomes = fetch_batch([FetchTarget("extra.df.test", LOCAL), FetchTarget("plain.df.test", LOCAL)],
                           persona=persona(), rules=RULES, ports=(http_server.port,), allow_private=True,
                           max_in_flight=1, retries=0)
    assert [o.status for o in outcomes] == ["success", "success"]
    assert len({r.connection for r in http_server.requests}) == 2


def test_a_bare_lf_head_is_read_as_browsers_do(http_server, web_site):
    web_site.add("lf.df.test", "/", Page(raw=b"HTTP/1.1 200 OK\nServer: lf\nContent-Length: 14\n\n<title>LF</title>"[:-3]))
    outcome = fetch("lf.df.test", http_server.port)
    assert (outcome.status, outcome.server) == ("success", "lf")


# --------------------------------------------------------------------------- charsets


@pytest.mark.parametrize("label", ["idna", "undefined", "utf-7", "x-user-defined", "replacement"])
def test_a_dangerous_or_unknown_charset_label_is_read_as_utf_8(http_server, web_site, label):
    host = f"label-{label}.df.test"
    web_site.add(host, "/", Page(html("Caf\u00e9 +AGEAYgBj-", "<p>ok \xff</p>").encode() + b"\xff",
                                 content_type=f"text/html; charset={label}"))
    outcome = fetch(host, http_server.port)
    assert (outcome.status, outcome.title, outcome.snippet) == ("success", "Caf\u00e9 +AGEAYgBj-", "ok \xff \ufffd")


@pytest.mark.parametrize(("label", "expected"), [("latin1", "caf\u00e9 \u20ac"), ("ascii", "caf\u00e9 \u20ac"),
                                                 ("shift_jis", "caf\ufffd \x80")])
def test_whatwg_labels_pick_the_browsers_decoder(http_server, web_site, label, expected):
    host = f"whatwg-{label}.df.test"
    web_site.add(host, "/", Page(b"<p>caf\xe9 \x80</p>", content_type=f"text/html; charset={label}"))
    assert fetch(host, http_server.port).snippet.startswith(expected)


# --------------------------------------------------------------------------- storable text


def store(outcome) -> None:
    """Write every text field of `outcome` to PostgreSQL (text and jsonb columns, as results are)."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS outcome_probe (title text, snippet text, "
                       "server varchar(200), final_url text, error text, domain text, hits jsonb)")
        hits = [{"set": h.keyword_set, "keyword": h.keyword, "contexts": list(h.contexts)}
                for h in outcome.keyword_hits]
        cursor.execute("INSERT INTO outcome_probe VALUES (%s, %s, %s, %s, %s, %s, %s)",
                       [outcome.title, outcome.snippet, outcome.server, outcome.final_url, outcome.error,
                        outcome.domain, json.dumps(hits)])


NASTY = st.binary(max_size=40) | st.sampled_from([b"\x00", b"a\x00b", b"\xff\xfe\x00", b"\xed\xa0\x80", b"\r\n"])


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reason=NASTY, server=NASTY, title=NASTY, body=NASTY, content_type=st.sampled_from(
    [b"", b"text/html", b"text/plain", b"text/html; charset=utf-16", b"application/octet-stream"]))
def test_no_byte_a_server_sends_makes_an_outcome_unstorable(http_server, web_site, reason, server, title, body,
                                                          content_type):
    page = b"<title>" + title + b"</title><p>widget " + body + b" widget</p>"
    head = b"HTTP/1.1 200 " + reason + b"\r\nServer: " + server + b"\r\n"
    if content_type:
        head += b"Content-Type: " + content_type + b"\r\n"
    web_site.add("bytes.df.test", "/", Page(raw=head + b"Content-Length: %d\r\n\r\n" % len(page) + page))
    outcome = fetch("bytes.df.test", http_server.port, adhoc_keywords=("widget",))
    store(outcome)
    assert "\x00" not in outcome.title + outcome.snippet + outcome.server + outcome.error


def test_a_nul_in_a_body_without_content_type_never_reaches_an_outcome(http_server, web_site):
    """A NUL in the title is replaced; one in body text is dropped by the HTML5 parser, as browsers do."""
    web_site.add("nul.df.test", "/", Page(raw=b"HTTP/1.1 200 OK\r\nContent-Length: 21\r\n\r\n<title>a\x00b</title>w\x00x"))
    outcome = fetch("nul.df.test", http_server.port)
    assert (outcome.status, outcome.title, outcome.snippet) == ("success", "a\ufffdb", "wx")


def test_storable_keeps_clean_text_whole_and_replaces_only_nul_and_lone_surrogates():
    """Text of any script passes unchanged; NUL and a lone surrogate, which PostgreSQL refuses, become U+FFFD."""
    clean = "Café — 東京 ☕ widgets"
    assert storable(clean) is clean and storable("only ascii") == "only ascii"
    assert storable("Café\x00東京") == "Café\ufffd東京"
    assert storable("Café \ud800 東京") == "Café \ufffd 東京"  # not ASCII: caught by the encoding check
    assert storable("plain \udfff") == "plain \ufffd"


# --------------------------------------------------------------------------- CPU and memory


@pytest.mark.slow
def test_hostile_pages_do_not_time_out_healthy_ones_in_the_same_batch(http_server, web_site):
    """50 pages answering in 2 s (timeout 5 s) beside 64 pages of 1 MB of tiny tags, 100 in flight."""
    for n in range(50):
        web_site.add(f"healthy{n}.df.test", "/", Page(html("Healthy", "<p>widget</p>"), delay_s=2.0))
    web_site.add("hostile.df.test", "/", Page(b"<p><b>x</b></p>" * 70_000))
    targets = [FetchTarget(f"healthy{n}.df.test", LOCAL) for n in range(50)]
    targets += [FetchTarget("hostile.df.test", LOCAL)] * 64

    outcomes = fetch_batch(targets, persona=persona(timeout_s=5.0), rules=RULES, ports=(http_server.port,),
                           allow_private=True, retries=0, max_in_flight=100)

    assert [o.status for o in outcomes[:50]] == ["success"] * 50
    assert {(o.status, o.content_length) for o in outcomes[50:]} == {("success", 1_048_576)}


def analysis_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("http-analysis")]


def sized_page(title: str, size: int) -> bytes:
    page = html(title, "<p>widget</p><p>").encode()
    tail = b"</p></body></html>"
    return page[: -len(tail)] + b"x" * (size - len(page)) + tail


def test_small_pages_are_analysed_on_the_loop_and_larger_ones_in_the_analysis_thread(http_server, web_site):
    """Up to LOOP_PAGE_BYTES the loop analyses a page itself, and no analysis thread is started;
    a page one byte larger goes to the thread. Both are analysed alike."""
    web_site.add("at-limit.df.test", "/", Page(sized_page("At the limit", LOOP_PAGE_BYTES)))
    web_site.add("over-limit.df.test", "/", Page(sized_page("Over the limit", LOOP_PAGE_BYTES + 1)))
    shutdown_analysis_pool()  # threads an earlier test started

    small = fetch("at-limit.df.test", http_server.port)
    assert analysis_threads() == []
    large = fetch("over-limit.df.test", http_server.port)
    assert len(analysis_threads()) == 1

    for outcome, size, title in ((small, LOOP_PAGE_BYTES, "At the limit"), (large, LOOP_PAGE_BYTES + 1, "Over the limit")):
        assert (outcome.status, outcome.content_length, outcome.title) == ("success", size, title)
        assert [(hit.keyword, hit.count) for hit in outcome.keyword_hits] == [("widget", 1)]


def test_a_byte_budget_smaller_than_the_batch_serialises_fetches_without_failing_them(http_server):
    targets = [FetchTarget(d, LOCAL) for d in ("shop.df.test", "plain.df.test", "gzip.df.test", "br.df.test")]
    outcomes = fetch_batch(targets, persona=persona(max_body_bytes=50_000), rules=RULES, ports=(http_server.port,),
                           allow_private=True, max_buffered_bytes=50_000)
    assert [o.status for o in outcomes] == ["success"] * 4


def test_the_byte_budget_never_holds_more_than_its_limit():
    budget = ByteBudget(100)
    peak = 0

    async def hold(size: int) -> None:
        nonlocal peak
        await budget.acquire(size)
        peak = max(peak, budget.reserved)
        await asyncio.sleep(0.01)
        budget.release(size)

    async def main() -> None:
        await asyncio.gather(*(hold(size) for size in (60, 30, 50, 100, 10, 250)))

    asyncio.run(main())
    assert (peak, budget.reserved) == (250, 0)  # 250 alone: larger than the limit, granted when nothing else is


def test_several_batches_run_at_once_on_one_loop(http_server):
    async def main():
        batches = [[FetchTarget(d, LOCAL) for d in ("shop.df.test", "plain.df.test")] for _ in range(3)]
        return await asyncio.gather(*(fetch_many(b, persona=persona(), rules=RULES, ports=(http_server.port,),
                                                 allow_private=True) for b in batches))

    results = asyncio.run(main())
    assert [[o.status for o in batch] for batch in results] == [["success", "success"]] * 3


def test_a_body_cap_above_the_maximum_is_refused():
    with pytest.raises(ValueError, match=r"^max body bytes must be between 1 and 8,388,608, got 2,147,483,647$"):
        persona(max_body_bytes=2**31 - 1)


def test_a_budget_for_fewer_pages_than_a_group_still_finishes_a_large_batch(http_server):
    targets = [FetchTarget(d, LOCAL) for d in ("shop.df.test", "plain.df.test", "gzip.df.test", "br.df.test")] * 10
    outcomes = fetch_batch(targets, persona=persona(max_body_bytes=50_000), rules=RULES, ports=(http_server.port,),
                           allow_private=True, max_in_flight=10, max_buffered_bytes=150_000)
    assert [o.status for o in outcomes] == ["success"] * 40


def test_a_cancelled_batch_gives_its_bytes_back(http_server):
    limit = 7_654_321  # a budget of its own: no other test shares it
    targets = [FetchTarget(d, LOCAL) for d in ("slow.df.test", "plain.df.test", "shop.df.test")]

    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await fetch_many(targets, persona=persona(), rules=RULES, ports=(http_server.port,),
                                 allow_private=True, max_buffered_bytes=limit)

    asyncio.run(main())
    assert byte_budget(limit).reserved == 0


def test_a_batch_cancelled_at_any_moment_gives_every_byte_back(http_server, web_site):
    """Cancelled while pages are fetched, wait for the end of the loop's turn or are in the analysis
    thread, a batch leaves nothing reserved when it returns: each page's bytes go back exactly once,
    and no group of waiting pages goes to the analysis thread after the cancellation."""
    web_site.add("large.df.test", "/", Page(sized_page("Large", 3 * LOOP_PAGE_BYTES)))
    limit = 7_654_322  # a budget of its own: no other test shares it
    targets = [FetchTarget(d, LOCAL) for d in ("plain.df.test", "shop.df.test", "large.df.test")] * 100
    cancelled = 0

    async def main() -> None:
        nonlocal cancelled
        for delay_ms in range(2, 60, 2):  # cancellations land before, among and after the pages' arrivals
            try:
                async with asyncio.timeout(delay_ms / 1000):
                    await fetch_many(targets, persona=persona(), rules=RULES, ports=(http_server.port,),
                                     allow_private=True, max_buffered_bytes=limit)
            except TimeoutError:
                cancelled += 1
            assert byte_budget(limit).reserved == 0, f"cancelled after {delay_ms} ms"

    asyncio.run(main())
    assert cancelled > 10


# --------------------------------------------------------------------------- every byte spoiled


def _spoiled(wire: bytes) -> list[bytes]:
    """The response cut short at every length, and each of its bytes set to a NUL, a 0xFF, a bare LF
    or a colon: every part of the status line, the head and the framing, spoiled in turn."""
    spoiled = [wire[:k] for k in range(len(wire))]
    for i in range(len(wire)):
        spoiled += [wire[:i] + value + wire[i + 1 :] for value in (b"\x00", b"\xff", b"\n", b":")]
    return spoiled


@pytest.mark.django_db
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_batch_of_responses_spoiled_at_every_byte_ends_with_a_storable_outcome_for_each(
        http_server, web_site, framing):
    """Hundreds of sites in one batch, each answering with one spoiling of the same response: the
    batch returns every outcome, each storable; no response cut short is taken for a page; a body
    spoiled byte by byte is still a page; and honest sites in the same batch are read exactly."""
    page = b"<title>Widget shop</title><p>widget \xc3\xa9 widget</p>"
    if framing == "length":
        head, body = b"Content-Length: %d\r\n" % len(page), page
    else:
        head, body = b"Transfer-Encoding: chunked\r\n", b"%x\r\n%s\r\n0\r\n\r\n" % (len(page), page)
    wire = response(b"Server: spoil\r\nContent-Type: text/html; charset=utf-8\r\n" + head, body)
    # Spoilings of a Content-Length body's own bytes leave its framing whole: the page must survive them.
    body_from = len(wire) - len(body) if framing == "length" else len(wire)
    targets, kinds = [], []
    for i, spoiled in enumerate(_spoiled(wire)):
        host = f"s{i}.{framing}.spoiled.df.test"
        web_site.add(host, "/", Page(raw=spoiled))
        targets.append(FetchTarget(host, LOCAL))
        position = (i - len(wire)) // 4  # of the spoiled byte, after the len(wire) cuts
        kinds.append("cut" if len(spoiled) < len(wire) else "body" if position >= body_from else "head")
        if i % 50 == 0:
            web_site.add(f"h{i}.{framing}.spoiled.df.test", "/", Page(raw=wire))
            targets.append(FetchTarget(f"h{i}.{framing}.spoiled.df.test", LOCAL))
            kinds.append("honest")

    outcomes = fetch_batch(targets, persona=persona(timeout_s=2.0), rules=RULES, ports=(http_server.port,),
                           allow_private=True, retries=0)

    assert [o.domain for o in outcomes] == [t.domain for t in targets]
    for outcome, kind in zip(outcomes, kinds, strict=True):
        store(outcome)
        assert outcome.status in ("success", "failed", "timeout", "error"), outcome
        if kind == "honest":
            assert (outcome.status, outcome.title, [h.keyword for h in outcome.keyword_hits]) == (
                "success", "Widget shop", ["widget"])
        elif kind == "cut":
            assert outcome.status != "success", outcome
        elif kind == "body":
            assert outcome.status == "success", outcome
    assert kinds.count("cut") == len(wire) and kinds.count("body") == 4 * (len(wire) - body_from)
