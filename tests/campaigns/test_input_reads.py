"""A job reads its input without reading the rest of its source campaign: an HTTP job one DNS
batch's resolved rows by position, a DNS job the generated names at its offsets. The cost of a
batch stays flat however many batches came before.

Measured, not timed: the statement is re-run under EXPLAIN ANALYZE, planned as the worker plans it,
and the rows its scans read (returned or filtered out) are counted. The tables are not analyzed,
as for rows a worker has just written, or were analyzed before the campaign's rows existed, and
the planner is kept off whole-table scans, as on tables of millions of rows.
"""
from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import DnsResult, GeneratedDomain
from campaigns.services.jobs import ClaimedJob
from campaigns.services.phases.inputs import read_in_index_order, source_names, source_resolved
from tests.console.live_data import arrange
from tests.factories import UserFactory
from tests.support.plans import rows_read as plan_rows_read

pytestmark = pytest.mark.django_db

BATCHES = 12
PER_BATCH = 200
STATUSES = ("resolved", "resolved", "resolved", "unresolved", "timeout")  # interleaved, as a batch writes them


@pytest.fixture
def dns_campaign():
    campaign = arrange(owner=UserFactory(), name="dns", status="completed")
    DnsResult.objects.bulk_create([
        DnsResult(campaign=campaign, domain_name=f"b{batch}-{i}.test", batch_number=batch,
                  status=STATUSES[i % len(STATUSES)], ips=["192.0.2.1"] if STATUSES[i % len(STATUSES)] == "resolved" else [])
        for batch in range(BATCHES) for i in range(PER_BATCH)
    ])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    return campaign


def job_over(campaign, batch: int, lo: int, hi: int) -> ClaimedJob:
    return ClaimedJob(id=1, campaign_id=uuid.uuid4(), campaign_type="http_keyword_validation", batch_number=0,
                      lease_token=uuid.uuid4(), attempts=1, max_attempts=5, source_campaign_id=campaign.id,
                      source_batch=batch, range_lo=lo, range_hi=hi)


def rows_read(sql: str, params, model=DnsResult) -> int:
    """The rows the statement's scans of model's table read, planned as the worker plans it."""
    [(plan,)] = read_in_index_order("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
    return plan_rows_read(plan[0]["Plan"], (model._meta.db_table,))


def test_an_http_job_gets_its_dns_batchs_resolved_rows_by_position(dns_campaign):
    resolved = list(DnsResult.objects.filter(campaign=dns_campaign, batch_number=7, status="resolved")
                    .order_by("id").values_list("domain_name", "ips"))
    got = source_resolved(job_over(dns_campaign, 7, 30, 90))
    assert [(name, list(ips)) for name, ips in got] == [(name, ips) for name, ips in resolved[30:90]]


def read_input(read, job: ClaimedJob, model) -> tuple[list, int]:
    """What read(job) returns, and how many rows of model's table its statement reads."""
    with CaptureQueriesContext(connection) as captured:
        rows = read(job)
    [query] = [q["sql"] for q in captured if model._meta.db_table in q["sql"]]
    return rows, rows_read(query, None, model)


def test_reading_an_http_jobs_input_does_not_read_the_campaigns_other_rows(dns_campaign):
    rows, read = read_input(source_resolved, job_over(dns_campaign, BATCHES - 1, 60, 120), DnsResult)
    assert len(rows) == 60
    # OFFSET skips the job's first 60 positions inside the batch; nothing outside the batch is read.
    assert read <= 120 + 1


def analyzed_before(campaign, model, make_other_rows) -> None:
    """Leave `model`'s statistics as gathered while the table held only another, small campaign's
    rows: the planner then expects a row or two for `campaign`, whose rows are written after."""
    kept = list(model.objects.filter(campaign=campaign).values())
    model.objects.all().delete()
    model.objects.bulk_create(make_other_rows(arrange(owner=UserFactory(), name="earlier", status="completed")))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {model._meta.db_table}")
    model.objects.bulk_create([model(**{k: v for k, v in row.items() if k != "id"}) for row in kept])


def test_the_resolved_rows_read_stays_in_its_batch_with_statistics_from_before_the_campaign(dns_campaign):
    analyzed_before(dns_campaign, DnsResult, lambda other: [
        DnsResult(campaign=other, domain_name=f"o{i}.test", batch_number=0, status="resolved", ips=["192.0.2.2"])
        for i in range(20)])
    rows, read = read_input(source_resolved, job_over(dns_campaign, BATCHES - 1, 60, 120), DnsResult)
    assert len(rows) == 60
    assert read <= 120 + 1


def test_the_names_read_stays_in_its_offsets_with_statistics_from_before_the_campaign():
    generation = arrange(owner=UserFactory(), name="names", campaign_type="domain_generation", status="completed")
    GeneratedDomain.objects.bulk_create([GeneratedDomain(campaign=generation, offset_index=i, domain_name=f"n{i:05d}.test")
                                         for i in range(2400)])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    analyzed_before(generation, GeneratedDomain, lambda other: [
        GeneratedDomain(campaign=other, offset_index=i, domain_name=f"o{i}.test") for i in range(20)])
    job = replace(job_over(generation, 0, 1000, 1200), campaign_type="dns_validation", source_batch=None)
    names, read = read_input(source_names, job, GeneratedDomain)
    assert names == [f"n{i:05d}.test" for i in range(1000, 1200)]
    assert read <= 200 + 1
