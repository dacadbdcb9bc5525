"""What a person at a terminal sees: the commands run under a real pseudo-terminal."""
from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from typing import IO

import pytest

from campaigns.models import Campaign, GeneratedDomain
from tests.support.processes import MANAGE, start_worker, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")  # colours and cursor moves
GENERATION = (
    "--type", "domain_generation", "--pattern", "prefix", "--prefix-length", "4",
    "--charset", "abcdefghij", "--constant", "shop", "--tld", "com",
)


def screen_text(raw: bytes) -> str:
    """The frames a terminal showed, one per line: escape codes dropped, carriage returns as new lines."""
    return ANSI.sub("", raw.decode("utf-8", "replace")).replace("\r\n", "\n").replace("\r", "\n")


def run_on_a_terminal(*args: str, timeout_s: float = 120, stdout: IO[bytes] | None = None,
                      **env_vars: str) -> tuple[int, str]:
    """Run manage.py with stderr, and stdout unless given, on a pseudo-terminal; its exit code and the
    screen text."""
    controller, terminal = pty.openpty()
    env = worker_env(TERM="xterm-256color", COLUMNS="160", LINES="40", **env_vars)
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, MANAGE, *args], stdin=subprocess.DEVNULL, stdout=terminal if stdout is None else stdout,
        stderr=terminal, env=env,
    )
    os.close(terminal)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    data = os.read(controller, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
        else:
            pytest.fail(f"{args[0]} did not finish within {timeout_s} s")
        return process.wait(timeout=30), screen_text(b"".join(chunks))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)


def test_create_and_wait_draws_a_progress_bar_that_reaches_the_end(root):
    worker = start_worker("--concurrency", "2")
    try:
        code, screen = run_on_a_terminal(
            "create_campaign", *GENERATION, "--name", "watched", "--count", "3000", "--batch-size", "100",
            "--start", "--wait", "--poll-interval", "0.1",
        )
    finally:
        worker.terminate()
        worker.communicate(timeout=30)
    assert code == 0, screen
    campaign = Campaign.objects.get(name="watched")
    assert campaign.status == "completed"
    assert GeneratedDomain.objects.filter(campaign=campaign).count() == 3000
    # The bar's last frame: status, 100%, processed/total; the id line follows once it ends.
    assert re.search(r"completed\s+\S*━+\S*\s+100%\s+3,000/3,000", screen), screen
    assert f"{campaign.pk} completed" in screen


def test_create_and_wait_draws_a_bar_for_each_phase_of_a_pipeline(world):
    worker = start_worker("--concurrency", "2", DOMAINFLOW_ALLOW_PRIVATE_TARGETS="1")
    try:
        code, screen = run_on_a_terminal(
            "create_campaign", "--type", "domain_generation", "--name", "chained", "--pattern", "prefix",
            "--prefix-length", "1", "--charset", "abc", "--constant", "cli", "--tld", "df.test", "--count", "3",
            "--chain-next", "--chain-dns-persona", "local", "--chain-http-persona", "browser",
            "--chain-port", str(world["http"].port), "--start", "--wait", "--poll-interval", "0.1",
        )
    finally:
        worker.terminate()
        worker.communicate(timeout=30)
    assert code == 0, screen
    # Each phase's last frame, the HTTP phase's total being the names DNS resolved; then a line per phase.
    for label, counts in (("Domain generation", "3/3"), ("DNS validation", "3/3"), ("HTTP keyword validation", "2/2")):
        assert re.search(rf"{label} completed\s+\S*━+\S*\s+100%\s+{counts}", screen), screen
    generation = Campaign.objects.get(name="chained")
    dns = Campaign.objects.get(source_campaign=generation)
    http = Campaign.objects.get(source_campaign=dns)
    lines = screen.splitlines()
    assert lines[-3:] == [f"{phase.pk} completed (version {phase.version})" for phase in (generation, dns, http)]


def test_create_and_wait_prints_no_bar_when_nobody_watches(root):
    worker = start_worker("--concurrency", "2")
    try:
        env = worker_env()
        done = subprocess.run(
            [sys.executable, MANAGE, "create_campaign", *GENERATION, "--name", "piped", "--count", "500",
             "--batch-size", "100", "--start", "--wait", "--poll-interval", "0.1"],
            env=env, capture_output=True, text=True, timeout=120,
        )
    finally:
        worker.terminate()
        worker.communicate(timeout=30)
    assert done.returncode == 0, done.stderr
    campaign = Campaign.objects.get(name="piped")
    assert done.stdout == f"{campaign.pk} completed (version {campaign.version})\n"
    assert "━" not in done.stderr and "%" not in done.stderr


def test_a_worker_on_a_terminal_shows_live_rates(root, tmp_path):
    code, screen = run_on_a_terminal(
        "create_campaign", *GENERATION, "--name", "queued", "--count", "2000", "--batch-size", "100", "--start"
    )
    assert code == 0, screen
    # stdout elsewhere, as with `run_worker > worker.out`: the line belongs on stderr's terminal.
    with open(tmp_path / "worker.out", "wb") as stdout:
        code, screen = run_on_a_terminal("run_worker", "--burst", "--concurrency", "2", stdout=stdout)
    assert code == 0, screen
    assert (tmp_path / "worker.out").read_bytes() == b""
    lines = [line for line in screen.splitlines() if " jobs " in line]
    assert lines, screen
    last = re.search(
        r"jobs (\d+) \(([\d.]+)/s\) · failed (\d+) · items (\d+) \(([\d.]+)/s over the last [\d.]+ s\)", lines[-1]
    )
    assert last is not None, lines[-1]
    jobs, jobs_rate, failed, items, items_rate = last.groups()
    assert (int(jobs), int(failed), int(items)) == (20, 0, 2000)
    assert float(jobs_rate) > 0 and float(items_rate) > 0
    assert "{" not in screen  # the JSON log lines are for logs, not for people
