"""DNS and HTTP result admins: owner scope, filters, search, export, escaping, bounded queries, params inlines."""
from __future__ import annotations

import csv
import io
import json
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import AuditLog, Campaign, DnsResult, HttpResult
from tests.console.validation_data import add_dns, add_http, config, dns_campaign, hit, http_campaign  # noqa: F401 (fixtures)

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"

DNS_LIST = "admin:campaigns_dnsresult_changelist"
HTTP_LIST = "admin:campaigns_httpresult_changelist"


def listed(response) -> list[str]:
    """The domains of the changelist's rows, in order."""
    assert response.status_code == 200
    return [row.domain_name for row in response.context["cl"].result_list]


def body(response) -> str:
    return b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()


# --- owner scope ---


@pytest.mark.django_db
def test_an_operator_lists_dns_results_of_their_own_campaigns_only(operator, other_operator, dns_campaign, client_for):
    add_dns(dns_campaign(operator), domain_name="mine.test", status="resolved")
    theirs = add_dns(dns_campaign(other_operator, name="theirs"), domain_name="theirs.test", status="resolved")
    client = client_for(operator)
    assert listed(client.get(reverse(DNS_LIST))) == ["mine.test"]
    assert listed(client.get(reverse(DNS_LIST), {"campaign": str(theirs.campaign_id)})) == []
    assert client.get(reverse("admin:campaigns_dnsresult_change", args=[theirs.pk])).status_code == 404


@pytest.mark.django_db
def test_an_operator_lists_http_results_of_their_own_campaigns_only(operator, other_operator, http_campaign, client_for):
    add_http(http_campaign(operator), domain_name="mine.test", status="success")
    theirs = add_http(http_campaign(other_operator, name="theirs"), domain_name="theirs.test", status="success")
    client = client_for(operator)
    assert listed(client.get(reverse(HTTP_LIST))) == ["mine.test"]
    assert client.get(reverse("admin:campaigns_httpresult_change", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("admin:campaigns_httpresult_export", args=[theirs.campaign_id, "csv"])).status_code == 404


@pytest.mark.django_db
def test_staff_list_every_owners_results(staff, operator, other_operator, dns_campaign, client_for):
    add_dns(dns_campaign(operator), domain_name="a.test")
    add_dns(dns_campaign(other_operator, name="b"), domain_name="b.test")
    assert sorted(listed(client_for(staff).get(reverse(DNS_LIST)))) == ["a.test", "b.test"]


# --- filters and search ---


@pytest.mark.django_db
def test_dns_status_and_business_status_filters_narrow_to_exactly_the_matching_rows(operator, dns_campaign, client_for):
    campaign = dns_campaign(operator)
    other = dns_campaign(operator, name="other")
    add_dns(campaign, domain_name="a.test", status="resolved", business_status="valid_dns", ips=["192.0.2.1"])
    add_dns(campaign, domain_name="b.test", status="unresolved", rcode="NXDOMAIN")
    add_dns(campaign, domain_name="c.test", status="timeout")
    add_dns(campaign, domain_name="d.test", status="error")
    add_dns(other, domain_name="e.test", status="resolved", business_status="valid_dns", ips=["192.0.2.5"])
    client = client_for(operator)
    url = reverse(DNS_LIST)
    mine = {"campaign": str(campaign.pk)}

    assert listed(client.get(url, mine)) == ["a.test", "b.test", "c.test", "d.test"]
    assert listed(client.get(url, {**mine, "status__exact": "resolved"})) == ["a.test"]
    assert listed(client.get(url, {**mine, "status__exact": "error"})) == ["d.test"]
    assert listed(client.get(url, {**mine, "status__exact": "unresolved"})) == ["b.test"]
    assert sorted(listed(client.get(url, {"status__exact": "resolved"}))) == ["a.test", "e.test"]
    assert sorted(listed(client.get(url, {"business_status": "valid_dns"}))) == ["a.test", "e.test"]
    assert listed(client.get(url, {**mine, "business_status": "valid_dns"})) == ["a.test"]
    assert listed(client.get(url, {**mine, "business_status": "none"})) == ["b.test", "c.test", "d.test"]
    assert listed(client.get(url, {**mine, "business_status": "lead_valid"})) == []


@pytest.mark.django_db
def test_http_status_business_status_and_keyword_filters_narrow_to_exactly_the_matching_rows(
    operator, http_campaign, client_for
):
    campaign = http_campaign(operator)
    other = http_campaign(operator, name="other")
    add_http(campaign, domain_name="a.test", status="success", business_status="lead_valid", status_code=200,
             keyword_hits=[hit("widget", 2), hit(r"galor\w+", kind="regex")], keyword_count=3)
    add_http(campaign, domain_name="b.test", status="success", business_status="lead_valid", status_code=200,
             keyword_hits=[hit("sale", keyword_set="(ad hoc)")], keyword_count=1)
    add_http(campaign, domain_name="c.test", status="success", business_status="http_valid_no_keywords", status_code=200)
    add_http(campaign, domain_name="d.test", status="failed", business_status="invalid_http_code", status_code=503,
             keyword_hits=[hit("widgets")], keyword_count=1)
    add_http(campaign, domain_name="e.test", status="error", business_status="invalid_http_response_error")
    add_http(other, domain_name="f.test", status="success", business_status="lead_valid", keyword_hits=[hit("widget")])
    client = client_for(operator)
    url = reverse(HTTP_LIST)
    mine = {"campaign": str(campaign.pk)}

    assert listed(client.get(url, {**mine, "status__exact": "success"})) == ["a.test", "b.test", "c.test"]
    assert listed(client.get(url, {**mine, "status__exact": "error"})) == ["e.test"]
    assert listed(client.get(url, {**mine, "business_status": "lead_valid"})) == ["a.test", "b.test"]
    assert listed(client.get(url, {**mine, "business_status": "invalid_http_code"})) == ["d.test"]
    # Exact keywords: "widget" does not match the hit of "widgets".
    assert listed(client.get(url, {**mine, "keyword": "widget"})) == ["a.test"]
    assert listed(client.get(url, {**mine, "keyword": r"galor\w+"})) == ["a.test"]
    assert listed(client.get(url, {**mine, "keyword": "sale"})) == ["b.test"]
    assert listed(client.get(url, {**mine, "keyword": "absent"})) == []
    assert listed(client.get(url, {**mine, "keyword": "widget", "status__exact": "failed"})) == []
    # Without a campaign the keyword still filters, over every visible result.
    assert sorted(listed(client.get(url, {"keyword": "widget"}))) == ["a.test", "f.test"]


@pytest.mark.django_db
def test_keyword_filter_offers_the_chosen_campaigns_keywords(operator, http_campaign, client_for):
    campaign = http_campaign(operator)
    client = client_for(operator)

    def keyword_choices(params) -> list[str]:
        (spec,) = [s for s in client.get(reverse(HTTP_LIST), params).context["cl"].filter_specs if s.title == "keyword"]
        return [value for value, _label in spec.lookup_choices]

    assert keyword_choices({"campaign": str(campaign.pk)}) == ["widget", r"galor\w+", "sale"]
    assert keyword_choices({"campaign": str(campaign.pk), "keyword": "other"}) == ["widget", r"galor\w+", "sale", "other"]
    assert keyword_choices({"keyword": "other"}) == ["other"]


@pytest.mark.django_db
def test_the_keyword_filter_is_hidden_until_a_campaign_is_chosen(operator, http_campaign, client_for):
    http_campaign(operator)
    specs = client_for(operator).get(reverse(HTTP_LIST)).context["cl"].filter_specs
    assert [s.title for s in specs] == ["campaign", "status", "business status"]


@pytest.mark.django_db
def test_search_finds_results_by_domain_name(operator, dns_campaign, http_campaign, client_for):
    dns = dns_campaign(operator)
    http = http_campaign(operator)
    for name in ("ashop.test", "bshop.test", "cafe.test"):
        add_dns(dns, domain_name=name)
        add_http(http, domain_name=name)
    client = client_for(operator)
    assert listed(client.get(reverse(DNS_LIST), {"q": "bshop"})) == ["bshop.test"]
    assert listed(client.get(reverse(HTTP_LIST), {"q": "SHOP"})) == ["ashop.test", "bshop.test"]


# --- columns, detail, escaping ---


@pytest.mark.django_db
def test_dns_list_shows_the_answer_columns(operator, dns_campaign, client_for):
    campaign = dns_campaign(operator)
    add_dns(campaign, domain_name="a.test", status="resolved", business_status="valid_dns", ips=["192.0.2.1", "192.0.2.2"],
            rcode="NOERROR", resolver="127.0.0.1:5353", attempts=2, latency_ms=17)
    page = client_for(operator).get(reverse(DNS_LIST)).content.decode()
    for cell in ("a.test", "resolved", "valid_dns", "192.0.2.1, 192.0.2.2", "NOERROR", "127.0.0.1:5353", ">2<", ">17<"):
        assert cell in page, cell
    assert f'<a href="/admin/campaigns/campaign/{campaign.pk}/change/">dns phase</a>' in page


@pytest.mark.django_db
def test_http_detail_shows_every_field_read_only_and_the_hits_readably(operator, http_campaign, client_for):
    result = add_http(
        http_campaign(operator), domain_name="a.test", status="success", business_status="lead_valid", status_code=200,
        final_url="http://a.test/", title="A shop", server="nginx", body_sha256="ab" * 32, snippet="Buy a widget",
        keyword_hits=[hit("widget", 7, contexts=[f"ctx{i}" for i in range(7)])], keyword_count=7, response_time_ms=42,
    )
    page = client_for(operator).get(reverse("admin:campaigns_httpresult_change", args=[result.pk])).content.decode()
    assert 'name="title"' not in page and 'name="status"' not in page and 'name="_save"' not in page
    for text in ("http://a.test/", "A shop", "nginx", "ab" * 32, "Buy a widget", "42"):
        assert text in page, text
    assert "<td>widget</td><td>string</td><td>shop</td><td>7</td>" in page
    assert "<li>…ctx4…</li>" in page and "ctx5" not in page and "<li>and 2 more</li>" in page


@pytest.mark.django_db
def test_a_hostile_scraped_title_renders_escaped_on_the_list_and_the_detail(operator, http_campaign, client_for):
    result = add_http(
        http_campaign(operator), domain_name="evil.test", status="success", business_status="lead_valid",
        title=XSS, snippet=XSS, server=XSS, final_url=XSS, error=XSS,
        keyword_hits=[hit(XSS, contexts=[XSS])], keyword_count=1,
    )
    client = client_for(operator)
    for url in (
        reverse(HTTP_LIST),
        reverse(HTTP_LIST) + "?" + urlencode({"campaign": result.campaign_id, "keyword": XSS}),  # a hostile filter choice
        reverse("admin:campaigns_httpresult_change", args=[result.pk]),
    ):
        page = client.get(url).content.decode()
        assert XSS not in page, url
        assert ESCAPED in page, url


# --- export ---


@pytest.mark.django_db
def test_dns_export_from_the_results_admin_streams_every_row_with_the_header(operator, dns_campaign, client_for):
    campaign = dns_campaign(operator)
    for n in range(12):
        add_dns(campaign, domain_name=f"d{n:02}.test", status="resolved", ips=["192.0.2.1", "192.0.2.9"])
    client = client_for(operator)
    assert f"/admin/campaigns/dnsresult/export/{campaign.pk}.csv" in client.get(reverse(DNS_LIST), {"campaign": campaign.pk}).content.decode()

    response = client.get(reverse("admin:campaigns_dnsresult_export", args=[campaign.pk, "csv"]))

    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(body(response))))
    assert rows[0] == ["Domain", "Status", "Business status", "IP addresses", "DNS rcode", "Resolver", "Persona", "Attempts", "Latency (ms)", "Checked at"]
    assert len(rows) == 13
    assert rows[1][:4] == ["d00.test", "resolved", "", "192.0.2.1 192.0.2.9"]
    audit = AuditLog.objects.get(action="campaign.export")
    assert (audit.actor, audit.entity_id, audit.details["format"]) == (operator, str(campaign.pk), "csv")


@pytest.mark.django_db
def test_http_export_from_the_results_admin_streams_every_row_as_json_lines(operator, http_campaign, client_for):
    campaign = http_campaign(operator)
    for n in range(5):
        add_http(campaign, domain_name=f"h{n}.test", status="success", title=XSS, keyword_hits=[hit("widget", 2)], keyword_count=2)
    response = client_for(operator).get(reverse("admin:campaigns_httpresult_export", args=[campaign.pk, "jsonl"]))
    lines = [json.loads(line) for line in body(response).splitlines()]
    assert len(lines) == 5
    assert list(lines[0])[:4] == ["domain", "status", "business_status", "status_code"]
    assert (lines[0]["domain"], lines[0]["title"], lines[0]["keyword_hits"][0]["count"]) == ("h0.test", XSS, 2)


@pytest.mark.django_db
def test_a_results_admin_exports_only_its_own_campaign_type(operator, dns_campaign, client_for):
    campaign = dns_campaign(operator)
    response = client_for(operator).get(reverse("admin:campaigns_httpresult_export", args=[campaign.pk, "csv"]))
    assert response.status_code == 404
    assert not AuditLog.objects.filter(action="campaign.export").exists()


# --- bounded queries ---


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["dns", "http"])
def test_result_lists_run_the_same_queries_for_5_rows_as_for_200(kind, operator, dns_campaign, http_campaign, client_for,
                                                                django_assert_max_num_queries):
    campaign = (dns_campaign if kind == "dns" else http_campaign)(operator)
    model = DnsResult if kind == "dns" else HttpResult
    extra = {"keyword_hits": [hit("widget")], "keyword_count": 1} if kind == "http" else {"ips": ["192.0.2.1"]}
    url = reverse(DNS_LIST if kind == "dns" else HTTP_LIST)
    client = client_for(operator)

    def add(start: int, stop: int) -> None:
        model.objects.bulk_create(
            [model(campaign=campaign, batch_number=0, domain_name=f"r{n:03}.test", status="success" if kind == "http" else "resolved", **extra)
             for n in range(start, stop)]
        )

    pages = ["", f"?campaign={campaign.pk}", f"?campaign={campaign.pk}&q=r0"]
    if kind == "http":
        pages.append(f"?campaign={campaign.pk}&keyword=widget&business_status=none")
    add(0, 5)
    counts = {}
    for page in pages:
        with CaptureQueriesContext(connection) as few:
            assert client.get(url + page).status_code == 200
        counts[page] = len(few)
        # Session, user, 2 × permissions, export campaign, campaign choices, (keyword choices: 2), count, page.
        assert counts[page] <= 10, (page, [q["sql"] for q in few.captured_queries])
    add(5, 200)
    for page in pages:
        with django_assert_max_num_queries(counts[page], info=page):
            response = client.get(url + page)
        assert len(response.context["cl"].result_list) >= 5, page


# --- the campaign page shows DNS and HTTP params and links their results ---


@pytest.mark.django_db
def test_a_dns_campaign_page_shows_its_params_and_links_its_results(operator, dns_campaign, client_for):
    campaign = dns_campaign(operator)
    page = client_for(operator).get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert "<label>Personas (tried in this order):</label>" in page
    assert '<div class="readonly">local</div>' in page and '<div class="readonly">7</div>' in page
    assert f"/admin/campaigns/dnsresult/?campaign={campaign.pk}" in page
    assert 'name="dns_params-TOTAL_FORMS"' in page and "generation_params" not in page


@pytest.mark.django_db
def test_an_http_campaign_page_shows_its_params(operator, http_campaign, client_for):
    campaign = http_campaign(operator)
    page = client_for(operator).get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    for text in ("browser", "shop", "sale", "8080", "none (direct)", "Round Robin"):
        assert f'<div class="readonly">{text}</div>' in page, text
    assert f"/admin/campaigns/httpresult/?campaign={campaign.pk}" in page


@pytest.mark.django_db
def test_a_dns_campaign_can_still_be_renamed_from_its_page(operator, dns_campaign, client_for):
    campaign = dns_campaign(operator)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    response = client_for(operator).post(
        url, {"name": "renamed", "expected_version": "1", "dns_params-TOTAL_FORMS": "1", "dns_params-INITIAL_FORMS": "1"}
    )
    assert response.status_code == 302
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert (campaign.name, campaign.version) == ("renamed", 2)
