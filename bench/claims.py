"""Claim + complete throughput of empty jobs with 1, 4 and 16 worker processes, and double claims.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/domainflow .venv/bin/python bench/claims.py [JOBS]
Each worker process claims up to 32 jobs per round trip and finishes them in
one transaction, every lease re-checked (job_succeed, as a batch's record does).
"""
from __future__ import annotations

import multiprocessing as mp
import sys
import time
from collections import Counter

import _django  # noqa: F401  (sets Django up)
from django.contrib.auth import get_user_model
from django.db import connection

from campaigns.models import Campaign, CampaignJob, CampaignStatus
from campaigns.services.jobs import ClaimedJob, job_succeed, jobs_claim
from txmetrics.decorators import safe_transaction

JOBS = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
CAMPAIGNS = 64
BATCH = 32


def setup(owner) -> None:
    Campaign.objects.filter(name__startswith="bench-claims").delete()
    campaigns = Campaign.objects.bulk_create(
        [Campaign(name=f"bench-claims-{i}", campaign_type="domain_generation", owner=owner) for i in range(CAMPAIGNS)]
    )
    # Straight to running with a raw update: the benchmark measures jobs, not transitions.
    Campaign.objects.filter(name__startswith="bench-claims").update(status=CampaignStatus.RUNNING)
    CampaignJob.objects.bulk_create(
        [CampaignJob(campaign=campaigns[i % CAMPAIGNS], batch_number=i // CAMPAIGNS) for i in range(JOBS)], batch_size=10_000
    )
    with connection.cursor() as cursor:  # as autovacuum would after a bulk load
        cursor.execute("ANALYZE campaigns_campaign, campaigns_campaignjob")


@safe_transaction(operation="bench.complete")
def complete(*, jobs: list[ClaimedJob]) -> int:
    for job in jobs:
        job_succeed(job, result_count=0, output=(None, None, 0))
    return len(jobs)


def worker(n: int, out: mp.Queue) -> None:
    connection.close()  # never share the parent's connection
    claimed: list[int] = []
    while jobs := jobs_claim(worker_id=f"bench-{n}", limit=BATCH):
        claimed.extend(job.id for job in jobs)
        assert complete(jobs=jobs) == len(jobs)
    connection.close()
    out.put(claimed)


def run(workers: int, owner) -> tuple[float, int, int]:
    setup(owner)
    connection.close()
    out: mp.Queue = mp.Queue()
    procs = [mp.get_context("fork").Process(target=worker, args=(n, out)) for n in range(workers)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    claimed = [job for _ in procs for job in out.get()]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    doubles = sum(c - 1 for c in Counter(claimed).values() if c > 1)
    done = CampaignJob.objects.filter(campaign__name__startswith="bench-claims", status="succeeded").count()
    assert done == JOBS and len(set(claimed)) == JOBS, (done, len(set(claimed)))
    return elapsed, doubles, len(claimed)


def main() -> None:
    owner, _ = get_user_model().objects.get_or_create(username="bench")
    for workers in (1, 4, 16):
        elapsed, doubles, claimed = run(workers, owner)
        print(f"{workers:2d} workers: {JOBS / elapsed:8,.0f} jobs/s  ({JOBS} jobs in {elapsed:.2f} s, double claims {doubles})")
    Campaign.objects.filter(name__startswith="bench-claims").delete()
    print("goal: >= 5,000 jobs/s with 4 workers; double claims must be 0")


if __name__ == "__main__":
    main()
