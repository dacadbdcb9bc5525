from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from campaigns.models import Campaign, CampaignStateEvent
from campaigns.selectors import campaign_progress
from tests.campaigns.commands.helpers import CLI_LABEL, create, run, run_failing


def test_json_is_the_campaign_progress_and_its_pipeline(root):
    campaign = create("--start")

    output = run("campaign_status", str(campaign.pk), "--json")

    progress = campaign_progress(Campaign.objects.get(pk=campaign.pk)).as_dict()
    assert json.loads(output.out) == {**progress, "pipeline": {"id": str(campaign.pk), "phases": [progress]}}
    assert output.out.count("\n") == 1


def test_text_shows_progress_history_and_jobs_by_status(root):
    campaign = create("--start", "--batch-size", "2", name="corner shops")
    run("pause_campaign", str(campaign.pk), "--reason", "lunch")

    lines = run("campaign_status", str(campaign.pk)).out.splitlines()

    started = Campaign.objects.get(pk=campaign.pk).started_at
    assert lines[0] == f"Campaign {campaign.pk}  corner shops"
    assert lines[1:7] == [
        "  type      Domain generation",
        "  status    Paused (version 3)",
        "  progress  0/5 (0.0%)  successful 0  failed 0",
        "  rate      —  eta —  active 0:00:00",
        f"  started   {started:%Y-%m-%d %H:%M:%S} UTC  finished —",  # times carry their zone
        "",
    ]
    at = [f"{event.created_at:%Y-%m-%d %H:%M:%S} UTC" for event in campaign.state_events.order_by("sequence")]
    assert lines[lines.index("History:") + 1 : lines.index("History:") + 4] == [
        f"  #1   {at[0]}  — -> Pending  (Created) by root",
        f"  #2   {at[1]}  Pending -> Queued  (Started) by root",
        f"  #3   {at[2]}  Queued -> Paused  (Paused) by {CLI_LABEL}: lunch",
    ]
    assert lines[-1] == "Jobs: Queued 1  Running 0  Succeeded 0  Failed 0  Cancelled 0"  # one generation batch at a time


def test_text_speaks_the_consoles_words_separators_durations_and_time_zones(root, settings):
    settings.TIME_ZONE = "Europe/Paris"
    campaign = create()
    began, ended = datetime(2026, 12, 2, 8, 0, 0, tzinfo=UTC), datetime(2026, 12, 2, 8, 30, 35, tzinfo=UTC)
    Campaign.objects.filter(pk=campaign.pk).update(
        status="completed", version=4, total_items=20_000, processed_items=20_000, successful_items=0,
        failed_items=20_000, started_at=began, finished_at=ended,
    )
    for sequence, (from_status, to_status, transition, at) in enumerate(
        [("pending", "running", "begin", began), ("running", "completed", "complete", ended)], start=2
    ):
        event = CampaignStateEvent.objects.create(
            campaign=campaign, sequence=sequence, from_status=from_status, to_status=to_status, transition=transition,
            actor_label="worker-1", campaign_version=sequence,
        )
        CampaignStateEvent.objects.filter(pk=event.pk).update(created_at=at)

    lines = run("campaign_status", str(campaign.pk)).out.splitlines()

    assert lines[1:6] == [
        "  type      Domain generation",
        "  status    Completed with errors (version 4)",  # the console's derived state: errors and no success
        "  progress  20,000/20,000 (100.0%)  successful 0  failed 20,000",
        "  rate      10.9/s  eta —  active 0:30:35",  # running time only, h:mm:ss
        "  started   2026-12-02 09:00:00 CET  finished 2026-12-02 09:30:35 CET",
    ]
    assert lines[lines.index("History:") + 2 : lines.index("History:") + 4] == [
        "  #2   2026-12-02 09:00:00 CET  Pending -> Running  (Began running) by worker-1",
        "  #3   2026-12-02 09:30:35 CET  Running -> Completed  (Completed) by worker-1",
    ]
    assert f"  * {campaign.pk}  Domain generation  Completed with errors  20,000/20,000  successful 0  failed 20,000" in lines
    assert json.loads(run("campaign_status", str(campaign.pk), "--json").out)["status"] == "completed"  # JSON: stored values


def test_an_unknown_campaign_is_one_line(root):
    missing = uuid.uuid4()

    error, output = run_failing("campaign_status", str(missing), "--json")

    assert str(error) == f"Campaign {missing} does not exist."
    assert json.loads(output.out) == {"error": f"Campaign {missing} does not exist."}


def test_a_user_sees_only_their_own_campaigns(root, alice):
    campaign = create()

    error, _ = run_failing("campaign_status", str(campaign.pk), "--as", "alice")

    assert str(error) == f"Campaign {campaign.pk} does not exist."
