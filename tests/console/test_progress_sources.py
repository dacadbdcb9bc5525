"""One rate and ETA for every reader (console, progress.json, --json), and progress.json reads a bounded page."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.console_queries import PROGRESS_MAX_IDS, progress_of
from campaigns.live import live_progress, live_queryset
from campaigns.models import Campaign
from campaigns.selectors import campaign_progress
from tests.console.live_data import arrange

pytestmark = pytest.mark.django_db


@pytest.fixture
def resumed(operator):
    """Ran 10 s, paused 135 s, running again for 5 s: 150 items over 15 s of work, 150 s since it started."""
    return arrange(
        owner=operator, name="resumed", campaign_type="domain_generation", status="running", total=1150,
        processed=150, successful=150, events=[("running", 150), ("paused", 140), ("running", 5)], jobs={"running": 1},
    )


def test_the_console_progress_json_and_the_command_line_agree_on_rate_and_eta(operator, resumed, client_for, monkeypatch):
    # One instant for every reader: the clock moving between requests would move a running campaign's rate.
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)
    live = live_progress(live_queryset(Campaign.objects.filter(pk=resumed.pk)))[str(resumed.pk)]
    selected = campaign_progress(resumed)
    client = client_for(operator)
    (listed,) = client.get(reverse("campaigns:progress_json"), {"ids": str(resumed.pk)}).json()["campaigns"]
    single = client.get(reverse("campaigns:campaign_progress_json", args=[resumed.pk])).json()
    out = StringIO()
    call_command("campaign_status", str(resumed.pk), "--json", "--as", operator.username, stdout=out)
    command = json.loads(out.getvalue())

    # Over active time: 10 items/s, 1,000 left; wall time would say 1/s and 1,000 s.
    assert (live.rate_per_s, live.eta_s) == (10.0, 100)
    for shown in (selected.as_dict(), listed, single, command, command["pipeline"]["phases"][0]):
        assert (shown["rate_per_s"], shown["eta_s"]) == (live.rate_per_s, live.eta_s)


def test_a_campaign_waiting_for_a_worker_has_no_eta_anywhere(operator, client_for):
    waiting = arrange(owner=operator, campaign_type="domain_generation", status="running", total=100, processed=10,
                      successful=10, events=[("running", 10)], jobs={"queued": 1})
    live = live_progress(live_queryset(Campaign.objects.filter(pk=waiting.pk)))[str(waiting.pk)]
    assert live.state == "waiting_for_worker" and live.eta_s is None
    assert campaign_progress(waiting).eta_s is None
    assert client_for(operator).get(reverse("campaigns:campaign_progress_json", args=[waiting.pk])).json()["eta_s"] is None


def test_a_finished_campaign_keeps_the_rate_of_its_short_work(operator):
    done = arrange(owner=operator, campaign_type="domain_generation", status="completed", total=9, processed=9,
                   successful=9, events=[("running", 10.5), ("completed", 10)])
    live = live_progress(live_queryset(Campaign.objects.filter(pk=done.pk)))[str(done.pk)]
    assert live.rate_per_s == campaign_progress(done).rate_per_s == 18.0  # 9 items over half a second of work


def test_progress_without_ids_reads_the_newest_page_and_says_more_exist(operator, django_assert_max_num_queries):
    for n in range(7):
        arrange(owner=operator, name=f"c{n}", campaign_type="domain_generation", status="pending")

    with django_assert_max_num_queries(3), CaptureQueriesContext(connection) as queries:
        shown, more = progress_of(actor=operator, limit=5)

    assert [p.name for p in shown] == ["c6", "c5", "c4", "c3", "c2"] and more is True
    assert "LIMIT 6" in queries.captured_queries[0]["sql"]  # one more than shown: whether others exist
    assert progress_of(actor=operator, limit=7) == (progress_of(actor=operator, limit=7)[0], False)


def test_progress_json_lists_at_most_its_page_of_campaigns(operator, client_for):
    Campaign.objects.bulk_create(
        [Campaign(name=f"bulk {n}", campaign_type="domain_generation", owner=operator) for n in range(PROGRESS_MAX_IDS + 1)]
    )
    data = client_for(operator).get(reverse("campaigns:progress_json")).json()
    assert len(data["campaigns"]) == PROGRESS_MAX_IDS and data["more"] is True
    named = client_for(operator).get(reverse("campaigns:progress_json"), {"ids": data["campaigns"][0]["id"]}).json()
    assert len(named["campaigns"]) == 1 and named["more"] is False
