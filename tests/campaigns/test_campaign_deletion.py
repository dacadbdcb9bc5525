"""Deleting a campaign while a batch writes its rows: the rows go with it, none is left behind."""
from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

from campaigns.models import Campaign, GeneratedDomain
from campaigns.services import engine
from campaigns.services.campaigns import campaign_create
from campaigns.services.jobs import jobs_claim
from campaigns.services.phases.batch import CampaignStopped
from campaigns.services.phases.generation import generation_run_batch
from tests.factories import UserFactory
from tests.support.threads import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)


def lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


def wait_for_lock_waiters(count: int) -> None:
    deadline = time.monotonic() + 20
    while lock_waiters() < count:
        assert time.monotonic() < deadline, f"fewer than {count} sessions came to wait on a lock"
        time.sleep(0.01)


def test_a_campaign_deleted_while_a_batch_writes_leaves_no_row_behind():
    params = {"pattern": "prefix", "prefix_length": 3, "charset": "0123456789", "constant": "del", "tlds": ["com"],
              "count": 500, "batch_size": 500}
    campaign = campaign_create(actor=UserFactory(), name="deleted", campaign_type="domain_generation",
                               params=params, start=True).campaign
    engine.campaigns_activate(worker_id="test")
    job = jobs_claim(worker_id="test")[0]

    # Another session holds the campaign's row: the batch writes its names and then waits to count
    # them; the deletion comes after it and waits too.
    holder = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    holder.execute("BEGIN")
    holder.execute("SELECT 1 FROM campaigns_campaign WHERE id = %s FOR NO KEY UPDATE", [campaign.pk])
    outcome: list[str] = []

    def batch() -> None:
        try:
            generation_run_batch(job=job, worker_id="test")
            outcome.append("written")
        except CampaignStopped:
            outcome.append("stopped")

    def delete() -> None:
        wait_for_lock_waiters(1)  # the batch, its names written, waits to count them
        Campaign.objects.filter(pk=campaign.pk).delete()

    def release() -> None:
        wait_for_lock_waiters(2)  # and the deletion waits too
        holder.execute("ROLLBACK")

    try:
        run_in_threads([batch, delete, release])
    finally:
        holder.close()

    assert outcome in (["written"], ["stopped"])
    assert not Campaign.objects.filter(pk=campaign.pk).exists()
    assert not GeneratedDomain.objects.filter(campaign_id=campaign.pk).exists()
