"""A pipeline's phases from the command line: list_campaigns, campaign_status, export_results --phase, and
create_campaign --wait following every phase it created."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.db import connection

from campaigns.models import Campaign, DnsPersona, HttpPersona
from campaigns.selectors import campaign_progress
from campaigns.services.transitions import campaign_transition
from tests.campaigns.commands.helpers import background_worker, create, run, run_failing


@pytest.fixture
def pipeline(root) -> list[Campaign]:
    """A generation campaign that fed a DNS phase that fed an HTTP phase (none started)."""
    DnsPersona.objects.create(name="local", resolvers=["127.0.0.1:9"])
    HttpPersona.objects.create(name="browser")
    generation = create(name="shops")
    dns = run("create_campaign", "--type", "dns_validation", "--name", "resolve", "--source", str(generation.pk), "--persona", "local")
    dns = Campaign.objects.get(pk=dns.out.split()[0])
    http = run("create_campaign", "--type", "http_keyword_validation", "--name", "fetch", "--source", str(dns.pk), "--persona", "browser")
    return [generation, dns, Campaign.objects.get(pk=http.out.split()[0])]


def test_status_of_any_phase_lists_the_whole_pipeline_with_ids_states_and_counts(pipeline):
    generation, dns, http = pipeline

    lines = run("campaign_status", str(dns.pk)).out.splitlines()

    start = lines.index(f"Pipeline {generation.pk}:")
    assert lines[start + 1 : start + 4] == [
        f"    {generation.pk}  Domain generation        Pending  0/0  successful 0  failed 0",
        f"  * {dns.pk}  DNS validation           Pending  0/0  successful 0  failed 0",
        f"    {http.pk}  HTTP keyword validation  Pending  0/0  successful 0  failed 0",
    ]


def test_status_json_carries_the_pipeline(pipeline):
    generation, dns, http = pipeline

    data = json.loads(run("campaign_status", str(generation.pk), "--json").out)

    assert data["pipeline"] == {
        "id": str(generation.pk),
        "phases": [campaign_progress(Campaign.objects.get(pk=c.pk)).as_dict() for c in pipeline],
    }


def test_start_and_cancel_show_the_later_phases_they_changed(pipeline):
    generation, dns, http = pipeline

    started = run("start_campaign", str(generation.pk)).out
    paused = run("pause_campaign", str(dns.pk)).out
    cancelled = json.loads(run("cancel_campaign", str(dns.pk), "--json").out)

    now = {c.pk: c for c in Campaign.objects.all()}
    assert started.splitlines() == [f"{c.pk} queued (version 2)" for c in (generation, dns, http)]
    assert paused.splitlines() == [f"{dns.pk} paused (version 3)"]  # a pause stops only that phase
    assert [(p["id"], p["status"]) for p in cancelled["phases"]] == [(str(dns.pk), "cancelled"), (str(http.pk), "cancelled")]
    assert cancelled["phases"] == [campaign_progress(now[c.pk]).as_dict() for c in (dns, http)]
    assert (now[generation.pk].status, now[http.pk].version) == ("queued", 3)


def test_list_filters_by_type_status_owner_and_pipeline(pipeline, alice):
    generation, dns, http = pipeline
    other = create(name="other")

    def ids(*args: str) -> list[str]:
        return [json.loads(line)["id"] for line in run("list_campaigns", "--json", *args).out.splitlines()]

    assert ids("--pipeline", str(generation.pk)) == [str(http.pk), str(dns.pk), str(generation.pk)]
    assert ids("--type", "dns_validation") == [str(dns.pk)]
    assert ids("--type", "domain_generation", "--status", "pending") == [str(other.pk), str(generation.pk)]
    assert ids("--owner", "alice") == []
    assert ids("--as", "alice") == []
    assert ids("--limit", "1") == [str(other.pk)]


def test_list_text_is_a_table_with_the_source_of_each_phase(pipeline):
    generation, dns, http = pipeline

    lines = run("list_campaigns", "--type", "http_keyword_validation").out.splitlines()

    created = f"{Campaign.objects.get(pk=http.pk).created_at:%Y-%m-%d %H:%M:%S} UTC"
    assert lines == [
        f"ID{' ' * 36}TYPE{' ' * 21}STATUS   PROGRESS  OWNER  CREATED{' ' * 18}SOURCE    NAME",
        f"{http.pk}  HTTP keyword validation  Pending  0/0       root   {created}  {str(dns.pk)[:8]}  fetch",
    ]


def test_list_text_shows_derived_states_separators_and_the_time_zone(root, settings):
    settings.TIME_ZONE = "Europe/Paris"
    campaign = create(name="big")
    Campaign.objects.filter(pk=campaign.pk).update(
        status="completed", total_items=1_234_567, processed_items=1_234_567, successful_items=0, failed_items=1_234_567,
        created_at=datetime(2026, 7, 1, 6, 5, 4, tzinfo=UTC),
    )

    [_, row] = run("list_campaigns").out.splitlines()

    assert row == f"{campaign.pk}  Domain generation  Completed with errors  1,234,567/1,234,567  root   2026-07-01 08:05:04 CEST  —       big"
    assert json.loads(run("list_campaigns", "--json").out)["status"] == "completed"  # JSON keeps the stored values


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--status", "done"), "argument --status: invalid choice: 'done'"),
        (("--owner", "nobody"), "--owner: no active user named 'nobody'"),
        (("--limit", "0"), "argument --limit: must be at least 1; got 0"),
        (("--pipeline", "x"), "argument --pipeline: 'x' is not a campaign id (a UUID)"),
    ],
)
def test_list_refuses_bad_filters_in_one_line(root, args, message):
    error, output = run_failing("list_campaigns", *args)
    assert str(error).startswith(("Error: " + message, message)), str(error)
    assert output.out == ""


def test_export_results_takes_a_pipeline_and_a_phase(pipeline):
    generation, dns, http = pipeline

    csv_text = run("export_results", str(generation.pk), "--phase", "dns", "--format", "csv").out
    assert csv_text.splitlines()[0].startswith("Domain,Status,Business status,IP addresses")
    assert run("export_results", str(http.pk), "--phase", "generation", "--format", "csv").out.splitlines()[0] == "Offset index,Domain name"


def test_export_of_a_phase_the_pipeline_lacks_is_one_line(root):
    generation = create(name="alone")

    error, output = run_failing("export_results", str(generation.pk), "--phase", "http", "--format", "csv")

    assert str(error) == f"The pipeline of campaign {generation.pk} has no http phase (yet)."
    assert output.out == ""


def chained(world) -> tuple[str, ...]:
    """create_campaign's arguments for the `world`'s three names, generated, resolved and fetched."""
    return (
        "--type", "domain_generation", "--name", "chained", "--pattern", "prefix", "--prefix-length", "1",
        "--charset", "abc", "--constant", "cli", "--tld", "df.test", "--count", "3", "--chain-next",
        "--chain-dns-persona", "local", "--chain-http-persona", "browser", "--chain-keyword-set", "shop",
        "--chain-port", str(world["http"].port), "--start", "--wait", "--poll-interval", "0.05",
    )


def phases() -> list[Campaign]:
    generation = Campaign.objects.get(name="chained")
    dns = Campaign.objects.get(source_campaign=generation)
    return [generation, dns, Campaign.objects.get(source_campaign=dns)]


@pytest.mark.django_db(transaction=True)
def test_wait_returns_once_every_phase_it_created_has_ended(world, settings):
    settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS = True
    with background_worker():
        output = run("create_campaign", *chained(world), "--json")

    data = json.loads(output.out)
    # What it printed on return: every phase completed, the last one's pages fetched.
    assert [(p["campaign_type"], p["status"]) for p in data["phases"]] == [
        ("domain_generation", "completed"), ("dns_validation", "completed"), ("http_keyword_validation", "completed"),
    ]
    assert data["phases"][2]["successful_items"] == 2
    progress = [campaign_progress(phase).as_dict() for phase in phases()]
    assert data == {**progress[0], "warnings": [], "phases": progress}


@pytest.mark.django_db(transaction=True)
def test_wait_exits_one_naming_the_phase_that_did_not_complete(world, settings):
    settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS = True
    errors: list[BaseException] = []

    def cancel_the_http_phase_then_work() -> None:
        try:
            queued = Campaign.objects.filter(campaign_type="http_keyword_validation", status="queued")
            http = _appearing(queued.first)
            campaign_transition(campaign_id=http.pk, transition="cancel", actor=None, actor_label="test")
            with background_worker():
                _appearing(Campaign.objects.filter(campaign_type="dns_validation", status="completed").first)
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    helper = threading.Thread(target=cancel_the_http_phase_then_work)
    helper.start()
    try:
        error, output = run_failing("create_campaign", *chained(world))
    finally:
        helper.join(timeout=60)
    assert not errors, errors

    generation, dns, http = phases()
    # It waited past the cancelled phase for the others, and names it.
    assert error.returncode == 1 and str(error) == f"Campaign {http.pk} ended cancelled"
    assert output.out.splitlines() == [
        f"{generation.pk} completed (version {generation.version})",
        f"{dns.pk} completed (version {dns.version})",
        f"{http.pk} cancelled (version {http.version})",
    ]


def _appearing(find: Callable[[], Campaign | None], timeout_s: float = 30) -> Campaign:
    deadline = time.monotonic() + timeout_s
    while (found := find()) is None:
        assert time.monotonic() < deadline, "not there in time"
        time.sleep(0.02)
    return found
