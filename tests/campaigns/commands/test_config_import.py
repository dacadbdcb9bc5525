"""import_config: creating and updating rows, refusing bad documents whole, and a concurrent insert."""
from __future__ import annotations

import io
import json
import threading
import time

import pytest
from django.db import connection, transaction

from campaigns.models import AuditLog, DnsPersona, HttpPersona, KeywordSet, Proxy
from campaigns.services.config_io import config_document, config_document_text, config_import
from tests.campaigns.commands.config_documents import (
    DNS_LOCAL,
    DNS_PUBLIC,
    EMPTY,
    PROXY_US,
    SHOP,
    config_rows,
    full_document,
    write,
)
from tests.campaigns.commands.helpers import run, run_failing
from tests.conftest import our_idle_in_transaction
from txmetrics.models import TransactionMetric


# --- import ---


def test_import_creates_updates_and_leaves_unnamed_objects_alone(configured, tmp_path):
    DnsPersona.objects.create(name="zz-not-in-the-file", resolvers=["9.9.9.9"])
    document = full_document()
    document["dns_personas"][0] = {**DNS_LOCAL, "resolvers": ["127.0.0.2"], "resolver_weights": [], "timeout_s": 1}
    document["keyword_sets"][0] = {"name": "shop", "description": "", "rules": [{"pattern": "checkout"}]}
    document["keyword_sets"].append({"name": "blog", "rules": []})
    document["http_personas"].append({"name": "minimal"})  # every other field takes the model's default

    output = run("import_config", str(write(tmp_path, document)), "--json")

    assert json.loads(output.out)["by_kind"] == {
        "dns_personas": {"created": 0, "updated": 1, "unchanged": 1},
        "http_personas": {"created": 1, "updated": 0, "unchanged": 1},
        "proxies": {"created": 0, "updated": 0, "unchanged": 2},
        "keyword_sets": {"created": 1, "updated": 1, "unchanged": 0},
    }
    local = DnsPersona.objects.get(name="local")
    assert (local.resolvers, local.resolver_weights, local.timeout_s, local.strategy) == (["127.0.0.2"], [], 1.0, "weighted")
    assert DnsPersona.objects.filter(name="zz-not-in-the-file").exists()
    minimal = HttpPersona.objects.get(name="minimal")
    assert (minimal.user_agent, minimal.headers, minimal.timeout_s, minimal.allowed_status_codes) == ("DomainFlow/1.0", {}, 10.0, [])
    shop = KeywordSet.objects.get(name="shop")
    assert shop.description == ""
    assert list(shop.rules.values_list("pattern", "kind", "case_sensitive", "context_chars")) == [("checkout", "string", False, 40)]
    assert KeywordSet.objects.get(name="blog").rules.count() == 0


def test_a_dash_reads_the_document_from_stdin(db, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"version": 1, "dns_personas": [DNS_PUBLIC]})))

    output = run("import_config", "-", "--json")

    assert json.loads(output.out)["created"] == 1
    assert AuditLog.objects.get(action="config.import").details["source"] == "stdin"
    assert json.loads(run("export_config").out)["dns_personas"] == [DNS_PUBLIC]


def test_every_import_is_audited_with_what_it_changed(configured, root, tmp_path):
    document = full_document()
    document["proxies"][1] = {**PROXY_US, "port": 8080}
    document["dns_personas"].append({"name": "new", "resolvers": ["8.8.8.8"]})
    path = write(tmp_path, document)

    run("import_config", str(path), "--as", "root")

    audit = AuditLog.objects.get(action="config.import")
    assert (audit.actor.username, audit.actor_label, audit.entity_type, audit.decision) == ("root", "root", "config", "allowed")
    assert audit.details == {
        "source": str(path),
        "created": {"dns_personas": ["new"]},
        "updated": {"proxies": ["us"]},
        "unchanged": 5,
    }


def test_a_password_in_the_document_replaces_the_stored_one_and_an_absent_one_is_kept(configured, tmp_path):
    document = full_document()
    document["proxies"][1]["password"] = "new-pass"  # us
    document["proxies"].append({"name": "new", "scheme": "http", "host": "127.0.0.1", "port": 8888})

    run("import_config", str(write(tmp_path, document)))

    assert dict(Proxy.objects.values_list("name", "password")) == {"eu": "s3cret:/@", "us": "new-pass", "new": ""}


def test_only_staff_may_import(configured, alice, tmp_path):
    before = config_rows()

    error, _ = run_failing("import_config", str(write(tmp_path, _with("proxies", 1, port=8080))), "--as", "alice")

    assert str(error) == "Only staff can import shared configuration."
    denied = AuditLog.objects.get()
    assert (denied.action, denied.actor, denied.decision) == ("config.import", alice, "denied")
    assert Proxy.objects.get(name="us").port == 3128
    assert config_rows() == {**before, "audit": 1}


def _with(section: str, index: int, **changes) -> dict:
    document = full_document()
    document[section][index] = {**document[section][index], **changes}
    return document


def _appended(section: str, item) -> dict:
    document = full_document()
    document[section].append(item)
    return document


BAD_DOCUMENTS = [
    (
        _with("dns_personas", 1, resolvers=["1.1.1.1", "x"]),
        "dns_personas[1].resolvers[1]: invalid resolver 'x': must be an IP address, optionally with :port",
    ),
    (
        _with("dns_personas", 1, resolvers=["x"]),
        "dns_personas[1].resolvers[0]: invalid resolver 'x': must be an IP address, optionally with :port",
    ),
    (_with("dns_personas", 0, strategy="fastest"), "dns_personas[0].strategy: Value 'fastest' is not a valid choice."),
    (_with("dns_personas", 0, record_types=["A", "MX"]), "dns_personas[0].record_types[1]: must be one of A, AAAA; got 'MX'"),
    (_with("dns_personas", 0, resolver_weights=[1]), "dns_personas[0].resolver_weights: give one weight per resolver, or none"),
    (_with("dns_personas", 0, timeout_s=0), "dns_personas[0].timeout_s: must be greater than 0; got 0.0"),
    (_with("dns_personas", 0, timeout_s="fast"), "dns_personas[0].timeout_s: must be a number"),
    (_with("dns_personas", 0, retries=-1), "dns_personas[0].retries: Ensure this value is greater than or equal to 0."),
    (_with("dns_personas", 0, retries=True), "dns_personas[0].retries: must be a whole number"),
    (_with("dns_personas", 0, resolver_weights=[1, -1]), "dns_personas[0].resolver_weights[1]: Ensure this value is greater than or equal to 0."),
    (_with("http_personas", 0, user_agent="x" * 501), "http_personas[0].user_agent: Ensure this value has at most 500 characters (it has 501)."),
    (_with("dns_personas", 0, colour="red"), "dns_personas[0].colour: unknown field; expected enabled, max_in_flight, name, rate_limit_qps, "
     "record_types, resolver_weights, resolvers, retries, strategy, timeout_s"),
    (_with("dns_personas", 1, name="local"), "dns_personas[1].name: 'local' is already defined by dns_personas[0]"),
    (_with("dns_personas", 1, name=""), "dns_personas[1].name: This field cannot be blank."),
    (_with("http_personas", 0, headers={"Host": "evil.test"}), "http_personas[0]: header 'Host' is set by the client and cannot be overridden"),
    (_with("http_personas", 0, headers={"X-Count": 1}), 'http_personas[0].headers["X-Count"]: must be a string'),
    (_with("http_personas", 0, headers=["X-Count"]), "http_personas[0].headers: must be a JSON object of header names to values"),
    (_with("http_personas", 0, allowed_status_codes=[200, 700]), "http_personas[0].allowed_status_codes[1]: must be an HTTP status code from 100 to 599; got 700"),
    (_with("http_personas", 0, follow_redirects="yes"), "http_personas[0].follow_redirects: must be true or false"),
    (_with("proxies", 1, port=0), "proxies[1].port: must be a port from 1 to 65535; got 0"),
    (_with("proxies", 1, scheme="ftp"), "proxies[1].scheme: Value 'ftp' is not a valid choice."),
    (_with("proxies", 1, healthy=False), "proxies[1].healthy: unknown field; expected enabled, host, name, password, port, scheme, username"),
    (_with("proxies", 0, host="bad host", password="pw"), "proxies[0]: proxy URL 'socks5://bob:***@bad host:1080' has an invalid host 'bad host'"),
    (_appended("proxies", {"name": "p"}), "proxies[2].scheme: This field cannot be blank."),
    (
        _with("keyword_sets", 0, rules=[SHOP["rules"][0], {"pattern": "(unclosed", "kind": "regex"}]),
        "keyword_sets[0].rules[1].pattern: invalid regex '(unclosed': …",
    ),
    (_with("keyword_sets", 0, rules=[{"kind": "string"}]), "keyword_sets[0].rules[0].pattern: is required"),
    (_with("keyword_sets", 0, rules=[{"pattern": "x", "kind": "glob"}]), "keyword_sets[0].rules[0].kind: Value 'glob' is not a valid choice."),
    (_with("keyword_sets", 0, rules="widget"), "keyword_sets[0].rules: must be a list of objects"),
    (_appended("keyword_sets", "blog"), "keyword_sets[1]: must be an object"),
    (_appended("keyword_sets", {"description": "no name"}), "keyword_sets[1].name: is required"),
    ({**EMPTY, "version": 2}, "version: must be 1; got 2"),
    ({"dns_personas": []}, "version: is required (this program reads version 1)"),
    ({**EMPTY, "personas": []}, "personas: unknown key; expected version, dns_personas, http_personas, proxies, keyword_sets"),
    ({**EMPTY, "proxies": {}}, "proxies: must be a list of objects"),
    ([], "the document must be a JSON object with the keys version, dns_personas, http_personas, proxies, keyword_sets"),
]


@pytest.mark.parametrize(("document", "message"), BAD_DOCUMENTS, ids=[m.split(":")[0] or "root" for _, m in BAD_DOCUMENTS])
def test_an_invalid_document_is_refused_whole_naming_the_first_bad_field(configured, tmp_path, document, message):
    # Everything before the bad field is valid and would change rows: none of it may be written.
    DnsPersona.objects.filter(name="local").update(retries=5)
    Proxy.objects.filter(name="us").update(host="old.example.test")
    before = config_rows()

    error, output = run_failing("import_config", str(write(tmp_path, document)))

    if message.endswith(": …"):  # RE2's own wording follows
        assert str(error).startswith(message[:-1]) and "\n" not in str(error)
    else:
        assert str(error) == message
    assert output.out == ""
    assert config_rows() == before


def test_a_refusal_with_json_is_one_error_object(configured, tmp_path):
    error, output = run_failing("import_config", str(write(tmp_path, _with("proxies", 0, port=70000))), "--json")

    assert json.loads(output.out) == {"error": "proxies[0].port: must be a port from 1 to 65535; got 70000"}
    assert str(error) == "proxies[0].port: must be a port from 1 to 65535; got 70000"


def test_a_refused_proxy_never_shows_its_password(configured, tmp_path):
    document = _with("proxies", 0, host="bad host", password="p@ss/word")

    error, _ = run_failing("import_config", str(write(tmp_path, document)))

    assert "p@ss" not in str(error) and "p%40ss" not in str(error)


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        ("{", "not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
        ('{"version": 1,}', "not valid JSON: Expecting property name enclosed in double quotes (line 1, column 15)"),
        ('{"version": 1, "dns_personas": [{"name": "x", "timeout_s": NaN}]}', "not valid JSON: NaN is not allowed"),
        (b"\xff\xfe{}", "not UTF-8 text"),
    ],
    ids=["truncated", "trailing-comma", "nan", "not-utf8"],
)
def test_a_file_that_is_not_json_is_refused_in_one_line(configured, tmp_path, contents, message):
    path = tmp_path / "config.json"
    path.write_bytes(contents if isinstance(contents, bytes) else contents.encode())
    before = config_rows()

    error, output = run_failing("import_config", str(path))

    assert str(error) == f"{path}: {message}"
    assert output.out == ""
    assert config_rows() == before


def test_a_missing_file_or_a_directory_is_refused(db, tmp_path):
    missing = tmp_path / "missing.json"

    error, _ = run_failing("import_config", str(missing))
    assert str(error) == f"{missing}: no such file"

    error, _ = run_failing("import_config", str(tmp_path))
    assert str(error) == f"{tmp_path}: is a directory, not a JSON file"
    assert AuditLog.objects.count() == 0


def test_the_document_text_is_stable(configured):
    text = config_document_text(config_document())

    assert text == config_document_text(json.loads(text))
    assert text.endswith("}\n") and text.index('"dns_personas"') < text.index('"version"')


# --- races ---


@pytest.mark.django_db(transaction=True)
def test_a_name_created_while_the_import_runs_is_updated_not_refused():
    """Nothing can lock a row that does not exist: the import's insert waits, fails, and it looks again."""
    created, release = threading.Event(), threading.Event()

    def rival() -> None:
        try:
            with transaction.atomic():
                DnsPersona.objects.create(name="local", resolvers=["9.9.9.9"])
                created.set()
                release.wait(timeout=30)  # commit only once the import waits on our row
        finally:
            connection.close()

    thread = threading.Thread(target=rival)
    thread.start()
    try:
        assert created.wait(timeout=30)
        waiter = threading.Thread(target=_release_when_someone_waits_on_a_lock, args=(release,))
        waiter.start()
        summary = config_import(actor=None, actor_label="test", document={"version": 1, "dns_personas": [DNS_LOCAL]})
        waiter.join(timeout=30)
    finally:
        release.set()
        thread.join(timeout=30)

    assert summary.as_dict()["by_kind"]["dns_personas"] == {"created": 0, "updated": 1, "unchanged": 0}
    # The first attempt really collided (and is on record), the second updated the rival's row.
    assert list(TransactionMetric.objects.filter(operation="config.import", success=False).values_list("sqlstate", flat=True)) == [
        "23505"
    ]
    assert list(DnsPersona.objects.values_list("name", "resolvers")) == [("local", DNS_LOCAL["resolvers"])]
    assert AuditLog.objects.filter(action="config.import").count() == 1
    assert our_idle_in_transaction() == []


def _release_when_someone_waits_on_a_lock(release: threading.Event) -> None:
    try:
        for _ in range(3000):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cursor.fetchone()[0]:
                    break
            time.sleep(0.01)
    finally:
        release.set()
        connection.close()
