"""Campaign names (and any text a user or a scraped page supplies) render escaped on every page."""
from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.services.transitions import campaign_transition

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def assert_escaped(response, where: str) -> None:
    assert response.status_code == 200, where
    content = response.content.decode()
    assert XSS not in content, where
    assert ESCAPED in content, where


@pytest.mark.django_db
def test_a_hostile_campaign_name_renders_escaped_everywhere(operator, staff, make_campaign, client_for):
    campaign = make_campaign(actor=operator, name=XSS, start=True)
    campaign_transition(campaign_id=campaign.pk, transition="begin", actor=None, actor_label=XSS)
    campaign_transition(campaign_id=campaign.pk, transition="fail", actor=None, actor_label="worker", reason=XSS)
    fed = Campaign.objects.create(name=XSS + " phase 2", campaign_type="dns_validation", owner=operator, source_campaign=campaign)
    pages = {
        "dashboard": "/",
        "campaign page": reverse("campaigns:detail", args=[campaign.pk]),
        "fed campaign page": reverse("campaigns:detail", args=[fed.pk]),
        "admin campaign list": reverse("admin:campaigns_campaign_changelist"),
        "admin campaign list, searched": reverse("admin:campaigns_campaign_changelist") + "?q=script",
        "admin campaign page": reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
        "admin fed campaign page": reverse("admin:campaigns_campaign_change", args=[fed.pk]),
        "admin results": reverse("admin:campaigns_generateddomain_changelist") + f"?campaign={campaign.pk}",
        "admin jobs": reverse("admin:campaigns_campaignjob_changelist"),
        "admin state events": reverse("admin:campaigns_campaignstateevent_changelist"),
        "admin audit": reverse("admin:campaigns_auditlog_changelist"),
    }
    for user in (operator, staff):
        client = client_for(user)
        for where, url in pages.items():
            assert_escaped(client.get(url), f"{where} as {user.username}")


@pytest.mark.django_db
def test_hostile_names_in_admin_messages_are_escaped(operator, make_campaign, client_for):
    client = client_for(operator)
    created = client.post(
        reverse("admin:campaigns_campaign_add"),
        {"name": XSS, "pattern": "prefix", "prefix_length": "1", "suffix_length": "0", "charset": "ab", "tlds": "com",
         "count": "2", "batch_size": "1"},
        follow=True,
    )
    assert_escaped(created, "after create")
    campaign = Campaign.objects.get(name=XSS)
    started = client.post(
        reverse("admin:campaigns_campaign_transition", args=[campaign.pk]),
        {"transition": "start", "expected_version": "1"},
        follow=True,
    )
    assert_escaped(started, "after start")


@pytest.mark.django_db
def test_progress_json_is_json_not_html(operator, make_campaign, client_for):
    make_campaign(actor=operator, name=XSS)
    response = client_for(operator).get(reverse("campaigns:progress_json"))
    assert response["Content-Type"] == "application/json"
    assert response.json()["campaigns"][0]["name"] == XSS
