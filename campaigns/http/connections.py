"""Keep-alive connections, kept for the next request to the same place, across batches.

A connection is reused only for a request that would have opened the very same one: same scheme,
address, port, TLS server name and TLS settings, same proxy. Idle connections are few and short
lived: at most `max_idle` in all (the oldest goes first), or one for each fetcher the batches
running on the loop started, when there are more of those, and none older than IDLE_KEEPALIVE_S.

A worker keeps one pool on its event loop for all its batches, so a batch starts on connections
the previous ones left open instead of connecting again; `fetch_many` without a pool opens one for
itself and closes it when it returns.
"""
from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque

from campaigns.http.wire import Conn, Outbox

IDLE_KEEPALIVE_S = 15.0
DEFAULT_MAX_IDLE = 256
RECEIVE_AREA_BYTES = 64 * 1024

# (scheme, address, port, TLS server name or None, TLS settings or None, proxy URL or None)
Key = tuple


class ConnectionPool:
    """The connections of one event loop: every one it opened, and the idle ones by key."""

    def __init__(self, *, max_idle: int = DEFAULT_MAX_IDLE) -> None:
        if max_idle < 0:
            raise ValueError(f"max_idle must be >= 0, got {max_idle}")
        self.loop = asyncio.get_running_loop()
        self.max_idle = max_idle
        # Reads land in one area shared by all connections of the loop, and writes leave together
        # (see wire.Conn).
        self.receive_area = memoryview(bytearray(RECEIVE_AREA_BYTES))
        self.outbox = Outbox(self.loop)
        self.idle: dict[Key, deque[Conn]] = {}
        self.idle_order: OrderedDict[Conn, Key] = OrderedDict()
        self.all_conns: set[Conn] = set()
        # The fetchers of the batches running on the loop (batch.fetch_many counts its own). While
        # there are more of them than max_idle, each may keep one idle connection: their requests
        # want every one of them again, and closing those above max_idle made a worker reconnect to
        # one server about 900 times a second (docs/DECISIONS.md, "Keep-alive connections outlive
        # a batch").
        self.fetchers = 0

    def new(self, high_water: int) -> Conn:
        """A connection not yet connected (connect it with loop.create_connection)."""
        conn = Conn(self.loop, high_water, self.receive_area, self.outbox)
        self.all_conns.add(conn)
        conn.lost.add_done_callback(lambda _f: self.all_conns.discard(conn))
        return conn

    def forget(self, conn: Conn) -> None:
        """A connection whose connect did not complete: it has no transport, or one its loop closed."""
        self.all_conns.discard(conn)

    def checkout(self, key: Key, high_water: int) -> Conn | None:
        """An idle connection for `key` that is still open and fresh, else None."""
        queue = self.idle.get(key)
        now = time.monotonic()
        while queue:
            conn = queue.pop()
            del self.idle_order[conn]
            if not queue:
                del self.idle[key]
            if not conn.eof and not conn.buf and now - conn.idle_since < IDLE_KEEPALIVE_S:
                conn.high_water = high_water
                return conn
            conn.abort()
        return None

    def checkin(self, key: Key, conn: Conn) -> None:
        """Keep a connection whose response was read whole for the next request to `key`."""
        if conn.eof or self.max_idle == 0:
            conn.abort()
            return
        # A loop: the limit falls when a batch ends, and the idle connections above it go at once.
        while len(self.idle_order) >= max(self.max_idle, self.fetchers):
            oldest, oldest_key = self.idle_order.popitem(last=False)
            queue = self.idle[oldest_key]
            queue.remove(oldest)
            if not queue:
                del self.idle[oldest_key]
            oldest.abort()
        conn.idle_since = time.monotonic()
        self.idle.setdefault(key, deque()).append(conn)
        self.idle_order[conn] = key

    async def aclose(self) -> None:
        """Close every connection of the pool, idle or not, and wait until their transports are gone."""
        for conn in list(self.all_conns):
            conn.abort()
        pending = [conn.lost for conn in self.all_conns if conn.transport is not None and not conn.lost.done()]
        if pending:  # let every transport finish closing before the loop goes away (no ResourceWarning)
            await asyncio.wait(pending, timeout=5)
        self.idle.clear()
        self.idle_order.clear()
