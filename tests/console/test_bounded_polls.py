"""A poll reads no more result rows for a large campaign than for a small one; full counts are asked for, never polled.

Boundedness is measured, not timed: every statement a poll sends to a result table is
re-run under EXPLAIN ANALYZE and the rows its scans read (returned or filtered out) are
summed. Outcomes are interleaved as batches write them; the planner is kept off
whole-table scans and the tables are analyzed after each change, as on tables of
millions of rows. Which of two indexes it picks for a count may still vary with the
table's size, so the assertion is a bound, far below the campaign's rows, not equality.
"""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import console_queries as queries
from campaigns.models import DnsResult, HttpResult
from tests.console.live_data import arrange
from tests.console.validation_data import hit
from tests.support.plans import rows_read as plan_rows_read

pytestmark = pytest.mark.django_db

CAP = 5
# The first 10 rows, a probe per outcome, and per outcome CAP + 1 rows (reading past the
# other outcomes' rows at worst, when a count filters the campaign's rows by outcome).
READ_BOUND = 100
RESULT_TABLES = ("campaigns_generateddomain", "campaigns_dnsresult", "campaigns_httpresult")
DNS_OUTCOMES = ("resolved", "unresolved", "timeout")
HTTP_OUTCOMES = ("lead_valid", "http_valid_no_keywords")


@pytest.fixture(autouse=True)
def small_cap(monkeypatch):
    monkeypatch.setattr(queries, "RESULT_COUNT_CAP", CAP)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")


def poll(client, **params) -> tuple[str, list[str]]:
    """One live.json poll: its html, and the statements it sent to result tables."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("campaigns:live_json"), params)
    assert response.status_code == 200
    return response.json()["html"], [q["sql"] for q in captured if any(t in q["sql"] for t in RESULT_TABLES)]


def rows_read(statements: list[str]) -> int:
    total = 0
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            total += plan_rows_read(cursor.fetchone()[0][0]["Plan"], RESULT_TABLES)
    return total


def analyzed() -> None:
    with connection.cursor() as cursor:
        for table in RESULT_TABLES:
            cursor.execute(f"ANALYZE {table}")


def add_dns(campaign, n: int) -> None:
    first = DnsResult.objects.filter(campaign=campaign).count()
    DnsResult.objects.bulk_create([
        DnsResult(campaign=campaign, domain_name=f"n{first + i}.test", batch_number=2, status=DNS_OUTCOMES[i % 3])
        for i in range(n)
    ])
    analyzed()


def add_http(campaign, n: int, *, outcomes: tuple[str, ...] = HTTP_OUTCOMES) -> None:
    first = HttpResult.objects.filter(campaign=campaign).count()
    rows = []
    for i in range(n):
        lead = outcomes[i % len(outcomes)] == "lead_valid"
        rows.append(HttpResult(
            campaign=campaign, domain_name=f"h{first + i}.test", batch_number=1, status="success",
            business_status=outcomes[i % len(outcomes)], keyword_hits=[hit("widget", 2)] if lead else [],
            keyword_count=2 if lead else 0,
        ))
    HttpResult.objects.bulk_create(rows)
    analyzed()


@pytest.fixture
def http_pipeline(operator):
    gen = arrange(owner=operator, name="gen", campaign_type="domain_generation", status="completed", total=9000,
                  processed=9000, successful=9000, chain_next=True, events=[("running", 60), ("completed", 50)])
    dns = arrange(owner=operator, name="dns", source=gen, status="completed", total=9000, processed=9000,
                  successful=3000, events=[("running", 50), ("completed", 40)])
    http = arrange(owner=operator, name="http", campaign_type="http_keyword_validation", source=dns, total=3000,
                   processed=1000, successful=1000, events=[("running", 40)], jobs={"running": 1})
    add_http(http, 200)
    return gen, dns, http


def test_a_dns_campaign_page_poll_reads_a_bounded_number_of_result_rows(operator, client_for,
                                                                        django_assert_max_num_queries):
    campaign = arrange(owner=operator, status="running", total=9000, processed=300, successful=100,
                       events=[("running", 30)], jobs={"running": 1})
    add_dns(campaign, 300)
    add_dns(arrange(owner=operator, name="another", status="completed"), 300)
    client = client_for(operator)
    client.get(reverse("campaigns:live_json"), {"campaign": str(campaign.pk)})  # the session, warmed
    with django_assert_max_num_queries(14):
        small_html, small = poll(client, campaign=str(campaign.pk))
    before = rows_read(small)

    add_dns(campaign, 3000)
    large_html, large = poll(client, campaign=str(campaign.pk))

    assert before <= READ_BOUND and rows_read(large) <= READ_BOUND  # of 300, then 3,300 rows
    assert large and all("LIMIT" in sql for sql in large), large
    # Counts stop at the cap (cap + 1 rows tell "more"); the campaign row's counters stay exact.
    assert "<strong>Resolved</strong>: more than 5" in small_html
    assert "<strong>Timed out</strong>: more than 5" in large_html


def test_an_http_campaign_page_poll_reads_no_keyword_hits(operator, http_pipeline, client_for):
    http = http_pipeline[2]
    client = client_for(operator)
    _, small = poll(client, campaign=str(http.pk))
    before = rows_read(small)

    add_http(http, 2000)
    large_html, large = poll(client, campaign=str(http.pk))

    assert before <= READ_BOUND and rows_read(large) <= READ_BOUND  # of 200, then 2,200 rows
    assert not any("jsonb_array_elements" in sql for sql in small + large)  # the top keywords' scan
    assert f'<a href="/campaigns/{http.pk}/keywords/">count the top keywords</a>' in large_html
    assert "<strong>Lead (keywords found)</strong>: more than 5" in large_html


def test_a_dashboard_poll_counts_matches_up_to_the_cap(operator, http_pipeline, client_for):
    client = client_for(operator)
    _, small = poll(client)
    before = rows_read(small)

    add_http(http_pipeline[2], 3000)
    large_html, large = poll(client)

    assert before <= READ_BOUND and rows_read(large) <= READ_BOUND
    assert large and all("LIMIT" in sql for sql in large), large
    assert "Matched keywords <strong>more than 5</strong> (more than 0.5%)" in large_html


def test_the_funnel_counts_matches_exactly_below_the_cap(operator, http_pipeline, client_for, monkeypatch):
    monkeypatch.setattr(queries, "RESULT_COUNT_CAP", 100)
    html, _ = poll(client_for(operator))
    assert "Matched keywords <strong>100</strong> (10.0%)" in html


def test_the_top_keywords_page_gives_up_after_its_timeout(operator, http_pipeline, client_for, monkeypatch):
    client = client_for(operator)
    url = reverse("campaigns:keywords", args=[http_pipeline[2].pk])
    counted = client.get(url).content.decode()
    assert '<tr><td>widget</td><td class="df-num">200</td><td class="df-num">100</td></tr>' in counted

    add_http(http_pipeline[2], 20_000, outcomes=("lead_valid",))
    monkeypatch.setattr(queries, "TOP_KEYWORDS_TIMEOUT_MS", 1)
    response = client.get(url)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="keywords-timed-out"' in page and "was stopped: this campaign has too many matching pages" in page
    assert client.get(reverse("campaigns:detail", args=[http_pipeline[2].pk])).status_code == 200  # the connection lives on
