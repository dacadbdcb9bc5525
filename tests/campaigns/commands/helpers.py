"""Running commands from tests: captured output, rows a refusal must not write, workers."""
from __future__ import annotations

import getpass
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.core.management.base import CommandError

from campaigns.models import AuditLog, Campaign, CampaignJob, CampaignStateEvent, DomainGenerationParams
from campaigns.workers import Engine, LeaseKeeper, WorkerStats
from tests.servers.http_server import html

# The actor label of a command run without --as.
CLI_LABEL = f"cli:{getpass.getuser()}"
# The `world` fixture's names (conftest.py): the first and last resolve and serve these pages.
DOMAINS = ["acli.df.test", "bcli.df.test", "ccli.df.test"]
LEAD_BODY = html("A CLI shop", "<p>Buy a Widget, widgets galore.</p>")
FORMULA_TITLE = '=HYPERLINK("http://evil.test","click")'
FORMULA_BODY = html(FORMULA_TITLE, "<p>nothing to see</p>")


@dataclass
class Output:
    out: str
    err: str


def run(*args: str) -> Output:
    """Run a management command as a script would; CommandError propagates to the test."""
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return Output(out.getvalue(), err.getvalue())


def run_failing(*args: str) -> tuple[CommandError, Output]:
    """Run a command expected to fail; returns its CommandError and what it printed."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as info:
        call_command(*args, stdout=out, stderr=err)
    return info.value, Output(out.getvalue(), err.getvalue())


def written_rows() -> dict[str, int]:
    """What a refused command must not have written."""
    return {
        "campaigns": Campaign.objects.count(),
        "params": DomainGenerationParams.objects.count(),
        "events": CampaignStateEvent.objects.count(),
        "audit": AuditLog.objects.count(),
        "jobs": CampaignJob.objects.count(),
    }


GENERATION = (
    "--type", "domain_generation",
    "--pattern", "prefix", "--prefix-length", "2", "--charset", "abc", "--constant", "shop", "--tld", "com",
)


def create(*extra: str, name: str = "shops", count: int = 5) -> Campaign:
    """A generation campaign made through create_campaign; the printed id is how it is found."""
    output = run("create_campaign", "--name", name, *GENERATION, "--count", str(count), *extra)
    return Campaign.objects.get(pk=output.out.split()[0])


def run_workers() -> None:
    """`run_worker --burst`, giving the test process its signal handlers back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        run("run_worker", "--burst", "--idle-sleep", "0.05")
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@contextmanager
def background_worker():
    """A worker loop in a thread (run_worker's signal handlers need the main thread)."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        keeper = LeaseKeeper(lease_s=30)
        keeper.start()
        engine = Engine(worker_id="test-worker", lanes=2, keeper=keeper, outage=keeper._outage, stats=WorkerStats(),
                        stopping=stop, idle_sleep=0.05)
        try:
            engine.run()
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            keeper.stop()
            connection.close()

    thread = threading.Thread(target=loop, name="test-worker")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, errors
