"""A worker's share of an HTTP campaign: a claimed HTTP batch counts until its release, once."""
from __future__ import annotations

from uuid import uuid4

from campaigns.fetch_share import FetchShare
from campaigns.models import CampaignType
from campaigns.services.jobs import ClaimedJob


def job(campaign, kind: str = CampaignType.HTTP_KEYWORD_VALIDATION) -> ClaimedJob:
    return ClaimedJob(id=1, campaign_id=campaign, campaign_type=kind, batch_number=0, lease_token=uuid4(),
                      attempts=1, max_attempts=5)


def test_an_http_batch_fills_its_campaigns_share_until_released_once():
    released = []
    share = FetchShare(on_release=lambda: released.append(True))
    campaign, other = uuid4(), uuid4()
    release = share.hold(job(campaign))
    assert share.full() == [campaign]
    release()
    release()  # the last site handed out, then the network part done: counted off once
    assert share.full() == [] and released == [True]
    share.hold(job(other))
    assert share.full() == [other]


def test_dns_and_generation_batches_take_no_share():
    share = FetchShare(on_release=lambda: None)
    for kind in (CampaignType.DNS_VALIDATION, CampaignType.DOMAIN_GENERATION):
        share.hold(job(uuid4(), kind))()
    assert share.full() == [] and not share.campaigns
