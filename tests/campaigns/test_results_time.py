"""A batch's results carry the time of their write on the database's clock (the clock of every job
and lease time): the write leaves checked_at to the column's default, in one COPY and row by row."""
from __future__ import annotations

import pytest
from django.db import connection

from campaigns.dns import DnsOutcome
from campaigns.models import DnsResult, HttpResult
from campaigns.services import engine
from campaigns.services.campaigns import campaign_create
from campaigns.services.jobs import jobs_claim
from campaigns.services.phases.dns import dns_load, dns_record_batch
from campaigns.services.phases.http import http_load, http_record_batch
from campaigns.http import fetch_batch
from tests.factories import UserFactory
from tests.support.engine import claim_http_jobs

pytestmark = pytest.mark.django_db(transaction=True)


def database_now():
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("isolate", [False, True], ids=["one COPY", "row by row"])
def test_a_dns_batchs_results_carry_the_database_time_of_their_write(make_world, isolate):
    world = make_world(count=6, batch_size=6)
    owner = UserFactory()
    source = world.generated(owner)
    dns_phase = campaign_create(actor=owner, name="dns", campaign_type="dns_validation", source_campaign_id=source.pk,
                                params={"personas": ["stream-dns"], "batch_size": 6}, start=True).campaign
    engine.campaigns_activate(worker_id="here")
    [job] = jobs_claim(worker_id="here")
    names = dns_load(job=job).domains
    outcomes = [DnsOutcome(name, "unresolved", "", (), "NXDOMAIN", "127.0.0.1:53", "stream-dns", 1, 3) for name in names]

    before = database_now()
    dns_record_batch(job=job, worker_id="here", outcomes=outcomes, isolate=isolate)
    after = database_now()

    times = list(DnsResult.objects.filter(campaign=dns_phase).values_list("checked_at", flat=True))
    assert len(times) == len(names) == 6
    assert all(before <= time <= after for time in times), (before, times, after)


def test_an_http_batch_written_row_by_row_carries_the_database_time_of_its_write(make_world, settings):
    settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS = True
    world = make_world(count=6, batch_size=6)
    _, dns_phase, http_phase = world.pipeline(UserFactory(), dns_batch=6, http_batch=6)
    [job] = claim_http_jobs(dns_phase, http_phase, worker_id="here")
    work = http_load(job=job)
    outcomes = fetch_batch(work.targets, **work.options)

    before = database_now()
    http_record_batch(job=job, worker_id="here", work=work, outcomes=outcomes, isolate=True)
    after = database_now()

    times = list(HttpResult.objects.filter(campaign=http_phase).values_list("checked_at", flat=True))
    assert len(times) == len(world.resolved) > 1
    assert all(before <= time <= after for time in times), (before, times, after)
