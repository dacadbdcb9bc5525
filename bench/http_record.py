"""Benchmark: an HTTP batch's result rows written as prebuilt COPY text, against psycopg's write_row.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/domainflow .venv/bin/python bench/http_record.py [--rows 500] [--rounds 30]

Times building a batch's rows and COPYing them into campaigns_httpresult, for --rows synthetic
outcomes shaped like a typical page (about 900 characters of text: a 300-character snippet, a
title, 1-2 keyword hits of 1-3 contexts each, one or two addresses):

- tuples: `_rows` + `copy_rows` (a tuple and a Jsonb per row, psycopg's write_row): the isolated
  path's write, and the batch path before it was built as text;
- lines: `_lines` + `copy_chunks` (COPY text built in one pass, sent in chunks): the batch path.

Each path is measured with and without a single-column index on campaign_id (the one Django gives
a ForeignKey, dropped by migration 0009: every other index of the table leads with campaign_id).
Every measurement runs in its own transaction, rolled back, for a random campaign id (the foreign
key is checked at commit, which never comes, so the deferred check is not timed); the index is
created or dropped inside that transaction. Wall time is the worker's database call; client CPU
(this thread's CPU time, the kernel's sending included) bounds the time it holds the interpreter
lock against the network's event loop.
The four variants alternate in every round; the best round of each is compared, since on a shared
machine the best round is the least disturbed one.
"""
from __future__ import annotations

import argparse
import hashlib
import random
import time
import uuid
from dataclasses import replace

import _django  # noqa: F401  (sets Django up)
from django.db import connection, transaction

from campaigns.http import FetchTarget, HttpOutcome
from campaigns.keywords import KeywordHit
from campaigns.services.jobs import ClaimedJob
from campaigns.services.phases.http import COLUMNS, TABLE, HttpWork, _lines, _rows
from campaigns.services.phases.rows import copy_chunks, copy_rows

TARGET_RATIO = 0.5  # lines' client CPU per row, at most this fraction of tuples'
WORDS = ("widget gadget shop order today free shipping quality service contact about home news products "
         "prices delivery support account login cart best deals new arrivals").split()
INDEX = "bench_http_record_campaign_idx"


def words(rng: random.Random, chars: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(chars // 4))[:chars]


def batch(rows: int) -> tuple[ClaimedJob, HttpWork, list[HttpOutcome]]:
    rng = random.Random(1)
    targets, outcomes = [], []
    for i in range(rows):
        domain = f"shop{i:05d}-{rng.choice(WORDS)}.com"
        ips = tuple(f"93.184.{rng.randrange(256)}.{rng.randrange(256)}" for _ in range(rng.choice((1, 1, 2))))
        hits = tuple(
            KeywordHit(keyword_set="products", keyword=keyword, kind="string", count=rng.randrange(1, 6),
                       contexts=tuple(words(rng, 85) for _ in range(rng.randrange(1, 4))))
            for keyword in rng.sample(("widget", "gadget", "shipping"), rng.choice((1, 2)))
        )
        targets.append(FetchTarget(domain, ips))
        outcomes.append(HttpOutcome(
            domain=domain, status="success", business_status="lead_valid", status_code=200,
            final_url=f"https://{domain}/", redirect_count=rng.choice((0, 1)), title=words(rng, 50).title(),
            server="nginx/1.24.0", content_length=rng.randrange(2000, 90000),
            body_sha256=hashlib.sha256(domain.encode()).hexdigest(), snippet=words(rng, 300), keyword_hits=hits,
            persona="default-chrome", proxy="", attempts=1, response_time_ms=rng.randrange(30, 900), error="",
        ))
    job = ClaimedJob(id=0, campaign_id=uuid.uuid4(), campaign_type="http_keyword_validation", batch_number=7,
                     lease_token=uuid.uuid4(), attempts=1, max_attempts=3)
    return job, HttpWork(targets=targets, options={}, proxies=None), outcomes


def campaign_indexes() -> list[str]:
    """The table's single-column indexes on campaign_id."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
            "WHERE i.indrelid = %s::regclass AND i.indnatts = 1 AND a.attname = 'campaign_id'", [TABLE])
        return [name for (name,) in cursor.fetchall()]


def write(path: str, with_index: bool, job: ClaimedJob, work: HttpWork, outcomes: list[HttpOutcome]) -> tuple[float, float]:
    """Seconds of wall and of this thread's CPU to build and COPY the batch, in a rolled-back transaction."""
    with transaction.atomic():
        existing = campaign_indexes()
        with connection.cursor() as cursor:
            if with_index and not existing:
                cursor.execute(f"CREATE INDEX {INDEX} ON {TABLE} (campaign_id)")
            for name in existing if not with_index else ():
                cursor.execute(f"DROP INDEX {name}")
        job = replace(job, campaign_id=uuid.uuid4())
        wall, cpu = time.perf_counter(), time.thread_time()
        if path == "lines":
            copy_chunks(TABLE, COLUMNS, _lines(job, work, outcomes))
        else:
            copy_rows(TABLE, COLUMNS, _rows(job, work, outcomes))
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        transaction.set_rollback(True)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    job, work, outcomes = batch(args.rows)
    variants = [(path, with_index) for path in ("tuples", "lines") for with_index in (True, False)]
    timings: dict[tuple[str, bool], list[tuple[float, float]]] = {variant: [] for variant in variants}
    for variant in variants:  # warm up
        write(*variant, job, work, outcomes)
    for round_number in range(args.rounds):
        for variant in variants[round_number % 4:] + variants[:round_number % 4]:
            timings[variant].append(write(*variant, job, work, outcomes))
    per_row = 1e6 / args.rows
    best = {variant: (min(w for w, _ in values) * per_row, min(c for _, c in values) * per_row)
            for variant, values in timings.items()}
    print(f"{args.rows} rows, best of {args.rounds} rounds, µs per row")
    for (path, with_index), (wall, cpu) in best.items():
        index = "with" if with_index else "without"
        print(f"  {path:6s} {index:7s} campaign_id index   wall {wall:6.2f}   client CPU {cpu:6.2f}")
    for with_index in (True, False):
        cpu_ratio = best["lines", with_index][1] / best["tuples", with_index][1]
        wall_ratio = best["lines", with_index][0] / best["tuples", with_index][0]
        index = "with" if with_index else "without"
        print(f"ratio lines / tuples ({index} the index): client CPU {cpu_ratio:.2f}x, wall {wall_ratio:.2f}x "
              f"(goal CPU <= {TARGET_RATIO}x)")
    for path in ("tuples", "lines"):
        print(f"{path}: the campaign_id index costs {best[path, True][0] - best[path, False][0]:+.2f} µs/row of wall")


if __name__ == "__main__":
    main()
