"""Rate limits shared by every worker process: windows of time reserved one after another.

A reservation is one upsert on the key's row, in its own short transaction,
made while a batch resolves (no transaction of the batch is open then). The
delay comes from the database's clock alone, so hosts whose clocks differ
still share one timeline.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from django.db import connection

from campaigns.models import RateLimitWindow
from txmetrics.decorators import safe_transaction

WINDOW = RateLimitWindow._meta.db_table

_RESERVE_SQL = f"""
INSERT INTO {WINDOW} (key, next_free)
VALUES (%(key)s, clock_timestamp() + make_interval(secs => %(span)s))
ON CONFLICT (key) DO UPDATE
    SET next_free = greatest({WINDOW}.next_free, clock_timestamp()) + make_interval(secs => %(span)s)
RETURNING extract(epoch FROM next_free - clock_timestamp()) - %(span)s
"""


@safe_transaction(operation="rate.reserve", timeout_s=5)
def rate_reserve(*, key: str, count: int, rate: float) -> float:
    """Reserve `count` events at `rate` per second under `key`; seconds from now until the window starts."""
    if count < 1 or not rate > 0:
        raise ValueError("rate_reserve needs count >= 1 and a positive rate")
    with connection.cursor() as cursor:
        cursor.execute(_RESERVE_SQL, {"key": key, "span": count / rate})
        (delay,) = cursor.fetchone()
    return max(0.0, float(delay))


class SharedRateLimits:
    """The dns.RateReserver of a worker: reservations from one thread with its own connection.

    The resolver's event loop must not block on the database, and Django's
    connections belong to threads, so every reservation of one batch runs on
    this object's single thread; close() closes that thread's connection.
    """

    def __init__(self) -> None:
        # The thread starts with the first reservation: personas without a limit never start it.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rate-limits")
        self._used = False

    async def __call__(self, key: str, count: int, rate: float) -> float:
        self._used = True
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: rate_reserve(key=key, count=count, rate=rate))

    def close(self) -> None:
        if self._used:
            self._executor.submit(lambda: connection.close()).result()  # that thread's connection, not ours
        self._executor.shutdown()

    def __enter__(self) -> SharedRateLimits:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
