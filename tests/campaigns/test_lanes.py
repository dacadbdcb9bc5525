"""A worker's lane: the next job is claimed and fetched while the previous one writes its results,
and at most one job per lane writes at a time."""
from __future__ import annotations

import threading

import pytest
from django.db import connection

from campaigns.models import Campaign, CampaignJob
from campaigns.services.campaigns import campaign_create
from tests.campaigns.conftest import run_engine
from tests.factories import UserFactory
from tests.support.waits import raw_connection, wait_for, waiting_on_a_lock

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_lane_claims_its_next_job_while_the_previous_one_writes(make_world):
    owner = UserFactory()
    world = make_world(count=30, batch_size=30, resolve_every=3)
    gen = world.generated(owner)
    blocker = raw_connection()
    blocker.execute("BEGIN")
    blocker.execute("LOCK TABLE campaigns_dnsresult IN SHARE MODE")  # every DNS batch's write waits
    dns = campaign_create(actor=owner, name="dns", campaign_type="dns_validation", source_campaign_id=gen.pk,
                          params={"personas": ["stream-dns"], "batch_size": 10}, start=True).campaign
    engine = threading.Thread(target=run_engine, kwargs={"lanes": 1})
    engine.start()
    try:
        wait_for(lambda: waiting_on_a_lock("campaigns_dnsresult"), what="the first batch's write to wait")
        # One lane: the first job is stuck in its write, yet the second is claimed and resolved...
        wait_for(lambda: CampaignJob.objects.filter(campaign=dns, status="running").count() == 2,
                 what="a second job claimed while the first writes")
        # ...and its write waits for the first's to end before a third is claimed.
        threading.Event().wait(0.5)
        assert CampaignJob.objects.filter(campaign=dns, status="running").count() == 2
        assert CampaignJob.objects.filter(campaign=dns, status="queued").count() == 1
    finally:
        blocker.execute("COMMIT")
        blocker.close()
        engine.join(timeout=60)
        connection.close()
    after = Campaign.objects.get(pk=dns.pk)
    assert (after.status, after.processed_items, after.successful_items) == ("completed", 30, len(world.resolved))
    assert after.dns_results.count() == 30
