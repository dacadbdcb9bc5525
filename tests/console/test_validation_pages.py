"""The campaign page of DNS and HTTP campaigns: outcome breakdown, result preview, top keywords (their own page), escaping."""
from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.console_queries import KeywordTotal, top_keywords
from tests.console.validation_data import add_dns, add_http, config, dns_campaign, hit, http_campaign  # noqa: F401 (fixtures)

XSS = "<script>alert(1)</script>"


def page_of(client, campaign):
    response = client.get(reverse("campaigns:detail", args=[campaign.pk]))
    assert response.status_code == 200
    return response


@pytest.mark.django_db
def test_a_dns_campaign_page_counts_outcomes_and_previews_rows_by_domain(operator, dns_campaign, client_for):
    campaign = dns_campaign(operator)
    add_dns(campaign, domain_name="b.test", status="resolved", ips=["192.0.2.2", "192.0.2.1"], rcode="NOERROR")
    add_dns(campaign, domain_name="a.test", status="unresolved", rcode="NXDOMAIN")
    add_dns(campaign, domain_name="c.test", status="resolved", ips=["192.0.2.3"], rcode="NOERROR")
    add_dns(campaign, domain_name="d.test", status="timeout")

    response = page_of(client_for(operator), campaign)

    summary = response.context["results"]
    assert summary.breakdown == [("resolved", 2), ("timeout", 1), ("unresolved", 1)]
    assert [r.domain_name for r in summary.sample] == ["a.test", "b.test", "c.test", "d.test"]
    page = response.content.decode()
    assert '<td class="df-name" title="b.test">b.test</td><td>Resolved</td><td>192.0.2.2, 192.0.2.1</td><td>NOERROR</td>' in page
    assert "<strong>Unresolved (no such name or no address)</strong>: 1" in page
    assert "<strong>Timed out</strong>: 1" in page
    assert "No keyword results yet." in page


@pytest.mark.django_db
def test_an_http_campaign_page_ranks_keywords_by_hits_over_all_pages(operator, http_campaign, client_for):
    campaign = http_campaign(operator)
    add_http(campaign, domain_name="a.test", status="success", business_status="lead_valid", status_code=200,
             keyword_hits=[hit("widget", 3), hit("galore", 1, kind="regex")], keyword_count=4)
    add_http(campaign, domain_name="b.test", status="success", business_status="lead_valid", status_code=200,
             keyword_hits=[hit("widget", 2), hit("sale", 5, keyword_set="")], keyword_count=7)
    add_http(campaign, domain_name="c.test", status="success", business_status="http_valid_no_keywords", status_code=200)
    add_http(campaign, domain_name="d.test", status="failed", business_status="invalid_http_code", status_code=500)
    add_http(campaign, domain_name="e.test", status="error", business_status="invalid_http_response_error")

    client = client_for(operator)
    response = page_of(client, campaign)

    assert response.context["results"].breakdown == [
        ("lead_valid", 2), ("http_valid_no_keywords", 1), ("invalid_http_code", 1), ("invalid_http_response_error", 1),
    ]
    page = response.content.decode()
    assert '<td class="df-name" title="d.test">d.test</td><td>Answered with an error status</td><td>500</td>' in page
    # The campaign page (and its polls) only links the count: it reads every matching page.
    keywords_url = reverse("campaigns:keywords", args=[campaign.pk])
    assert f'<a href="{keywords_url}">count the top keywords</a>' in page and "<td>widget</td>" not in page

    counted = client.get(keywords_url)
    assert counted.context["keywords"] == [
        KeywordTotal("sale", 5, 1), KeywordTotal("widget", 5, 2), KeywordTotal("galore", 1, 1),
    ]
    assert '<tr><td>widget</td><td class="df-num">5</td><td class="df-num">2</td></tr>' in counted.content.decode()


@pytest.mark.django_db
def test_top_keywords_are_capped_and_only_of_that_campaign(operator, http_campaign):
    campaign, other = http_campaign(operator), http_campaign(operator, name="other")
    add_http(campaign, domain_name="a.test", status="success",
             keyword_hits=[hit(f"k{i:02}", 100 - i) for i in range(30)], keyword_count=sum(100 - i for i in range(30)))
    add_http(other, domain_name="a.test", status="success", keyword_hits=[hit("elsewhere", 1000)], keyword_count=1000)

    top = top_keywords(campaign=campaign, limit=5)

    assert [k.keyword for k in top] == ["k00", "k01", "k02", "k03", "k04"]
    assert top_keywords(campaign=other) == [KeywordTotal("elsewhere", 1000, 1)]


@pytest.mark.django_db
def test_scraped_titles_and_keywords_render_escaped_on_the_campaign_page(operator, http_campaign, client_for):
    campaign = http_campaign(operator)
    add_http(campaign, domain_name="x.test", status="success", business_status="lead_valid", title=XSS,
             keyword_hits=[hit(XSS, 2)], keyword_count=2)

    client = client_for(operator)
    page = page_of(client, campaign).content.decode()
    keywords = client.get(reverse("campaigns:keywords", args=[campaign.pk])).content.decode()

    assert XSS not in page and XSS not in keywords
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2  # the title: text and hover
    assert keywords.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 1  # the keyword, on its own page


@pytest.mark.django_db
def test_another_operators_validation_campaign_page_is_a_404(operator, other_operator, http_campaign, client_for):
    campaign = http_campaign(other_operator)
    add_http(campaign, domain_name="secret.test", status="success", keyword_hits=[hit("secret")], keyword_count=1)
    for url in (reverse("campaigns:detail", args=[campaign.pk]), reverse("campaigns:keywords", args=[campaign.pk])):
        response = client_for(operator).get(url)
        assert response.status_code == 404, url
        assert b"secret" not in response.content
