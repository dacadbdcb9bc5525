from __future__ import annotations

import json
import uuid

import pytest

from campaigns.models import AuditLog, Campaign, CampaignStateEvent
from campaigns.selectors import campaign_progress
from campaigns.services.transitions import campaign_transition
from tests.campaigns.commands.helpers import CLI_LABEL, create, run, run_failing, written_rows


def _reach(campaign: Campaign, *transitions: str) -> Campaign:
    for transition in transitions:
        campaign_transition(campaign_id=campaign.pk, transition=transition, actor=None, actor_label="setup")
    return Campaign.objects.get(pk=campaign.pk)


@pytest.mark.parametrize(
    ("command", "path", "status"),
    [
        ("start_campaign", (), "queued"),
        ("pause_campaign", ("start", "begin"), "paused"),
        ("resume_campaign", ("start", "begin", "pause"), "queued"),
        ("cancel_campaign", ("start", "begin"), "cancelled"),
    ],
)
def test_each_command_changes_the_status_and_records_who_ran_it(root, command, path, status):
    campaign = _reach(create(), *path)

    output = run(command, str(campaign.pk), "--reason", "by hand")

    campaign = Campaign.objects.get(pk=campaign.pk)
    transition = command.removesuffix("_campaign")
    assert campaign.status == status
    assert output.out == f"{campaign.pk} {status} (version {campaign.version})\n"
    event = campaign.state_events.order_by("sequence").last()
    assert (event.transition, event.to_status, event.actor, event.actor_label, event.reason) == (
        transition, status, None, CLI_LABEL, "by hand"
    )
    assert event.sequence == campaign.version == len(path) + 2
    audit = AuditLog.objects.get(action=f"campaign.{transition}", actor_label=CLI_LABEL)
    assert (audit.actor, audit.decision, audit.entity_id) == (None, "allowed", str(campaign.pk))


def test_as_acts_as_that_user(root, alice):
    campaign = create("--owner", "alice")

    run("start_campaign", str(campaign.pk), "--as", "alice")

    event = campaign.state_events.get(transition="start")
    assert (event.actor, event.actor_label) == (alice, "alice")


def test_as_a_user_without_access_is_refused_and_the_refusal_audited(root, alice):
    campaign = create()  # owned by root; alice is not staff

    error, _ = run_failing("start_campaign", str(campaign.pk), "--as", "alice")

    assert str(error) == f"You do not have access to campaign {campaign.pk}."
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert (campaign.status, campaign.version) == ("pending", 1)
    assert AuditLog.objects.filter(action="campaign.start", decision="denied", actor=alice).count() == 1


def test_as_an_unknown_user_is_refused(root):
    campaign = create()

    error, _ = run_failing("pause_campaign", str(campaign.pk), "--as", "mallory")

    assert str(error) == "--as: no active user named 'mallory'"


def test_a_stale_expected_version_is_refused_and_nothing_is_written(root):
    campaign = _reach(create(), "start")  # version 2
    before = written_rows()

    error, output = run_failing("pause_campaign", str(campaign.pk), "--expected-version", "1")

    assert str(error) == (
        f"Campaign {campaign.pk} was changed by someone else (you saw version 1, it is now version 2); "
        "reload and try again."
    )
    assert output.out == ""
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert (campaign.status, campaign.version) == ("queued", 2)
    assert written_rows() == before


def test_the_current_expected_version_is_accepted(root):
    campaign = _reach(create(), "start")

    run("pause_campaign", str(campaign.pk), "--expected-version", "2")

    assert Campaign.objects.get(pk=campaign.pk).status == "paused"


def test_a_forbidden_transition_is_refused_and_nothing_is_written(root):
    campaign = create()
    before = written_rows()

    error, _ = run_failing("resume_campaign", str(campaign.pk))

    assert str(error) == "Cannot resume a campaign that is pending."
    assert Campaign.objects.get(pk=campaign.pk).status == "pending"
    assert written_rows() == before


def test_an_unknown_campaign_is_refused(root):
    missing = uuid.uuid4()

    error, _ = run_failing("cancel_campaign", str(missing))

    assert str(error) == f"Campaign {missing} does not exist."


def test_an_id_that_is_not_a_uuid_is_refused_before_any_query(root):
    error, _ = run_failing("cancel_campaign", "42")

    assert str(error) == "Error: argument ID: '42' is not a campaign id (a UUID)"
    assert CampaignStateEvent.objects.count() == 0


def test_json_prints_the_progress_or_the_error(root):
    campaign = create()

    output = run("start_campaign", str(campaign.pk), "--json")
    error, failed = run_failing("start_campaign", str(campaign.pk), "--json")

    progress = campaign_progress(Campaign.objects.get(pk=campaign.pk)).as_dict()
    assert json.loads(output.out) == {**progress, "phases": [progress]}
    assert json.loads(failed.out) == {"error": "Cannot start a campaign that is queued."}
    assert str(error) == "Cannot start a campaign that is queued."
