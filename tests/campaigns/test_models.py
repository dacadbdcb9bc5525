from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from campaigns.models import Campaign, CampaignStateEvent


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"processed_items": -1},
        {"total_items": 5, "processed_items": 6},
        {"total_items": 5, "processed_items": 5, "successful_items": 4, "failed_items": 2},
        {"status": "exploded"},
        {"campaign_type": "telepathy"},
        {"version": 0},
    ],
)
def test_database_constraints_refuse_incoherent_campaign_rows(change, user, make_campaign):
    campaign = make_campaign(actor=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(**change)


@pytest.mark.django_db
def test_event_sequence_is_unique_per_campaign(user, make_campaign):
    campaign = make_campaign(actor=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignStateEvent.objects.create(campaign=campaign, sequence=1, to_status="queued", transition="start", campaign_version=2)


@pytest.mark.django_db
def test_status_cannot_be_assigned_directly(user, make_campaign):
    campaign = make_campaign(actor=user)
    with pytest.raises(AttributeError, match="Direct status modification is not allowed"):
        campaign.status = "running"
    assert Campaign.objects.filter(pk=campaign.pk, version=F("version")).get().status == "pending"
