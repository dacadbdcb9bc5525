from __future__ import annotations

import pytest

from campaigns.models import AuditLog, Campaign
from campaigns.selectors import campaign_get, campaign_list
from campaigns.services.campaigns import campaign_update
from campaigns.services.errors import CampaignAccessDenied, CampaignNotFound
from campaigns.services.transitions import campaign_transition
from tests.factories import StaffFactory


@pytest.mark.django_db
def test_owner_can_transition_their_campaign(user, make_campaign):
    campaign = make_campaign(actor=user)
    assert campaign_transition(campaign_id=campaign.pk, transition="cancel", actor=user).status == "cancelled"


@pytest.mark.django_db
def test_other_user_is_refused_nothing_changes_and_the_refusal_is_audited(user, other_user, make_campaign):
    campaign = make_campaign(actor=user)

    with pytest.raises(CampaignAccessDenied, match=f"You do not have access to campaign {campaign.pk}."):
        campaign_transition(campaign_id=campaign.pk, transition="cancel", actor=other_user)
    with pytest.raises(CampaignAccessDenied):
        campaign_update(campaign_id=campaign.pk, actor=other_user, expected_version=None, name="mine now")

    after = Campaign.objects.get(pk=campaign.pk)
    assert (after.status, after.version, after.name) == ("pending", 1, "campaign")
    denied = AuditLog.objects.filter(decision="denied", actor=other_user).order_by("created_at")
    assert [(a.action, a.entity_id) for a in denied] == [
        ("campaign.cancel", str(campaign.pk)),
        ("campaign.update", str(campaign.pk)),
    ]


@pytest.mark.django_db
def test_staff_can_act_on_any_campaign(user, make_campaign):
    campaign = make_campaign(actor=user)
    staff = StaffFactory()
    assert campaign_transition(campaign_id=campaign.pk, transition="start", actor=staff).status == "queued"
    assert AuditLog.objects.filter(action="campaign.start", actor=staff, decision="allowed").exists()


@pytest.mark.django_db
def test_selectors_show_owners_only_their_own_and_staff_everything(user, other_user, make_campaign):
    mine = make_campaign(actor=user, name="mine")
    theirs = make_campaign(actor=other_user, name="theirs")

    assert list(campaign_list(actor=user)) == [mine]
    assert set(campaign_list(actor=StaffFactory())) == {mine, theirs}
    assert campaign_get(actor=user, campaign_id=mine.pk) == mine
    with pytest.raises(CampaignNotFound):
        campaign_get(actor=user, campaign_id=theirs.pk)


@pytest.mark.django_db
def test_inactive_user_is_refused_even_for_their_own_campaign(user, make_campaign):
    campaign = make_campaign(actor=user)
    user.is_active = False
    user.save()
    with pytest.raises(CampaignAccessDenied):
        campaign_transition(campaign_id=campaign.pk, transition="cancel", actor=user)


@pytest.mark.django_db
@pytest.mark.parametrize("bad_id", ["nope", "", "12345"])
def test_malformed_campaign_id_is_simply_not_found(user, bad_id):
    with pytest.raises(CampaignNotFound, match="does not exist"):
        campaign_get(actor=user, campaign_id=bad_id)
    with pytest.raises(CampaignNotFound, match="does not exist"):
        campaign_transition(campaign_id=bad_id, transition="start", actor=user)
