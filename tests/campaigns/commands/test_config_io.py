"""export_config, and export → import_config → export round trips."""
from __future__ import annotations

import json
import stat

import pytest

from campaigns.models import AuditLog, DnsPersona, HttpPersona, KeywordRule, KeywordSet, Proxy
from tests.campaigns.commands.config_documents import EMPTY, full_document, write
from tests.campaigns.commands.helpers import CLI_LABEL, run, run_failing
from tests.conftest import our_idle_in_transaction


# --- export ---


def test_exporting_an_empty_configuration_prints_an_empty_document(db):
    output = run("export_config")

    assert output.out == json.dumps(EMPTY, indent=2, sort_keys=True) + "\n"


def test_export_holds_every_field_sorted_by_name_without_passwords(configured):
    output = run("export_config")

    assert output.out == json.dumps(full_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert "s3cret" not in output.out
    assert output.err == ""


def test_include_secrets_adds_every_proxys_password(configured):
    output = run("export_config", "--include-secrets")

    assert json.loads(output.out) == full_document(passwords={"eu": "s3cret:/@"})


def test_export_to_a_file_replaces_it_whole_and_keeps_it_private(configured, tmp_path):
    target = write(tmp_path, "old contents", name="config.json")

    output = run("export_config", "-o", str(target), "--include-secrets")

    assert json.loads(target.read_text()) == full_document(passwords={"eu": "s3cret:/@"})
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert output.out == (
        f"Exported config (2 dns_personas, 1 http_personas, 2 proxies, 1 keyword_sets), with proxy passwords, to {target}\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_every_export_is_audited_with_whether_it_held_secrets(configured, tmp_path):
    run("export_config")
    run("export_config", "--include-secrets", "-o", str(tmp_path / "c.json"))

    rows = AuditLog.objects.filter(action="config.export").order_by("created_at", "id")
    counts = {"dns_personas": 2, "http_personas": 1, "proxies": 2, "keyword_sets": 1}
    assert [(r.actor_label, r.entity_type, r.decision, r.details) for r in rows] == [
        (CLI_LABEL, "config", "allowed", {"include_secrets": False, "output": "stdout", "counts": counts}),
        (CLI_LABEL, "config", "allowed", {"include_secrets": True, "output": str(tmp_path / "c.json"), "counts": counts}),
    ]


def test_only_staff_may_export_passwords(configured, alice):
    assert json.loads(run("export_config", "--as", "alice").out) == full_document()

    error, output = run_failing("export_config", "--as", "alice", "--include-secrets")

    assert str(error) == "Only staff can export proxy passwords."
    assert output.out == ""
    denied = AuditLog.objects.get(decision="denied")
    assert (denied.action, denied.actor, denied.details) == (
        "config.export", alice, {"include_secrets": True, "reason": "Only staff can export proxy passwords."}
    )


def test_an_unwritable_output_is_refused_before_anything_is_written(configured, tmp_path):
    target = tmp_path / "missing" / "config.json"

    error, _ = run_failing("export_config", "-o", str(target))

    assert str(error) == f"-o: cannot write {target}: No such file or directory"
    assert not AuditLog.objects.exists()


def test_a_refused_export_leaves_no_file_behind(configured, alice, tmp_path):
    error, _ = run_failing("export_config", "--as", "alice", "--include-secrets", "-o", str(tmp_path / "config.json"))

    assert str(error) == "Only staff can export proxy passwords."
    assert list(tmp_path.iterdir()) == []


# --- round trips ---


@pytest.mark.django_db(transaction=True)  # each command commits, as it does for a user
def test_export_import_export_is_byte_identical(configured, tmp_path):
    first = run("export_config", "-o", str(tmp_path / "a.json"))
    assert first.out.startswith("Exported config")

    imported = run("import_config", str(tmp_path / "a.json"), "--json")
    run("export_config", "-o", str(tmp_path / "b.json"))

    assert (tmp_path / "b.json").read_bytes() == (tmp_path / "a.json").read_bytes()
    assert json.loads(imported.out) == {
        "created": 0,
        "updated": 0,
        "unchanged": 6,
        "by_kind": {
            "dns_personas": {"created": 0, "updated": 0, "unchanged": 2},
            "http_personas": {"created": 0, "updated": 0, "unchanged": 1},
            "proxies": {"created": 0, "updated": 0, "unchanged": 2},
            "keyword_sets": {"created": 0, "updated": 0, "unchanged": 1},
        },
    }
    assert Proxy.objects.get(name="eu").password == "s3cret:/@"  # absent from the file: kept
    assert our_idle_in_transaction() == []


@pytest.mark.django_db(transaction=True)
def test_a_document_with_secrets_rebuilds_the_configuration_in_an_empty_database(configured, tmp_path):
    run("export_config", "--include-secrets", "-o", str(tmp_path / "a.json"))
    rules_before = list(KeywordRule.objects.order_by("id").values_list("pattern", flat=True))
    for model in (KeywordSet, Proxy, HttpPersona, DnsPersona):
        model.objects.all().delete()

    output = run("import_config", str(tmp_path / "a.json"))
    run("export_config", "--include-secrets", "-o", str(tmp_path / "b.json"))

    assert (tmp_path / "b.json").read_bytes() == (tmp_path / "a.json").read_bytes()
    assert output.out == (
        f"Imported {tmp_path / 'a.json'}: 6 created, 0 updated, 0 unchanged (created/updated/unchanged: "
        "dns_personas 2/0/0, http_personas 1/0/0, proxies 2/0/0, keyword_sets 1/0/0)\n"
    )
    assert list(KeywordRule.objects.order_by("id").values_list("pattern", flat=True)) == rules_before
    assert Proxy.objects.get(name="eu").password == "s3cret:/@"
