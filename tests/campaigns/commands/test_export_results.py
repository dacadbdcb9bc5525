from __future__ import annotations

import json
import tracemalloc
import uuid

import pytest

from campaigns.models import AuditLog, Campaign
from tests.campaigns.commands.helpers import CLI_LABEL, create, run, run_failing, run_workers
from tests.conftest import our_idle_in_transaction

pytestmark = pytest.mark.django_db(transaction=True)  # the worker's threads must see the campaign

ROWS = [
    (0, "aashop.com"),
    (1, "aashop.net"),
    (2, "abshop.com"),
    (3, "abshop.net"),
    (4, "acshop.com"),
    (5, "acshop.net"),
    (6, "bashop.com"),
]


@pytest.fixture
def generated(root) -> Campaign:
    campaign = create("--tld", "net", "--start", "--batch-size", "3", count=7)
    run_workers()
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert (campaign.status, campaign.processed_items) == ("completed", 7)
    return campaign


def test_csv_to_stdout_is_every_domain_in_offset_order(generated):
    output = run("export_results", str(generated.pk), "--format", "csv")

    assert output.out == "Offset index,Domain name\n" + "".join(f"{offset},{name}\n" for offset, name in ROWS)
    assert output.err == ""


def test_jsonl_to_a_file_is_one_object_per_domain(generated, tmp_path):
    target = tmp_path / "domains.jsonl"

    output = run("export_results", str(generated.pk), "--format", "jsonl", "-o", str(target))

    assert target.read_text().splitlines() == [
        json.dumps({"offset_index": offset, "domain_name": name}) for offset, name in ROWS
    ]
    assert output.out == f"Exported campaign {generated.pk} (jsonl) to {target}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["domains.jsonl"]  # no temporary file left behind


def test_every_export_is_audited(generated, tmp_path):
    run("export_results", str(generated.pk), "--format", "csv")
    run("export_results", str(generated.pk), "--format", "jsonl", "-o", str(tmp_path / "out.jsonl"), "--as", "root")

    rows = AuditLog.objects.filter(action="campaign.export").order_by("created_at", "id")
    assert [(row.actor_label, row.actor and row.actor.username, row.entity_id, row.decision, row.details) for row in rows] == [
        (CLI_LABEL, None, str(generated.pk), "allowed", {"format": "csv", "output": "stdout"}),
        ("root", "root", str(generated.pk), "allowed", {"format": "jsonl", "output": str(tmp_path / "out.jsonl")}),
    ]


def test_an_unwritable_output_is_refused_before_anything_is_written(generated, tmp_path):
    target = tmp_path / "missing" / "out.csv"

    error, _ = run_failing("export_results", str(generated.pk), "--format", "csv", "-o", str(target))

    assert str(error) == f"-o: cannot write {target}: No such file or directory"
    assert not AuditLog.objects.filter(action="campaign.export").exists()


def test_an_unknown_format_is_refused(generated):
    error, _ = run_failing("export_results", str(generated.pk), "--format", "xml")

    assert str(error) == "Error: argument --format: invalid choice: 'xml' (choose from 'csv', 'jsonl')"


def test_an_unknown_campaign_is_refused(root):
    missing = uuid.uuid4()

    error, _ = run_failing("export_results", str(missing), "--format", "csv")

    assert str(error) == f"Campaign {missing} does not exist."
    assert not AuditLog.objects.filter(action="campaign.export").exists()


def test_a_validation_campaign_without_results_yet_exports_only_its_header(root):
    # Every campaign type has an exporter now; DNS/HTTP rows are tested in test_validation_cli.py.
    campaign = Campaign.objects.create(name="resolve", campaign_type="dns_validation", owner=root)

    output = run("export_results", str(campaign.pk), "--format", "csv")

    # The CSV header is for people, in the console's words; JSON Lines keys stay snake_case (docs/DECISIONS.md).
    assert output.out == "Domain,Status,Business status,IP addresses,DNS rcode,Resolver,Persona,Attempts,Latency (ms),Checked at\n"
    assert run("export_results", str(campaign.pk), "--format", "jsonl").out == ""


@pytest.mark.slow
def test_exporting_200000_rows_streams_in_little_memory(root, tmp_path):
    campaign = create(
        "--pattern", "prefix", "--prefix-length", "6", "--charset", "abcdefghij", "--constant", "",
        "--start", "--batch-size", "100000", count=200_000,
    )
    run_workers()
    target = tmp_path / "big.csv"

    tracemalloc.start()
    try:
        run("export_results", str(campaign.pk), "--format", "csv", "-o", str(target))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    with target.open() as lines:
        assert next(lines) == "Offset index,Domain name\n"
        assert next(lines) == "0,aaaaaa.com\n"
        count = 2 + sum(1 for _ in lines)
    assert count == 200_001
    # Streaming peaks near 2 MiB; fetching every row at once peaks near 30 MiB.
    assert peak < 10 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    assert our_idle_in_transaction() == []
