"""`manage.py up`: the console under gunicorn, a worker, and the offline demo pipeline, as real processes."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from campaigns.demo import sites
from campaigns.demo.setup import PIPELINE_NAME
from campaigns.models import Campaign, HttpResult
from tests.support.processes import MANAGE, worker_env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_up(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, MANAGE, "up", *args], env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_page(url: str, deadline: float) -> int | None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except OSError:
            time.sleep(0.3)
    return None


def phases_done(deadline: float) -> list[Campaign]:
    while time.monotonic() < deadline:
        phases = list(Campaign.objects.filter(name__startswith=PIPELINE_NAME).order_by("created_at"))
        if len(phases) == 3 and all(p.status == "completed" for p in phases):
            return phases
        time.sleep(0.3)
    return list(Campaign.objects.filter(name__startswith=PIPELINE_NAME).order_by("created_at"))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_up_serves_the_console_and_runs_the_offline_demo_pipeline_to_real_matches():
    port, dns_port, web_port = free_port(), free_port(), free_port()
    proc = start_up("--addr", f"127.0.0.1:{port}", "--demo-dns-port", str(dns_port), "--demo-web-port", str(web_port),
                    "--web-workers", "2")
    try:
        deadline = time.monotonic() + 60
        assert wait_for_page(f"http://127.0.0.1:{port}/admin/login/", deadline) == 200
        # The console's scripts and the admin's styles come from whitenoise (DEBUG is off).
        for asset in ("console/progress.js", "vendor/chart.umd.min.js", "admin/css/base.css"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/{asset}", timeout=5) as response:
                assert response.status == 200 and len(response.read()) > 100, asset
        generation, dns, http = phases_done(deadline)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    kinds = sites.counts()
    names = len(sites.all_names())
    assert [(p.campaign_type, p.processed_items) for p in (generation, dns, http)] == [
        ("domain_generation", names), ("dns_validation", names), ("http_keyword_validation", names - kinds["unresolved"]),
    ]
    assert (dns.successful_items, dns.failed_items) == (names - kinds["unresolved"], kinds["unresolved"])
    assert (http.successful_items, http.failed_items) == (kinds["shop"] + kinds["blog"] + kinds["parked"], kinds["error"])
    leads = HttpResult.objects.filter(campaign=http, business_status="lead_valid")
    assert sorted(leads.values_list("domain_name", flat=True)) == sorted(n for n in sites.all_names() if sites.kind_of(n) == "shop")
    assert f"DEMO: pipeline {generation.pk} started: http://127.0.0.1:{port}/campaigns/{generation.pk}/" in out
    password = next(line for line in out.splitlines() if line.startswith("Admin login: admin / ")).split(" / ")[1].split()[0]
    assert get_user_model().objects.get(username="admin").check_password(password)
    # The worker shares the terminal with the web server's access log: plain lines, not a live one.
    reports = [line for line in err.splitlines() if " jobs " in line and " items " in line]
    assert " started: jobs 0 (0.0/s) · failed 0 · items 0 " in reports[0] and " stopped: " in reports[-1]
    # The demo servers stopped with `up`.
    for demo_port in (dns_port, web_port):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", demo_port)) != 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_up_refuses_a_taken_port_in_one_line():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = start_up("--addr", f"127.0.0.1:{port}", "--no-demo")
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert err.strip().splitlines() == [
        f"CommandError: --addr: cannot listen on 127.0.0.1:{port} (Address already in use);"
        " choose another with --addr HOST:PORT"
    ]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_up_refuses_a_taken_demo_port_in_one_line():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with connection.cursor() as cursor:  # committed: `up` is another process
            cursor.execute("ALTER TABLE campaigns_campaignjob SET (autovacuum_enabled = off)")
        try:
            proc = start_up("--addr", f"127.0.0.1:{free_port()}", "--demo-dns-port", "0", "--demo-web-port", str(taken))
            out, err = proc.communicate(timeout=60)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE campaigns_campaignjob RESET (autovacuum_enabled)")
    assert proc.returncode == 1
    # Its migrate runs the database's checks (campaigns/checks.py) and prints their warnings.
    assert "(campaigns.W002) autovacuum is disabled on 1 of DomainFlow's tables" in err
    assert err.strip().splitlines()[-1] == (
        f"CommandError: demo web server: cannot listen on 127.0.0.1:{taken} (Address already in use); free the port,"
        " choose another (--demo-dns-port, --demo-web-port) or use --no-demo"
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_up_stops_everything_and_fails_when_a_child_dies():
    port = free_port()
    proc = start_up("--addr", f"127.0.0.1:{port}", "--no-demo", "--web-workers", "1")
    try:
        assert wait_for_page(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 60) == 200
        children = psutil.Process(proc.pid).children()
        web = next(child for child in children if "gunicorn" in " ".join(child.cmdline()))
        worker = next(child for child in children if "run_worker" in child.cmdline())
        web.kill()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1
    assert err.strip().splitlines()[-1] == (
        f"CommandError: The web server (gunicorn) exited with status -{signal.SIGKILL.value}; stopped everything."
    )
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
