"""The one polling endpoint: pipelines as one row, the funnel, and a bounded number of queries per poll."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import HttpResult
from tests.console.live_data import arrange

pytestmark = pytest.mark.django_db


def pipeline(owner, n: int = 0):
    gen = arrange(owner=owner, name=f"gen {n}", campaign_type="domain_generation", status="completed", total=4000,
                  processed=4000, successful=4000, chain_next=True, events=[("running", 60), ("completed", 1)])
    dns = arrange(owner=owner, name=f"dns {n}", source=gen, status="completed", total=4000, processed=4000,
                  successful=1000, dns={"resolved": 10, "unresolved": 5}, events=[("running", 30), ("completed", 1)])
    http = arrange(owner=owner, name=f"http {n}", campaign_type="http_keyword_validation", source=dns, total=1000,
                   processed=500, successful=400, events=[("running", 10)], jobs={"running": 1})
    HttpResult.objects.bulk_create([
        HttpResult(campaign=http, domain_name=f"h{i}.com", batch_number=1, status="success", business_status="lead_valid")
        for i in range(40)
    ])
    return gen, dns, http


def live(client, **params):
    response = client.get(reverse("campaigns:live_json"), params)
    assert response.status_code == 200
    return response.json()


def test_a_chained_pipeline_is_one_dashboard_row_with_its_phases_and_funnel(operator, client_for):
    gen, dns, http = pipeline(operator)
    data = live(client_for(operator))
    assert data["settled"] is False
    html = data["html"]
    assert html.count('class="df-pipeline"') == 1
    assert f'data-pipeline-id="{gen.pk}"' in html
    for phase in (gen, dns, http):
        assert f'id="phase-{phase.pk}"' in html and f'data-phase-of="{gen.pk}"' in html
    assert "Pipeline: Domain generation → DNS validation → HTTP keyword validation" in html
    assert "Names generated <strong>4,000</strong>" in html
    assert "Resolved <strong>1,000</strong> (25.0%)" in html
    assert "Fetched <strong>400</strong> (40.0%)" in html
    assert "Matched keywords <strong>40</strong> (10.0%)" in html


def test_the_campaign_page_poll_returns_its_sections(operator, client_for):
    gen, dns, http = pipeline(operator)
    data = live(client_for(operator), campaign=str(dns.pk))
    html = data["html"]
    assert 'id="campaign-live" data-live-section' in html
    assert 'data-step="matched"' in html and 'aria-current="true"' in html
    assert "1,000 resolved, 5 unresolved, 2,995 errors." in html
    assert "Feeds: <a" in html and "http 0" in html


def test_a_new_campaign_appears_in_the_next_poll(operator, client_for):
    client = client_for(operator)
    assert "late arrival" not in live(client)["html"]
    arrange(owner=operator, name="late arrival", campaign_type="domain_generation", status="queued")
    assert "late arrival" in live(client)["html"]


def test_other_owners_campaigns_never_reach_the_poll(operator, other_operator, client_for):
    theirs = arrange(owner=other_operator, name="not yours", campaign_type="domain_generation")
    assert "not yours" not in live(client_for(operator))["html"]
    assert client_for(operator).get(reverse("campaigns:live_json"), {"campaign": str(theirs.pk)}).status_code == 404


@pytest.mark.parametrize("view", ["dashboard", "campaign", "admin"])
def test_a_poll_makes_the_same_number_of_queries_for_1_or_12_pipelines(view, operator, client_for, django_assert_num_queries):
    client = client_for(operator)
    first = pipeline(operator, 0)
    params = {} if view == "dashboard" else {"campaign": str(first[1].pk), **({"view": "admin"} if view == "admin" else {})}
    client.get(reverse("campaigns:live_json"), params)  # warm the session
    with CaptureQueriesContext(connection) as few:
        live(client, **params)
    for n in range(1, 12):
        pipeline(operator, n)
    with django_assert_num_queries(len(few.captured_queries)):
        data = live(client, **params)
    if view == "dashboard":
        assert data["html"].count('class="df-pipeline"') == 12
    assert len(few.captured_queries) <= 20
