"""The console pages: dashboard, progress JSON, campaign page, exports, transaction report, healthz."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from campaigns.models import AuditLog, Campaign
from campaigns.services.engine import campaigns_activate
from campaigns.services.jobs import jobs_claim
from campaigns.workers import run_job
from tests.factories import PASSWORD


def run_worker_until_idle() -> None:
    """What a worker does, in this test's connection (Worker.process_one would recycle it).

    Jobs are due from the statement that created them, so tests using this run
    with transaction=True: inside one test transaction now() never reaches them.
    """
    campaigns_activate(worker_id="test-worker")
    while jobs := jobs_claim(worker_id="test-worker", limit=10):
        for job in jobs:
            run_job(job, worker_id="test-worker")


@pytest.fixture
def completed(operator, make_campaign):
    campaign = make_campaign(actor=operator, name="done", start=True)
    run_worker_until_idle()
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert campaign.status == "completed"
    return campaign


def body(response) -> str:
    return b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_dashboard_lists_progress_and_the_poller(operator, completed, client_for):
    page = body(client_for(operator).get("/"))
    assert f'data-campaign-id="{completed.pk}"' in page
    assert 'data-live-url="/campaigns/live.json?page=1"' in page
    assert 'role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="100.0"' in page
    assert "/static/console/live.js" in page


@pytest.mark.django_db
def test_dashboard_filters_by_status_and_paginates(operator, make_campaign, client_for):
    for n in range(55):
        make_campaign(actor=operator, name=f"c{n}")
    client = client_for(operator)
    first = body(client.get("/"))
    assert first.count("data-campaign-id=") == 50 and "Page 1 of 2" in first
    assert body(client.get("/", {"page": 2})).count("data-campaign-id=") == 5
    assert "No campaigns yet" in body(client.get("/", {"status": "running"}))


@pytest.mark.django_db(transaction=True)
def test_progress_json_returns_campaign_progress_dicts(operator, completed, client_for):
    response = client_for(operator).get(reverse("campaigns:progress_json"), {"ids": str(completed.pk)})
    assert response["Cache-Control"].startswith("max-age=0")
    (row,) = response.json()["campaigns"]
    assert row["id"] == str(completed.pk)
    assert (row["status"], row["percent"], row["processed_items"], row["total_items"]) == ("completed", 100.0, 9, 9)
    assert row["eta_s"] is None and row["rate_per_s"] > 0
    single = client_for(operator).get(reverse("campaigns:campaign_progress_json", args=[completed.pk])).json()
    assert single == row | {"rate_per_s": single["rate_per_s"]}


@pytest.mark.django_db(transaction=True)
def test_progress_json_ignores_malformed_ids(operator, completed, client_for):
    response = client_for(operator).get(reverse("campaigns:progress_json"), {"ids": "nope,1,'--"})
    assert response.status_code == 200 and response.json() == {"campaigns": [], "more": False}


@pytest.mark.django_db(transaction=True)
def test_campaign_page_shows_progress_history_chain_results_and_no_keywords(operator, completed, client_for):
    page = body(client_for(operator).get(reverse("campaigns:detail", args=[completed.pk])))
    for transition in ("create", "start", "begin", "complete"):
        assert f'data-transition="{transition}"' in page
    assert "Consumes: nothing (first phase)" in page and "Feeds: nothing" in page
    assert "aashop.com" in page and "Export CSV" in page
    assert "No keyword results yet." in page


@pytest.mark.django_db(transaction=True)
def test_campaign_page_shows_the_phase_chain(operator, completed, client_for):
    fed = Campaign.objects.create(
        name="dns phase", campaign_type="dns_validation", owner=operator, source_campaign=completed
    )
    client = client_for(operator)
    source_page = body(client.get(reverse("campaigns:detail", args=[completed.pk])))
    assert f'<a href="/campaigns/{fed.pk}/">dns phase</a>' in source_page
    fed_page = body(client.get(reverse("campaigns:detail", args=[fed.pk])))
    assert f'<a href="/campaigns/{completed.pk}/">done</a>' in fed_page
    assert "No results yet." in fed_page


@pytest.mark.django_db(transaction=True)
def test_csv_export_streams_every_row_and_is_audited(operator, completed, client_for):
    response = client_for(operator).get(reverse("campaigns:export", args=[completed.pk, "csv"]))
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="campaign-{completed.pk}.csv"'
    rows = list(csv.reader(io.StringIO(body(response))))
    assert rows[0] == ["Offset index", "Domain name"]
    assert [r[1] for r in rows[1:4]] == ["aashop.com", "abshop.com", "acshop.com"]
    assert len(rows) == 10
    audit = AuditLog.objects.get(action="campaign.export")
    assert (audit.actor, audit.entity_id, audit.details["format"]) == (operator, str(completed.pk), "csv")


@pytest.mark.django_db(transaction=True)
def test_jsonl_export_from_the_results_admin(operator, completed, client_for):
    url = reverse("admin:campaigns_generateddomain_export", args=[completed.pk, "jsonl"])
    response = client_for(operator).get(url)
    lines = [json.loads(line) for line in body(response).splitlines()]
    assert len(lines) == 9 and lines[0] == {"offset_index": 0, "domain_name": "aashop.com"}
    assert AuditLog.objects.filter(action="campaign.export", actor=operator).count() == 1


@pytest.mark.django_db(transaction=True)
def test_results_admin_filters_searches_and_offers_the_export(operator, completed, client_for):
    client = client_for(operator)
    url = reverse("admin:campaigns_generateddomain_changelist")
    page = body(client.get(url, {"campaign": str(completed.pk)}))
    assert page.count('class="field-domain_name"') == 9
    assert f"/admin/campaigns/generateddomain/export/{completed.pk}.csv" in page
    searched = body(client.get(url, {"q": "bbshop"}))
    assert searched.count('class="field-domain_name"') == 1
    assert body(client.get(url, {"campaign": "not-a-uuid"})).count('class="field-domain_name"') == 0


@pytest.mark.django_db(transaction=True)
def test_results_of_other_owners_are_not_listed(operator, other_operator, completed, client_for):
    page = body(client_for(other_operator).get(reverse("admin:campaigns_generateddomain_changelist")))
    assert "aashop.com" not in page


@pytest.mark.django_db
def test_export_in_an_unknown_format_is_a_404(operator, make_campaign, client_for):
    campaign = make_campaign(actor=operator)
    assert client_for(operator).get(f"/campaigns/{campaign.pk}/export.xml").status_code == 404
    assert client_for(operator).get(f"/admin/campaigns/generateddomain/export/{campaign.pk}.xml").status_code == 404
    assert not AuditLog.objects.filter(action="campaign.export").exists()


@pytest.mark.django_db(transaction=True)
def test_transaction_report_shows_the_table_and_chart_data(operator, completed, client_for):
    response = client_for(operator).get(reverse("txmetrics:transactions"), {"hours": "6"})
    page = body(response)
    assert '<th scope="row">generation.batch</th>' in page
    assert "campaign.create" not in page and "job.claim" not in page  # recorded without a campaign: staff's view
    assert '<option value="6" selected>' in page
    durations = json.loads(page.split('id="durations-data" type="application/json">')[1].split("</script>")[0])
    assert "generation.batch" in durations["labels"] and len(durations["p95"]) == len(durations["labels"])
    series = response.context["series"]
    assert sum(series["succeeded"]) >= 3 and series["bucket_seconds"] == 300
    # The whole window, empty buckets included, so the time axis spans the six hours; only the last is partial.
    assert len(series["labels"]) in (72, 73) and series["succeeded"][0] == 0
    assert series["partial"] == [False] * (len(series["labels"]) - 1) + [True]
    assert len(series["succeeded"]) == len(series["failed"]) == len(series["retries"]) == len(series["labels"])
    # Scripts are served from our own static files, never from another site.
    sources = re.findall(r'<script[^>]*\bsrc="([^"]+)"', page)
    assert "/static/vendor/chart.umd.min.js" in sources and all(src.startswith("/static/") for src in sources)


@pytest.mark.django_db
def test_transaction_report_falls_back_to_24_hours_on_a_bad_window(operator, client_for):
    response = client_for(operator).get(reverse("txmetrics:transactions"), {"hours": "-5"})
    assert response.context["hours"] == 24
    assert "No transactions in the last 24 h." in body(response)


@pytest.mark.django_db
def test_login_page_admits_a_non_staff_operator(operator):
    client = Client()
    response = client.post("/admin/login/?next=/", {"username": "operator-a", "password": PASSWORD, "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get(reverse("admin:campaigns_campaign_changelist")).status_code == 200
