"""safe_transaction overhead: the same one-row update through it and through a bare atomic().

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/domainflow .venv/bin/python bench/tx_overhead.py [N]
The two paths are interleaved in one run, so both see the same machine state.
"""
from __future__ import annotations

import statistics
import sys
import time

import _django  # noqa: F401  (sets Django up)
from django.db import connection, transaction

from txmetrics import buffer
from txmetrics.decorators import safe_transaction
from txmetrics.models import TransactionMetric

N = int(sys.argv[1]) if len(sys.argv) > 1 else 3000


def bare() -> None:
    with transaction.atomic(durable=True):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE bench_tx_row SET value = value + 1 WHERE id = 1")


@safe_transaction(operation="bench.tx_overhead")
def safe() -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE bench_tx_row SET value = value + 1 WHERE id = 1")


def main() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_tx_row")
        cursor.execute("CREATE TABLE bench_tx_row (id int PRIMARY KEY, value bigint NOT NULL)")
        cursor.execute("INSERT INTO bench_tx_row VALUES (1, 0)")
    for _ in range(200):  # warm up both paths
        bare()
        safe()
    timings: dict[str, list[float]] = {"bare": [], "safe": []}
    for i in range(N):
        order = (("bare", bare), ("safe", safe)) if i % 2 else (("safe", safe), ("bare", bare))
        for name, fn in order:
            start = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - start)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_tx_row")
    buffer.flush()
    TransactionMetric.objects.filter(operation="bench.tx_overhead").delete()
    for name, values in timings.items():
        print(f"{name:5s} mean {statistics.mean(values) * 1e3:.3f} ms  median {statistics.median(values) * 1e3:.3f} ms  ({N} calls)")
    ratio_mean = statistics.mean(timings["safe"]) / statistics.mean(timings["bare"])
    ratio_median = statistics.median(timings["safe"]) / statistics.median(timings["bare"])
    print(f"ratio safe_transaction / atomic: mean {ratio_mean:.3f}x, median {ratio_median:.3f}x (goal <= 1.15x)")


if __name__ == "__main__":
    main()
