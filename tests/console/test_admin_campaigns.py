"""The campaign admin writes only through the services: create, update, transitions, stale versions."""
from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from campaigns.models import (
    AuditLog,
    Campaign,
    CampaignStateEvent,
    CampaignStatus,
    DnsPersona,
    DomainGenerationParams,
    HttpPersona,
)
from campaigns.services.campaigns import campaign_create, campaign_update
from campaigns.services.transitions import campaign_transition
from tests.factories import generation_params

CHANGELIST = "admin:campaigns_campaign_changelist"


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def action(client, name: str, campaigns, versions=None, *, confirmed: bool = True):
    data = {"action": name, "_selected_action": [str(c.pk) for c in campaigns]}
    if confirmed:
        data["confirmed"] = "yes"
    for campaign in campaigns:
        version = (versions or {}).get(campaign.pk, campaign.version)
        data[f"_version_{campaign.pk}"] = str(version)
    return client.post(reverse(CHANGELIST), data, follow=True)


def change_form(**fields) -> dict[str, str]:
    """What the change page posts: its fields plus the (read-only) params inline's management form."""
    return {"generation_params-TOTAL_FORMS": "1", "generation_params-INITIAL_FORMS": "1", **fields}


def fresh(campaign) -> Campaign:
    return Campaign.objects.get(pk=campaign.pk)


@pytest.mark.django_db
def test_changelist_shows_badges_progress_rate_eta_and_row_versions(operator, make_campaign, client_for):
    campaign = make_campaign(actor=operator, name="listed", start=True)
    content = client_for(operator).get(reverse(CHANGELIST)).content.decode()
    assert '<span class="df-badge df-badge-waiting_for_worker">Waiting for a worker (1 queued)</span>' in content
    assert 'role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0.0"' in content
    assert "0 / 9" in content and "<td class=\"field-type_label\">Domain generation</td>" in content
    assert '<td class="field-owner_name">operator-a</td>' in content  # text: the user pages are staff's
    assert f'<input type="hidden" name="_version_{campaign.pk}" value="2">' in content


@pytest.mark.django_db
def test_start_action_calls_the_service_as_the_acting_user(operator, make_campaign, client_for):
    campaign = make_campaign(actor=operator, name="to start")
    response = action(client_for(operator), "start_selected", [campaign])
    assert "Started 1 campaign." in messages_of(response)
    campaign = fresh(campaign)
    assert (campaign.status, campaign.version) == (CampaignStatus.QUEUED, 2)
    event = CampaignStateEvent.objects.get(campaign=campaign, sequence=2)
    assert (event.transition, event.actor, event.actor_label) == ("start", operator, "operator-a")
    assert AuditLog.objects.filter(action="campaign.start", actor=operator, entity_id=str(campaign.pk)).exists()
    assert campaign.jobs.count() == 1  # generation queues one batch at a time


@pytest.mark.django_db
def test_each_action_applies_its_transition(operator, make_campaign, client_for):
    client = client_for(operator)
    campaign = make_campaign(actor=operator)
    for name, status in [("start", "queued"), ("pause", "paused"), ("resume", "queued"), ("cancel", "cancelled"), ("archive", "archived")]:
        action(client, f"{name}_selected", [fresh(campaign)])
        assert fresh(campaign).status == status, name
    transitions = list(CampaignStateEvent.objects.filter(campaign=campaign).values_list("transition", flat=True))
    assert transitions == ["create", "start", "pause", "resume", "cancel", "archive"]


@pytest.mark.django_db
def test_retry_action_requeues_a_failed_campaign(operator, make_campaign, client_for):
    campaign = make_campaign(actor=operator, start=True)
    campaign_transition(campaign_id=campaign.pk, transition="begin", actor=None, actor_label="worker")
    campaign_transition(campaign_id=campaign.pk, transition="fail", actor=None, actor_label="worker", reason="boom")
    action(client_for(operator), "retry_selected", [fresh(campaign)])
    assert fresh(campaign).status == CampaignStatus.QUEUED


@pytest.mark.django_db
def test_an_action_refused_by_the_state_machine_says_why(operator, make_campaign, client_for):
    campaign = make_campaign(actor=operator)
    response = action(client_for(operator), "pause_selected", [campaign])
    assert any("Cannot pause a campaign that is pending." in m for m in messages_of(response))
    assert fresh(campaign).status == CampaignStatus.PENDING


@pytest.mark.django_db
def test_stale_version_action_shows_the_conflict_and_changes_nothing(operator, make_campaign, client_for):
    stale = make_campaign(actor=operator, name="stale one")
    current = make_campaign(actor=operator, name="current one")
    seen = stale.version
    campaign_update(campaign_id=stale.pk, actor=operator, expected_version=seen, name="renamed elsewhere")
    events_before = CampaignStateEvent.objects.count()

    response = action(client_for(operator), "start_selected", [stale, current], versions={stale.pk: seen})

    shown = messages_of(response)
    assert any("was changed by someone else" in m and "you saw version 1, it is now version 2" in m for m in shown)
    assert "Nothing was changed." in shown
    assert fresh(stale).status == CampaignStatus.PENDING
    assert fresh(current).status == CampaignStatus.PENDING
    assert CampaignStateEvent.objects.count() == events_before


@pytest.mark.django_db
def test_transition_button_carries_the_version_and_refuses_a_stale_one(operator, make_campaign, client_for):
    campaign = make_campaign(actor=operator)
    client = client_for(operator)
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert 'name="expected_version" value="1"' in page
    assert 'value="start"' in page and 'value="pause"' not in page
    campaign_update(campaign_id=campaign.pk, actor=operator, expected_version=1, name="renamed elsewhere")

    response = client.post(
        reverse("admin:campaigns_campaign_transition", args=[campaign.pk]),
        {"transition": "start", "expected_version": "1"},
        follow=True,
    )
    assert any("was changed by someone else" in m for m in messages_of(response))
    assert "was changed by someone else" in response.content.decode()
    assert fresh(campaign).status == CampaignStatus.PENDING

    client.post(
        reverse("admin:campaigns_campaign_transition", args=[campaign.pk]), {"transition": "start", "expected_version": "2"}
    )
    assert fresh(campaign).status == CampaignStatus.QUEUED


@pytest.mark.django_db
def test_transition_view_rejects_get_and_worker_only_transitions(operator, make_campaign, client_for):
    campaign = make_campaign(actor=operator, start=True)
    client = client_for(operator)
    url = reverse("admin:campaigns_campaign_transition", args=[campaign.pk])
    assert client.get(url).status_code == 405
    response = client.post(url, {"transition": "begin", "expected_version": "2"}, follow=True)
    assert "Unknown transition &#x27;begin&#x27;." in response.content.decode()
    assert fresh(campaign).status == CampaignStatus.QUEUED


@pytest.mark.django_db
def test_editing_goes_through_campaign_update_with_the_version(operator, make_campaign, client_for):
    campaign = make_campaign(actor=operator, name="before")
    client = client_for(operator)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    response = client.post(url, change_form(name="after", expected_version="1"))
    assert response.status_code == 302
    campaign = fresh(campaign)
    assert (campaign.name, campaign.chain_next, campaign.version, campaign.status) == ("after", False, 2, "pending")
    audit = AuditLog.objects.get(action="campaign.update", entity_id=str(campaign.pk))
    assert audit.actor == operator and audit.details["name"] == ["before", "after"]


@pytest.mark.django_db
@pytest.mark.parametrize("chained", [False, True])
def test_chain_next_is_shown_read_only_and_a_posted_value_is_ignored(operator, make_campaign, client_for, chained):
    campaign = make_campaign(actor=operator, name="fixed")
    Campaign.objects.filter(pk=campaign.pk).update(chain_next=chained)  # as created: fixed from then on
    client = client_for(operator)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    page = client.get(url).content.decode()
    assert 'name="chain_next"' not in page and '<div class="readonly"><img src="/static/admin/img/icon-' in page

    posted = {"chain_next": "on"} if not chained else {}  # an unticked box posts nothing
    response = client.post(url, change_form(name="renamed", expected_version="1", **posted))

    assert response.status_code == 302
    campaign = fresh(campaign)
    assert (campaign.name, campaign.chain_next, campaign.version) == ("renamed", chained, 2)


@pytest.mark.django_db
def test_stale_change_form_shows_the_conflict_and_changes_nothing(operator, make_campaign, client_for):
    campaign = make_campaign(actor=operator, name="original")
    campaign_update(campaign_id=campaign.pk, actor=operator, expected_version=1, name="theirs")
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])

    response = client_for(operator).post(url, change_form(name="mine", expected_version="1"))

    assert response.status_code == 200
    assert "was changed by someone else (you saw version 1, it is now version 2)" in response.content.decode()
    campaign = fresh(campaign)
    assert (campaign.name, campaign.version) == ("theirs", 2)


@pytest.mark.django_db
def test_status_and_counters_cannot_be_edited(operator, make_campaign, client_for):
    campaign = make_campaign(actor=operator)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    client = client_for(operator)
    client.post(url, change_form(name="n", expected_version="1", status="completed", processed_items="9", version="7"))
    campaign = fresh(campaign)
    assert (campaign.status, campaign.processed_items, campaign.version) == ("pending", 0, 2)
    page = client.get(url).content.decode()
    assert 'name="status"' not in page and 'name="processed_items"' not in page and 'name="pattern"' not in page


ADD_FORM = {
    "name": "from the admin",
    "pattern": "prefix",
    "prefix_length": "2",
    "suffix_length": "0",
    "charset": "abc",
    "constant": "shop",
    "tlds": "com, .NET",
    "count": "9",
    "batch_size": "3",
}


@pytest.mark.django_db
def test_add_form_creates_through_campaign_create(operator, client_for):
    DnsPersona.objects.create(name="local", resolvers=["127.0.0.1:5353"])
    response = client_for(operator).post(
        reverse("admin:campaigns_campaign_add"), {**ADD_FORM, "chain_next": "on", "chain_dns_personas": "local"}
    )
    campaign = Campaign.objects.get(name="from the admin")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    assert (campaign.owner, campaign.status, campaign.chain_next, campaign.campaign_type) == (
        operator, "pending", True, "domain_generation"
    )
    assert campaign.chain_params == {"dns_validation": {"personas": ["local"]}}
    params = DomainGenerationParams.objects.get(campaign=campaign)
    assert (params.tlds, params.constant, params.count, params.batch_size) == ([".com", ".net"], "shop", 9, 3)
    event = CampaignStateEvent.objects.get(campaign=campaign)
    assert (event.transition, event.actor) == ("create", operator)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("charset", "ab!", "contains &#x27;!&#x27;; only a-z, 0-9 and &#x27;-&#x27; are allowed"),
        ("count", "0", "must be at least 1; got 0"),
        ("suffix_length", "2", "must be 0 for the prefix pattern"),
        ("tlds", "c_m", "is not a valid TLD"),
    ],
)
def test_add_form_shows_the_service_validation_on_the_field(operator, client_for, field, value, message):
    response = client_for(operator).post(reverse("admin:campaigns_campaign_add"), {**ADD_FORM, field: value})
    assert response.status_code == 200
    form = response.context["form"]
    assert any(message.replace("&#x27;", "'") in error for error in form.errors[field])
    assert message in response.content.decode()
    assert not Campaign.objects.exists()


@pytest.mark.django_db
def test_add_form_lets_staff_choose_the_owner_and_hides_it_from_operators(staff, operator, client_for):
    assert 'name="owner"' not in client_for(operator).get(reverse("admin:campaigns_campaign_add")).content.decode()
    client_for(staff).post(reverse("admin:campaigns_campaign_add"), {**ADD_FORM, "owner": str(operator.pk)})
    assert Campaign.objects.get(name="from the admin").owner == operator


@pytest.mark.django_db
def test_change_page_shows_params_history_jobs_links_and_chain(operator, make_campaign, client_for):
    campaign = make_campaign(actor=operator, name="page", start=True)
    page = client_for(operator).get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert "prefix" in page and "abc" in page  # params inline, read-only
    assert "<strong>Created</strong>" in page and "<strong>Started</strong>" in page  # live panel's timeline
    assert 'data-live-url="/campaigns/live.json?campaign=' in page and "Waiting for a worker (1 queued)" in page
    assert "queued: 1" in page  # jobs: generation queues one batch at a time
    assert f"/admin/campaigns/generateddomain/?campaign={campaign.pk}" in page
    assert f"/campaigns/{campaign.pk}/export.csv" in page
    assert "Feeds:" in page and "no campaign yet" in page


@pytest.mark.django_db
def test_a_change_racing_the_save_is_refused_by_the_service_and_changes_nothing(operator, make_campaign, client_for, monkeypatch):
    import campaigns.admin.campaigns as campaign_admin

    campaign = make_campaign(actor=operator, name="raced")
    real_update = campaign_admin.campaign_update

    def someone_else_first(**kwargs):
        # Another operator's edit lands between the form's check and the service call.
        real_update(campaign_id=campaign.pk, actor=operator, expected_version=1, name="theirs")
        return real_update(**kwargs)

    monkeypatch.setattr(campaign_admin, "campaign_update", someone_else_first)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    response = client_for(operator).post(url, change_form(name="mine", expected_version="1"), follow=True)

    assert any("Nothing was changed." in m and "was changed by someone else" in m for m in messages_of(response))
    assert fresh(campaign).name == "theirs"
    assert not AuditLog.objects.filter(action="campaign.update", details__name__contains=["mine"]).exists()


@pytest.mark.django_db
def test_cancel_action_asks_for_confirmation_and_changes_nothing_until_confirmed(operator, make_campaign, client_for):
    client = client_for(operator)
    campaign = make_campaign(actor=operator, name="to cancel", start=True)
    asked = action(client, "cancel_selected", [campaign], confirmed=False).content.decode()
    assert "<strong>This cannot be undone</strong>" in asked and "<li>to cancel (Queued)</li>" in asked
    assert 'value="Yes, cancel 1 campaign"' in asked
    assert fresh(campaign).status == CampaignStatus.QUEUED
    action(client, "cancel_selected", [fresh(campaign)])
    assert fresh(campaign).status == CampaignStatus.CANCELLED


@pytest.mark.django_db
def test_change_page_cancel_is_destructive_and_refused_without_confirmation(operator, make_campaign, client_for):
    client = client_for(operator)
    campaign = make_campaign(actor=operator, name="to cancel", start=True)
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert 'class="button df-destructive" name="transition" value="cancel" data-confirm=' in page
    url = reverse("admin:campaigns_campaign_transition", args=[campaign.pk])
    refused = client.post(url, {"transition": "cancel", "expected_version": "2"}, follow=True)
    assert messages_of(refused) == ["Nothing was changed. Cancelling cannot be undone: confirm it when the page asks."]
    assert fresh(campaign).status == CampaignStatus.QUEUED
    client.post(url, {"transition": "cancel", "expected_version": "2", "confirmed": "yes"})
    assert fresh(campaign).status == CampaignStatus.CANCELLED


@pytest.fixture
def pipeline(operator) -> list[Campaign]:
    """A generation campaign started with the DNS and HTTP phases it chains (all queued, no worker)."""
    DnsPersona.objects.create(name="local", resolvers=["127.0.0.1:9"])
    HttpPersona.objects.create(name="browser")
    chain = {"dns_validation": {"personas": ["local"]}, "http_keyword_validation": {"persona": "browser"}}
    outcome = campaign_create(actor=operator, name="gen", campaign_type="domain_generation", params=generation_params(),
                              chain_next=True, chain_params=chain, start=True)
    return [outcome.campaign, *outcome.phases]


@pytest.mark.django_db
def test_change_page_cancel_names_the_later_phases_it_cancels_too(operator, client_for, pipeline):
    client = client_for(operator)
    gen, dns, http = pipeline
    page = client.get(reverse("admin:campaigns_campaign_change", args=[gen.pk])).content.decode()
    assert f'data-confirm="Cancel “gen” and its later phases “{dns.name}”, “{http.name}”? This cannot be undone: their' in page

    url = reverse("admin:campaigns_campaign_transition", args=[gen.pk])
    done = client.post(url, {"transition": "cancel", "expected_version": str(gen.version), "confirmed": "yes"}, follow=True)

    assert messages_of(done) == [f"Cancelled “gen” and its later phases “{dns.name}”, “{http.name}”."]
    assert [fresh(c).status for c in pipeline] == [CampaignStatus.CANCELLED] * 3


@pytest.mark.django_db
def test_cancel_action_lists_the_later_phases_and_counts_them(operator, client_for, pipeline):
    client = client_for(operator)
    gen, dns, http = pipeline
    asked = action(client, "cancel_selected", [gen], confirmed=False).content.decode()
    assert f"<li>{dns.name} (Queued)</li><li>{http.name} (Queued)</li>" in asked
    assert [fresh(c).status for c in pipeline] == [CampaignStatus.QUEUED] * 3

    done = action(client, "cancel_selected", [fresh(gen)])

    assert messages_of(done) == ["Cancelled 1 campaign, and 2 later phases of their pipelines."]
    assert [fresh(c).status for c in pipeline] == [CampaignStatus.CANCELLED] * 3
