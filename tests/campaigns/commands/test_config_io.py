"""import_config / export_config: one JSON document of personas, proxies and keyword sets."""
from __future__ import annotations

import io
import json
import stat
import threading
import time

import pytest

from campaigns.models import AuditLog, DnsPersona, HttpPersona, KeywordRule, KeywordSet, Proxy
from campaigns.services.config_io import config_document_text
from tests.campaigns.commands.helpers import CLI_LABEL, run, run_failing
from tests.conftest import our_idle_in_transaction
from txmetrics.models import TransactionMetric

EMPTY = {"version": 1, "dns_personas": [], "http_personas": [], "proxies": [], "keyword_sets": []}

DNS_LOCAL = {
    "name": "local",
    "enabled": True,
    "resolvers": ["127.0.0.1:5353", "[::1]:53"],
    "resolver_weights": [3, 1],
    "strategy": "weighted",
    "timeout_s": 0.5,
    "retries": 1,
    "max_in_flight": 20,
    "rate_limit_qps": 100.0,
    "record_types": ["A"],
}
DNS_PUBLIC = {
    "name": "public",
    "enabled": False,  # carried like every other field
    "resolvers": ["1.1.1.1"],
    "resolver_weights": [],
    "strategy": "round_robin",
    "timeout_s": 2.0,
    "retries": 2,
    "max_in_flight": 100,
    "rate_limit_qps": None,
    "record_types": [],
}
HTTP_BROWSER = {
    "name": "browser",
    "enabled": True,
    "user_agent": "Mozilla/5.0 (DomainFlow)",
    "headers": {"Accept-Language": "en", "X-Trace": "1"},
    "timeout_s": 7.5,
    "follow_redirects": False,
    "max_redirects": 0,
    "verify_tls": False,
    "allowed_status_codes": [200, 404],
    "max_body_bytes": 65536,
}
PROXY_EU = {"name": "eu", "scheme": "socks5", "host": "proxy.example.test", "port": 1080, "username": "bob", "enabled": True}
PROXY_US = {"name": "us", "scheme": "http", "host": "10.0.0.7", "port": 3128, "username": "", "enabled": False}
SHOP = {
    "name": "shop",
    "description": "Signs of a web shop",
    "rules": [
        {"pattern": "widget", "kind": "string", "case_sensitive": False, "context_chars": 40},
        {"pattern": r"free\s+shipping", "kind": "regex", "case_sensitive": True, "context_chars": 10},
    ],
}


def full_document(*, passwords: dict[str, str] | None = None) -> dict:
    proxies = [dict(PROXY_EU), dict(PROXY_US)]
    if passwords is not None:
        for proxy in proxies:
            proxy["password"] = passwords.get(proxy["name"], "")
    return {
        "version": 1,
        "dns_personas": [DNS_LOCAL, DNS_PUBLIC],
        "http_personas": [HTTP_BROWSER],
        "proxies": proxies,
        "keyword_sets": [SHOP],
    }


@pytest.fixture
def configured(db):
    """The configuration of full_document(), made row by row (deliberately not in name order)."""
    DnsPersona.objects.create(**DNS_PUBLIC)
    DnsPersona.objects.create(**DNS_LOCAL)
    HttpPersona.objects.create(**HTTP_BROWSER)
    Proxy.objects.create(**PROXY_US)
    Proxy.objects.create(**PROXY_EU, password="s3cret:/@")
    shop = KeywordSet.objects.create(name="shop", description=SHOP["description"])
    for rule in SHOP["rules"]:
        KeywordRule.objects.create(keyword_set=shop, **rule)


def write(tmp_path, document, name="config.json"):
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


def config_rows() -> dict:
    """Everything an import may write, to compare before and after a refusal."""
    return {
        "dns": list(DnsPersona.objects.order_by("name").values()),
        "http": list(HttpPersona.objects.order_by("name").values()),
        "proxies": list(Proxy.objects.order_by("name").values()),
        "sets": list(KeywordSet.objects.order_by("name").values()),
        "rules": list(KeywordRule.objects.order_by("id").values()),
        "audit": AuditLog.objects.count(),
    }


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
    from campaigns.services.config_io import config_document

    text = config_document_text(config_document())

    assert text == config_document_text(json.loads(text))
    assert text.endswith("}\n") and text.index('"dns_personas"') < text.index('"version"')


# --- races ---


@pytest.mark.django_db(transaction=True)
def test_a_name_created_while_the_import_runs_is_updated_not_refused():
    """Nothing can lock a row that does not exist: the import's insert waits, fails, and it looks again."""
    from django.db import connection, transaction

    from campaigns.services.config_io import config_import

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
    from django.db import connection

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
