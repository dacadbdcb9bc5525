"""One log line when the database becomes unreachable and one when it is back, per process."""
from __future__ import annotations

import logging
import threading
import time


class DatabaseUnavailable(Exception):
    """The database could not be reached; the work is given back once it can."""


class Outage:
    """Shared by every thread of a worker process, so an outage is one line, not one per thread per try."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._lock = threading.Lock()
        self._since: float | None = None

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            if self._since is None:
                self._since = time.monotonic()
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                self._logger.warning("database unavailable (%s); waiting for it", reason)

    def ok(self) -> None:
        if self._since is None:
            return
        with self._lock:
            if self._since is not None:
                self._logger.warning("database available again after %.1f s", time.monotonic() - self._since)
                self._since = None
