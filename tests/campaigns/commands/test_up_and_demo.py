from __future__ import annotations

import pytest
from django.core.management import call_command

from campaigns.models import Campaign, DnsPersona, HttpPersona, KeywordSet
from tests.factories import UserFactory


@pytest.mark.django_db
def test_demo_loads_personas_keywords_and_a_pending_chained_campaign_once():
    UserFactory(is_superuser=True, is_staff=True)
    call_command("load_demo", verbosity=0)
    call_command("load_demo", verbosity=0)

    campaign = Campaign.objects.get()
    assert (campaign.status, campaign.campaign_type, campaign.chain_next) == ("pending", "domain_generation", True)
    assert set(campaign.chain_params) == {"dns_validation", "http_keyword_validation"}
    assert DnsPersona.objects.count() == HttpPersona.objects.count() == 1
    assert KeywordSet.objects.get().rules.count() == 3


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_up_migrates_prints_an_admin_login_serves_the_console_and_runs_a_worker():
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from django.contrib.auth import get_user_model

    from tests.support.processes import MANAGE, worker_env

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, MANAGE, "up", "--addr", f"127.0.0.1:{port}"],
        env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2) as response:
                    status = response.status
            except OSError:
                time.sleep(0.3)
        assert status == 200
        # The console's scripts and the admin's styles are served too (DEBUG is off).
        for asset in ("console/progress.js", "vendor/chart.umd.min.js", "admin/css/base.css"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/{asset}", timeout=5) as response:
                assert response.status == 200 and len(response.read()) > 100, asset
        # The worker started by `up` picks up a started campaign. Its chained DNS phase
        # must stay on this machine: point the demo persona at a closed local port.
        DnsPersona.objects.filter(name="demo-public-resolvers").update(resolvers=["127.0.0.1:9"], timeout_s=0.2, retries=0)
        admin = get_user_model().objects.get(username="admin")
        demo = Campaign.objects.get(name__startswith="Demo")
        from campaigns.services.transitions import campaign_transition

        campaign_transition(campaign_id=demo.pk, transition="start", actor=admin)
        while time.monotonic() < deadline and Campaign.objects.get(pk=demo.pk).status != "completed":
            time.sleep(0.2)
        assert Campaign.objects.get(pk=demo.pk).processed_items == 500
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    line = next(line for line in out.splitlines() if line.startswith("Admin login: admin / "))
    password = line.split(" / ")[1].split()[0]
    assert get_user_model().objects.get(username="admin").check_password(password)
