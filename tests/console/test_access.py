"""Who may open what: login, ownership (404, never someone else's data) and CSRF."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from campaigns.models import Campaign, CampaignStatus


def campaign_urls(campaign_id) -> list[str]:
    return [
        reverse("campaigns:detail", args=[campaign_id]),
        reverse("campaigns:campaign_progress_json", args=[campaign_id]),
        reverse("campaigns:export", args=[campaign_id, "csv"]),
        reverse("campaigns:export", args=[campaign_id, "jsonl"]),
        reverse("admin:campaigns_campaign_change", args=[campaign_id]),
        reverse("admin:campaigns_campaign_history", args=[campaign_id]),
        reverse("admin:campaigns_generateddomain_export", args=[campaign_id, "csv"]),
    ]


@pytest.mark.django_db
def test_every_page_redirects_anonymous_users_to_login(operator, make_campaign):
    campaign = make_campaign(actor=operator)
    urls = [
        "/",
        reverse("campaigns:progress_json"),
        reverse("txmetrics:transactions"),
        reverse("admin:index"),
        reverse("admin:campaigns_campaign_changelist"),
        reverse("admin:campaigns_campaign_add"),
        reverse("admin:campaigns_generateddomain_changelist"),
        *campaign_urls(campaign.pk),
    ]
    client = Client()
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/?next="), url


@pytest.mark.django_db
def test_healthz_needs_no_login_and_reports_the_database():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_a_user_gets_404_for_another_users_campaign_everywhere(operator, other_operator, make_campaign, client_for):
    theirs = make_campaign(actor=other_operator, name="theirs")
    client = client_for(operator)
    for url in campaign_urls(theirs.pk):
        assert client.get(url).status_code == 404, url
    transition = reverse("admin:campaigns_campaign_transition", args=[theirs.pk])
    response = client.post(transition, {"transition": "start", "expected_version": theirs.version})
    assert response.status_code == 404
    assert Campaign.objects.get(pk=theirs.pk).status == CampaignStatus.PENDING


@pytest.mark.django_db
def test_lists_and_json_show_only_the_users_own_campaigns(operator, other_operator, make_campaign, client_for):
    mine = make_campaign(actor=operator, name="mine")
    theirs = make_campaign(actor=other_operator, name="theirs")
    client = client_for(operator)
    listed = client.get(reverse("campaigns:progress_json")).json()["campaigns"]
    assert [c["id"] for c in listed] == [str(mine.pk)]
    asked = client.get(reverse("campaigns:progress_json"), {"ids": f"{mine.pk},{theirs.pk}"}).json()["campaigns"]
    assert [c["id"] for c in asked] == [str(mine.pk)]
    for url in ("/", reverse("admin:campaigns_campaign_changelist")):
        content = client.get(url).content.decode()
        assert "mine" in content and "theirs" not in content and str(theirs.pk) not in content, url
    results = client.get(reverse("admin:campaigns_generateddomain_changelist"), {"campaign": str(theirs.pk)})
    assert results.status_code == 200
    assert "Export CSV" not in results.content.decode()


@pytest.mark.django_db
def test_staff_see_every_campaign(staff, operator, make_campaign, client_for):
    theirs = make_campaign(actor=operator, name="an operator's")
    client = client_for(staff)
    assert client.get(reverse("admin:campaigns_campaign_change", args=[theirs.pk])).status_code == 200
    assert client.get(reverse("campaigns:detail", args=[theirs.pk])).status_code == 200


@pytest.mark.django_db
def test_a_user_without_campaign_permissions_cannot_enter_the_admin_but_sees_the_pages(make_campaign, user, client_for):
    make_campaign(actor=user, name="plain user's")
    client = client_for(user)
    assert client.get(reverse("admin:campaigns_campaign_changelist")).status_code == 302
    assert "plain user&#x27;s" in client.get("/").content.decode()


def _csrf_client(client_for, user, page: str) -> tuple[Client, str]:
    client = client_for(user, csrf=True)
    assert client.get(page).status_code == 200
    return client, client.cookies["csrftoken"].value


@pytest.mark.django_db
def test_every_state_change_requires_the_csrf_token(operator, make_campaign, client_for):
    campaign = make_campaign(actor=operator, name="csrf")
    change_url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    posts = [
        (
            reverse("admin:campaigns_campaign_changelist"),
            {"action": "start_selected", "_selected_action": [str(campaign.pk)], f"_version_{campaign.pk}": "1"},
        ),
        (reverse("admin:campaigns_campaign_transition", args=[campaign.pk]), {"transition": "start", "expected_version": "1"}),
        (change_url, {"name": "renamed", "expected_version": "1"}),
        (
            reverse("admin:campaigns_campaign_add"),
            {"name": "new", "pattern": "prefix", "prefix_length": 1, "suffix_length": 0, "charset": "ab",
             "tlds": "com", "count": 2, "batch_size": 1},
        ),
        (reverse("admin:logout"), {}),
    ]
    client, token = _csrf_client(client_for, operator, change_url)
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert (campaign.status, campaign.name, campaign.version) == (CampaignStatus.PENDING, "csrf", 1)
    assert Campaign.objects.count() == 1

    # The same form with its token goes through: the 403 above was the CSRF check.
    response = client.post(
        reverse("admin:campaigns_campaign_transition", args=[campaign.pk]),
        {"transition": "start", "expected_version": "1", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.QUEUED


@pytest.mark.django_db
def test_worker_owned_rows_are_read_only_in_the_admin(staff, operator, make_campaign, client_for):
    campaign = make_campaign(actor=operator, start=True)
    client = client_for(staff)
    for model in ("campaignjob", "campaignstateevent", "auditlog", "generateddomain", "domaingenerationconfigstate"):
        assert client.get(reverse(f"admin:campaigns_{model}_add")).status_code == 403, model
    job = campaign.jobs.first()
    page = client.get(reverse("admin:campaigns_campaignjob_change", args=[job.pk])).content.decode()
    assert 'name="_save"' not in page
    assert client.get(reverse("admin:txmetrics_transactionmetric_changelist")).status_code == 200
    assert client.get(reverse("admin:txmetrics_transactionmetric_add")).status_code == 403
    assert client.get(reverse("admin:campaigns_campaign_delete", args=[campaign.pk])).status_code == 403


@pytest.mark.django_db
def test_operators_do_not_see_transaction_metrics_in_the_admin(operator, client_for):
    client = client_for(operator)
    assert client.get(reverse("admin:txmetrics_transactionmetric_changelist")).status_code == 403
