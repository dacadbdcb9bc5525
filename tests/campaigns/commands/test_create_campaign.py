from __future__ import annotations

import json
import threading
import time
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from campaigns.models import AuditLog, Campaign, CampaignJob, CampaignStateEvent, DnsPersona
from campaigns.selectors import campaign_progress
from campaigns.services.transitions import campaign_transition
from tests.campaigns.commands.helpers import GENERATION, background_worker, create, run, run_failing, written_rows

NOTHING = {"campaigns": 0, "params": 0, "events": 0, "audit": 0, "jobs": 0}


def test_create_writes_the_campaign_its_params_creation_event_and_audit_row(root):
    output = run("create_campaign", "--name", "shops", *GENERATION, "--tld", "net", "--count", "5")

    campaign = Campaign.objects.get()
    assert output.out == f"{campaign.pk} pending (version 1)\n"
    assert output.err == ""
    assert (campaign.name, campaign.campaign_type, campaign.status, campaign.version) == (
        "shops", "domain_generation", "pending", 1
    )
    assert campaign.owner == root
    params = campaign.generation_params
    assert (params.pattern, params.prefix_length, params.charset, params.constant, params.tlds, params.count) == (
        "prefix", 2, "abc", "shop", [".com", ".net"], 5
    )
    event = CampaignStateEvent.objects.get()
    assert (event.sequence, event.to_status, event.transition, event.actor, event.actor_label) == (
        1, "pending", "create", root, "root"
    )
    assert list(AuditLog.objects.values_list("action", "actor__username", "decision")) == [
        ("campaign.create", "root", "allowed")
    ]


def test_tlds_may_be_repeated_and_comma_separated(root):
    campaign = create("--tld", "NET, org", "--tld", ".io")

    assert campaign.generation_params.tlds == [".com", ".net", ".org", ".io"]


def test_json_prints_the_campaign_progress_and_its_warnings(root):
    output = run("create_campaign", "--name", "shops", *GENERATION, "--count", "5", "--start", "--json")

    campaign = Campaign.objects.get()
    progress = campaign_progress(campaign).as_dict()
    assert json.loads(output.out) == {**progress, "warnings": [], "phases": [progress]}
    assert output.out.count("\n") == 1
    assert json.loads(output.out)["status"] == "queued"


def test_start_queues_the_campaign_with_its_jobs(root):
    campaign = create("--start", "--batch-size", "2")

    assert (campaign.status, campaign.version, campaign.total_items) == ("queued", 2, 5)
    # Each generation batch queues the next when it commits: a start creates one job, whatever the count.
    assert list(CampaignJob.objects.filter(campaign=campaign).values_list("batch_number", flat=True)) == [0]
    assert list(campaign.state_events.values_list("transition", "actor_label")) == [("create", "root"), ("start", "root")]


def test_chain_next_creates_the_later_phases_with_the_campaign(root):
    DnsPersona.objects.create(name="local", resolvers=["127.0.0.1:53"])
    campaign = create("--chain-next", "--chain-dns-persona", "local")

    assert campaign.chain_next is True
    dns_phase = Campaign.objects.get(source_campaign=campaign)
    assert (dns_phase.campaign_type, dns_phase.status, dns_phase.dns_params.persona_ids) == (
        "dns_validation", "pending", [DnsPersona.objects.get().pk],
    )


def test_chain_next_without_the_next_phase_persona_is_one_clear_line(root):
    before = written_rows()
    error, _ = run_failing("create_campaign", "--name", "shops", *GENERATION, "--count", "5", "--chain-next")

    assert str(error) == "--chain-next needs --chain-dns-persona: the next phase is created now, with its persona."
    assert written_rows() == before


def test_owner_option_makes_that_user_owner_and_actor(root, alice):
    campaign = create("--owner", "alice")

    assert campaign.owner == alice
    assert campaign.state_events.get().actor == alice
    assert AuditLog.objects.get().actor == alice


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--charset", "ab!"), "--charset: contains '!'; only a-z, 0-9 and '-' are allowed"),
        (
            ("--tld", "c_m"),
            "--tld: 'c_m' is not a valid TLD: labels must be 1-63 characters of a-z, 0-9 and '-' "
            "and must not start or end with '-'",
        ),
        (("--prefix-length", "0"), "--prefix-length: must be at least 1 for the prefix pattern"),
        (("--pattern", "diagonal"), "--pattern: must be one of prefix, suffix, both; got 'diagonal'"),
        (("--count", "10"), "--count: must be at most 9, the size of the domain space; got 10"),
        (("--count", "0"), "--count: must be at least 1; got 0"),
        (("--name", "  "), "--name: must be 1 to 200 characters"),
        (("--type", "whois"), "--type: must be one of domain_generation, dns_validation, http_keyword_validation; got 'whois'"),
        (("--owner", "bob"), "--owner: no active user named 'bob'"),
        (("--wait",), "--wait needs --start: a campaign that is not started never ends."),
        (("--count", "many"), "Error: argument --count: invalid int value: 'many'"),
    ],
    ids=["bad-charset", "invalid-tld", "zero-length", "unknown-pattern", "count-beyond-space", "zero-count",
         "blank-name", "unknown-type", "unknown-owner", "wait-without-start", "count-not-a-number"],
)
def test_bad_input_is_one_line_and_writes_nothing(root, args, message):
    # Later options win in argparse, so each case overrides one of the good defaults.
    error, output = run_failing("create_campaign", "--name", "shops", *GENERATION, "--count", "3", *args)

    assert str(error) == message
    assert output.out == ""
    assert written_rows() == NOTHING


def test_bad_input_with_json_prints_one_error_object(root):
    error, output = run_failing("create_campaign", "--name", "shops", *GENERATION, "--count", "10", "--json")

    assert json.loads(output.out) == {"error": str(error)}
    assert output.out.count("\n") == 1
    assert written_rows() == NOTHING


def test_missing_owner_is_refused_when_there_are_two_superusers(root):
    get_user_model().objects.create_superuser("admin2", "admin2@example.com", password=None)

    error, _ = run_failing("create_campaign", "--name", "shops", *GENERATION, "--count", "3")

    assert str(error) == "There are 2 superusers; choose the campaign's owner with --owner USERNAME."
    assert written_rows() == NOTHING


def test_missing_owner_is_refused_when_there_is_no_superuser(alice):
    error, _ = run_failing("create_campaign", "--name", "shops", *GENERATION, "--count", "3")

    assert str(error) == "No active superuser exists to own the campaign; choose its owner with --owner USERNAME."
    assert written_rows() == NOTHING


@pytest.mark.django_db(transaction=True)
def test_wait_returns_when_the_campaign_completes(root):
    with background_worker():
        output = run(
            "create_campaign", "--name", "shops", *GENERATION, "--count", "7", "--batch-size", "3",
            "--start", "--wait", "--poll-interval", "0.05", "--json",
        )

    data = json.loads(output.out)
    campaign = Campaign.objects.get()
    assert (campaign.status, campaign.processed_items, campaign.generated_domains.count()) == ("completed", 7, 7)
    progress = campaign_progress(campaign).as_dict()
    assert data == {**progress, "warnings": [], "phases": [progress]}
    assert output.err == ""  # not a terminal: no progress bar


@pytest.mark.django_db(transaction=True)
def test_wait_exits_one_when_the_campaign_is_cancelled(root):
    def cancel_when_created() -> None:
        try:
            for _ in range(200):
                campaign = Campaign.objects.filter(name="doomed").first()
                if campaign is not None:
                    campaign_transition(campaign_id=campaign.pk, transition="cancel", actor=None, actor_label="test")
                    return
                time.sleep(0.02)
        finally:
            connection.close()

    canceller = threading.Thread(target=cancel_when_created)
    canceller.start()
    try:
        error, output = run_failing(
            "create_campaign", "--name", "doomed", *GENERATION, "--count", "5", "--start", "--wait", "--poll-interval", "0.05"
        )
    finally:
        canceller.join(timeout=10)

    campaign = Campaign.objects.get()
    assert campaign.status == "cancelled"
    assert error.returncode == 1
    assert str(error) == f"Campaign {campaign.pk} ended cancelled"
    assert output.out == f"{campaign.pk} cancelled (version 3)\n"


class _Terminal(StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.django_db(transaction=True)
def test_wait_shows_a_progress_bar_on_a_terminal(root):
    out, err = StringIO(), _Terminal()
    with background_worker():
        call_command(
            "create_campaign", "--name", "shops", *GENERATION, "--count", "7", "--batch-size", "3",
            "--start", "--wait", "--poll-interval", "0.05", stdout=out, stderr=err,
        )

    campaign = Campaign.objects.get()
    assert out.getvalue() == f"{campaign.pk} completed (version {campaign.version})\n"
    assert "completed" in err.getvalue() and "100%" in err.getvalue() and "7/7" in err.getvalue()
