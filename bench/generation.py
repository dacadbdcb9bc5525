"""1,000,000 domains end to end, beside `psql \\copy` and Django bulk_create of the same rows.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/domainflow .venv/bin/python bench/generation.py [COUNT]
All three write into tables identical to campaigns_generateddomain (same
columns, indexes, unique constraints and foreign key), in one run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

import _django  # noqa: F401  (sets Django up)
from django.contrib.auth import get_user_model
from django.db import connection

from campaigns.models import Campaign, DomainGenerationConfigState, GeneratedDomain
from campaigns.services.campaigns import campaign_create
from campaigns.services.engine import campaigns_activate
from campaigns.services.jobs import jobs_claim
from campaigns.workers import run_job

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
PARAMS = {"pattern": "prefix", "prefix_length": 6, "charset": "abcdefghijklmnopqrstuvwxyz", "constant": "bench", "tlds": ["com"]}


def end_to_end(owner) -> tuple[float, Campaign]:
    started = time.perf_counter()
    campaign = campaign_create(
        actor=owner, name="bench", campaign_type="domain_generation",
        params={**PARAMS, "count": COUNT, "batch_size": 50_000}, start=True,
    ).campaign
    campaigns_activate(worker_id="bench")
    while jobs := jobs_claim(worker_id="bench"):
        run_job(jobs[0], worker_id="bench")
    elapsed = time.perf_counter() - started
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert campaign.status == "completed" and campaign.processed_items == COUNT, campaign.status
    return elapsed, campaign


def psql_copy(campaign: Campaign) -> float:
    table = GeneratedDomain._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy_target")
        cursor.execute(f"CREATE TABLE bench_copy_target (LIKE {table} INCLUDING ALL)")
        cursor.execute(
            "ALTER TABLE bench_copy_target ADD FOREIGN KEY (campaign_id) REFERENCES campaigns_campaign (id) DEFERRABLE INITIALLY DEFERRED"
        )
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as data:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT campaign_id, offset_index, domain_name FROM {table} WHERE campaign_id = %s", [campaign.pk])
            for campaign_id, offset, name in cursor.fetchall():
                data.write(f"{campaign_id}\t{offset}\t{name}\n")
    psql = shutil.which("psql") or "psql"
    db = connection.settings_dict
    env = dict(os.environ, PGHOST=db["HOST"] or "localhost", PGPORT=str(db["PORT"] or 5432), PGUSER=db["USER"], PGDATABASE=db["NAME"])
    started = time.perf_counter()
    subprocess.run(
        [psql, "-q", "-v", "ON_ERROR_STOP=1", "-c", f"\\copy bench_copy_target (campaign_id, offset_index, domain_name) from '{data.name}'"],
        env=env, check=True,
    )
    elapsed = time.perf_counter() - started
    os.unlink(data.name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_copy_target")
        assert cursor.fetchone()[0] == COUNT
        cursor.execute("DROP TABLE bench_copy_target")
    return elapsed


def bulk_create(owner, campaign: Campaign) -> float:
    target = Campaign.objects.create(name="bench bulk_create", campaign_type="domain_generation", owner=owner)
    rows = list(GeneratedDomain.objects.filter(campaign=campaign).values_list("offset_index", "domain_name"))
    started = time.perf_counter()
    for i in range(0, len(rows), 10_000):
        GeneratedDomain.objects.bulk_create(
            [GeneratedDomain(campaign=target, offset_index=o, domain_name=n) for o, n in rows[i : i + 10_000]]
        )
    elapsed = time.perf_counter() - started
    assert GeneratedDomain.objects.filter(campaign=target).count() == COUNT
    target.delete()
    return elapsed


def main() -> None:
    owner, _ = get_user_model().objects.get_or_create(username="bench")
    DomainGenerationConfigState.objects.all().delete()
    ours, campaign = end_to_end(owner)
    copy = psql_copy(campaign)
    bulk = bulk_create(owner, campaign)
    Campaign.objects.filter(name__startswith="bench").delete()
    DomainGenerationConfigState.objects.all().delete()
    for name, seconds in (("domainflow end to end", ours), ("psql \\copy", copy), ("bulk_create", bulk)):
        print(f"{name:22s} {seconds:7.2f} s  {COUNT / seconds:>12,.0f} rows/s")
    print(f"ratio vs psql \\copy: {copy / ours:.2f}x of its rate (goal >= 0.5x)")
    print(f"ratio vs bulk_create: {bulk / ours:.2f}x its rate (goal >= 3x)")


if __name__ == "__main__":
    main()
