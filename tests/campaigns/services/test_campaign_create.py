from __future__ import annotations


import pytest
from django.db import IntegrityError

from campaigns.models import AuditLog, Campaign, CampaignStateEvent, DomainGenerationParams
from campaigns.services.campaigns import CreateStep, campaign_create, campaign_update
from campaigns.services.errors import CampaignError, InvalidCampaignParams, StaleCampaign
from tests.conftest import our_idle_in_transaction
from tests.factories import UserFactory, generation_params
from tests.support.threads import run_in_threads


def counts():
    return (
        Campaign.objects.count(),
        DomainGenerationParams.objects.count(),
        CampaignStateEvent.objects.count(),
        AuditLog.objects.filter(action="campaign.create").count(),
    )


@pytest.mark.django_db
def test_create_writes_campaign_normalised_params_first_event_and_audit(user):
    outcome = campaign_create(
        actor=user,
        name="  Shops  ",
        campaign_type="domain_generation",
        params=generation_params(charset="AbCa", tlds=["COM", ".net", "com"]),
    )

    campaign = Campaign.objects.get(pk=outcome.campaign.pk)
    assert (campaign.name, campaign.status, campaign.version, campaign.owner) == ("Shops", "pending", 1, user)
    params = campaign.generation_params
    assert (params.charset, params.tlds, len(params.config_hash)) == ("abc", [".com", ".net"], 64)
    event = campaign.state_events.get()
    assert (event.sequence, event.from_status, event.to_status, event.transition, event.actor) == (1, "", "pending", "create", user)
    assert AuditLog.objects.get(action="campaign.create").entity_id == str(campaign.pk)
    assert outcome.warnings == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"charset": ""}, "charset: "),
        ({"charset": "ab_"}, "charset: "),
        ({"tlds": ["..com"]}, "tlds: "),
        ({"prefix_length": 0}, "prefix_length: "),
        ({"pattern": "middle"}, "pattern: "),
        ({"count": 10}, "count: "),
        ({"colour": "red"}, "colour: is not a domain generation parameter"),
    ],
)
def test_create_refuses_bad_params_with_the_field_and_writes_nothing(user, overrides, message):
    with pytest.raises(InvalidCampaignParams) as refused:
        campaign_create(actor=user, name="bad", campaign_type="domain_generation", params=generation_params(**overrides))
    assert str(refused.value).startswith(message)
    assert counts() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_failing_optional_step_is_rolled_back_to_its_savepoint_and_the_create_succeeds(user):
    def optional(campaign):
        Campaign.objects.filter(pk=campaign.pk).update(name="changed by the optional step")
        raise CampaignError("optional step broke")

    outcome = campaign_create(
        actor=user,
        name="kept",
        campaign_type="domain_generation",
        params=generation_params(),
        extra_steps=[CreateStep("tagging", optional, required=False)],
    )

    assert outcome.warnings == ["tagging failed: optional step broke"]
    assert Campaign.objects.get(pk=outcome.campaign.pk).name == "kept"
    assert counts() == (1, 1, 1, 1)


@pytest.mark.django_db
def test_failing_required_step_leaves_no_trace(user):
    def required(campaign):
        CampaignStateEvent.objects.create(  # a second sequence 1 violates the unique constraint
            campaign=campaign, sequence=1, to_status="pending", transition="create", campaign_version=1
        )

    with pytest.raises(IntegrityError):
        campaign_create(
            actor=user,
            name="doomed",
            campaign_type="domain_generation",
            params=generation_params(),
            extra_steps=[CreateStep("duplicate event", required)],
        )
    assert counts() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_create_with_start_queues_the_campaign_in_the_same_transaction(user):
    outcome = campaign_create(
        actor=user, name="starts", campaign_type="domain_generation", params=generation_params(), start=True
    )
    assert (outcome.campaign.status, outcome.campaign.version, outcome.warnings) == ("queued", 2, [])


@pytest.mark.django_db
def test_non_staff_cannot_create_for_someone_else_and_anonymous_cannot_create(user, other_user):
    with pytest.raises(CampaignError, match="Only staff can create campaigns for another user."):
        campaign_create(actor=user, name="x", campaign_type="domain_generation", params=generation_params(), owner_id=other_user.pk)
    with pytest.raises(CampaignError, match="You must be signed in"):
        campaign_create(actor=None, name="x", campaign_type="domain_generation", params=generation_params())
    assert counts() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_update_bumps_version_and_refuses_a_stale_one(user, make_campaign):
    campaign = make_campaign(actor=user)
    updated = campaign_update(campaign_id=campaign.pk, actor=user, expected_version=1, name="renamed")
    assert (updated.name, updated.version) == ("renamed", 2)
    with pytest.raises(StaleCampaign):
        campaign_update(campaign_id=campaign.pk, actor=user, expected_version=1, name="again")
    assert Campaign.objects.get(pk=campaign.pk).name == "renamed"


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_workers_create_five_campaigns_each():
    users = [UserFactory() for _ in range(20)]

    def create_five(actor):
        for n in range(5):
            campaign_create(actor=actor, name=f"{actor.username}-{n}", campaign_type="domain_generation", params=generation_params())

    run_in_threads([lambda u=u: create_five(u) for u in users])

    assert Campaign.objects.count() == 100
    per_campaign = CampaignStateEvent.objects.filter(transition="create").values_list("campaign_id", flat=True)
    assert sorted(per_campaign) == sorted(Campaign.objects.values_list("pk", flat=True))
    assert CampaignStateEvent.objects.count() == 100
    assert our_idle_in_transaction() == []
