"""Running test code in real threads, each with its own database connection."""
from __future__ import annotations

import threading
from typing import Callable

from django.db import connection


def run_in_threads(targets: list[Callable[[], object]], *, timeout_s: float = 240) -> None:
    """Start every target in its own thread, wait for all, and re-raise the first error."""
    errors: list[BaseException] = []

    def run(target: Callable[[], object]) -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout_s)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish in time"
    if errors:
        raise errors[0]
