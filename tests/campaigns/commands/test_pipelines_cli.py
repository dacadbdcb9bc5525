"""Finding a pipeline's phases from the command line: list_campaigns, campaign_status, export_results --phase."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from campaigns.models import Campaign, DnsPersona, HttpPersona
from campaigns.selectors import campaign_progress
from tests.campaigns.commands.helpers import create, run, run_failing


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
