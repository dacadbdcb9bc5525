from __future__ import annotations

import json
import uuid

from campaigns.models import Campaign
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

    assert lines[0] == f"Campaign {campaign.pk}  corner shops"
    assert lines[1:4] == [
        "  type      domain_generation",
        "  status    paused (version 3)",
        "  progress  0/5 (0.0%)  successful 0  failed 0",
    ]
    at = [f"{event.created_at:%Y-%m-%d %H:%M:%S}" for event in campaign.state_events.order_by("sequence")]
    assert lines[lines.index("History:") + 1 : lines.index("History:") + 4] == [
        f"  #1   {at[0]}  - -> pending  (create) by root",
        f"  #2   {at[1]}  pending -> queued  (start) by root",
        f"  #3   {at[2]}  queued -> paused  (pause) by {CLI_LABEL}: lunch",
    ]
    assert lines[-1] == "Jobs: queued 1  running 0  succeeded 0  failed 0  cancelled 0"  # one generation batch at a time


def test_an_unknown_campaign_is_one_line(root):
    missing = uuid.uuid4()

    error, output = run_failing("campaign_status", str(missing), "--json")

    assert str(error) == f"Campaign {missing} does not exist."
    assert json.loads(output.out) == {"error": f"Campaign {missing} does not exist."}


def test_a_user_sees_only_their_own_campaigns(root, alice):
    campaign = create()

    error, _ = run_failing("campaign_status", str(campaign.pk), "--as", "alice")

    assert str(error) == f"Campaign {campaign.pk} does not exist."
