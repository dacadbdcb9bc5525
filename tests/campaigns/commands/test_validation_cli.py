"""create_campaign for DNS and HTTP campaigns, run by run_worker, exported by export_results,
against real DNS and HTTP servers on 127.0.0.1."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid

import pytest

from campaigns.models import (
    AuditLog,
    Campaign,
    CampaignJob,
    CampaignStateEvent,
    DnsPersona,
    DnsResult,
    DnsValidationParams,
    DomainGenerationParams,
    HttpResult,
    HttpValidationParams,
    KeywordSet,
    Proxy,
)
from tests.campaigns.commands.helpers import DOMAINS, FORMULA_BODY, FORMULA_TITLE, LEAD_BODY, run, run_failing, run_workers


def _id(output) -> str:
    return output.out.split()[0]


@pytest.fixture(autouse=True)
def private_targets(settings):
    settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS = True
    settings.DOMAINFLOW_RETRY_BACKOFF_S = 0.01


def generated(*extra: str) -> Campaign:
    output = run(
        "create_campaign", "--type", "domain_generation", "--name", "gen", "--pattern", "prefix", "--prefix-length", "1",
        "--charset", "abc", "--constant", "cli", "--tld", "df.test", "--count", "3", *extra,
    )
    return Campaign.objects.get(pk=_id(output))


def completed(campaign: Campaign) -> Campaign:
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert campaign.status == "completed", (campaign.status, campaign.error_message)
    return campaign


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def ms(value: int | None) -> str:
    return "" if value is None else str(value)


@pytest.mark.django_db(transaction=True)  # run_worker's commits must be visible to the test
def test_dns_then_http_campaigns_made_on_the_command_line_run_and_export_exactly(world):
    source = generated("--start")
    run_workers()
    completed(source)

    dns_out = run(
        "create_campaign", "--type", "dns_validation", "--name", "resolve", "--source", str(source.pk),
        "--persona", "local", "--batch-size", "2", "--start",
    )
    dns = Campaign.objects.get(pk=_id(dns_out))
    assert dns_out.out == f"{dns.pk} queued (version 2)\n"
    assert (dns.campaign_type, dns.source_campaign_id, dns.owner.username) == ("dns_validation", source.pk, "root")
    assert (dns.dns_params.persona_ids, dns.dns_params.batch_size) == ([DnsPersona.objects.get(name="local").pk], 2)
    run_workers()

    dns = completed(dns)
    assert (dns.total_items, dns.processed_items, dns.successful_items, dns.failed_items) == (3, 3, 2, 1)
    rows = {r.domain_name: r for r in DnsResult.objects.filter(campaign=dns)}
    resolver = world["dns"].address
    expected_dns = [
        ["Domain", "Status", "Business status", "IP addresses", "DNS rcode", "Resolver", "Persona", "Attempts", "Latency (ms)", "Checked at"],
        *[
            [name, status, business, ips, rcode, resolver, "local", "1", ms(rows[name].latency_ms), rows[name].checked_at.isoformat()]
            for name, status, business, ips, rcode in [
                ("acli.df.test", "resolved", "valid_dns", "127.0.0.1", "NOERROR"),
                ("bcli.df.test", "unresolved", "", "", "NXDOMAIN"),
                ("ccli.df.test", "resolved", "valid_dns", "127.0.0.1", "NOERROR"),
            ]
        ],
    ]
    assert csv_rows(run("export_results", str(dns.pk), "--format", "csv").out) == expected_dns
    dns_lines = [json.loads(line) for line in run("export_results", str(dns.pk), "--format", "jsonl").out.splitlines()]
    assert dns_lines[0] == {
        "domain": "acli.df.test", "status": "resolved", "business_status": "valid_dns", "ips": ["127.0.0.1"], "rcode": "NOERROR",
        "resolver": resolver, "persona": "local", "attempts": 1, "latency_ms": rows["acli.df.test"].latency_ms,
        "checked_at": rows["acli.df.test"].checked_at.isoformat(),
    }
    assert [line["domain"] for line in dns_lines] == DOMAINS
    assert dns_lines[1]["ips"] == []

    port = world["http"].port
    http_out = run(
        "create_campaign", "--type", "http_keyword_validation", "--name", "fetch", "--source", str(dns.pk),
        "--persona", "browser", "--keyword-set", "shop", "--keyword", "click", "--keyword", "nothing",
        "--port", str(port), "--retries", "0", "--max-in-flight", "4", "--batch-size", "1", "--start", "--json",
    )
    http = Campaign.objects.get(pk=json.loads(http_out.out)["id"])
    params = http.http_params
    assert (params.keyword_set_ids, params.adhoc_keywords, params.target_ports, params.retries, params.max_in_flight, params.batch_size) == (
        [KeywordSet.objects.get(name="shop").pk], ["click", "nothing"], [port], 0, 4, 1
    )
    run_workers()

    http = completed(http)
    assert (http.total_items, http.processed_items, http.successful_items) == (2, 2, 2)
    results = {r.domain_name: r for r in HttpResult.objects.filter(campaign=http)}
    lead, formula = results["acli.df.test"], results["ccli.df.test"]
    expected_http = [
        ["Domain", "Status", "Business status", "Status code", "Final URL", "Redirect count", "Title", "Server",
         "Content length", "Body SHA-256", "Keyword count", "Keyword hits", "Persona", "Proxy", "Attempts",
         "Response time (ms)", "Error", "Checked at"],
        ["acli.df.test", "success", "lead_valid", "200", f"http://acli.df.test:{port}/", "0", "A CLI shop", "df-test/1.0",
         str(len(LEAD_BODY)), hashlib.sha256(LEAD_BODY.encode()).hexdigest(), "3", "widget:2;galor\\w+:1",
         "browser", "", "1", ms(lead.response_time_ms), "", lead.checked_at.isoformat()],
        ["ccli.df.test", "success", "lead_valid", "200", f"http://ccli.df.test:{port}/", "0", "'" + FORMULA_TITLE,
         "df-test/1.0", str(len(FORMULA_BODY)), hashlib.sha256(FORMULA_BODY.encode()).hexdigest(), "1", "nothing:1",
         "browser", "", "1", ms(formula.response_time_ms), "", formula.checked_at.isoformat()],
    ]
    csv_text = run("export_results", str(http.pk), "--format", "csv").out
    assert csv_rows(csv_text) == expected_http
    # The formula arrives quoted and inert: a spreadsheet shows it as text.
    assert '"\'=HYPERLINK(""http://evil.test"",""click"")"' in csv_text.splitlines()[2]

    http_lines = [json.loads(line) for line in run("export_results", str(http.pk), "--format", "jsonl").out.splitlines()]
    assert [line["domain"] for line in http_lines] == ["acli.df.test", "ccli.df.test"]
    assert http_lines[1]["title"] == FORMULA_TITLE  # JSON is data, not a spreadsheet: unchanged
    assert http_lines[0]["keyword_hits"] == lead.keyword_hits
    assert [(h["keyword"], h["count"]) for h in http_lines[0]["keyword_hits"]] == [("widget", 2), (r"galor\w+", 1)]
    assert {k: v for k, v in http_lines[0].items() if k not in ("keyword_hits", "response_time_ms", "checked_at")} == {
        "domain": "acli.df.test", "status": "success", "business_status": "lead_valid", "status_code": 200,
        "final_url": f"http://acli.df.test:{port}/", "redirect_count": 0, "title": "A CLI shop", "server": "df-test/1.0",
        "content_length": len(LEAD_BODY), "body_sha256": hashlib.sha256(LEAD_BODY.encode()).hexdigest(),
        "keyword_count": 3, "persona": "browser", "proxy": "", "attempts": 1, "error": "",
    }
    assert {r.hostname for r in world["http"].requests} == {"acli.df.test", "ccli.df.test"}
    assert run("check_consistency").out == "ok\n"


@pytest.mark.django_db(transaction=True)
def test_chain_options_create_the_dns_and_http_phases_on_completion(world):
    port = str(world["http"].port)
    source = generated(
        "--chain-next", "--chain-dns-persona", "local", "--chain-http-persona", "browser", "--chain-keyword-set", "shop",
        "--chain-keyword", "Click", "--chain-port", port, "--start",
    )
    assert source.chain_params == {
        "dns_validation": {"personas": ["local"]},
        "http_keyword_validation": {"persona": "browser", "keyword_sets": ["shop"], "adhoc_keywords": ["Click"], "target_ports": [int(port)]},
    }

    run_workers()

    dns = completed(Campaign.objects.get(source_campaign=source))
    http = completed(Campaign.objects.get(source_campaign=dns))
    assert (dns.campaign_type, dns.dns_params.persona_ids, dns.processed_items) == (
        "dns_validation", [DnsPersona.objects.get(name="local").pk], 3
    )
    assert (http.http_params.adhoc_keywords, http.http_params.target_ports, http.successful_items) == (["Click"], [int(port)], 2)
    # No batch size was given: each phase gets its type's default.
    assert (dns.dns_params.batch_size, http.http_params.batch_size) == (5000, 2000)
    # Ad-hoc keywords match the visible text only: "click" is in the second page's <title>, not its text.
    assert dict(HttpResult.objects.filter(campaign=http).values_list("domain_name", "business_status")) == {
        "acli.df.test": "lead_valid", "ccli.df.test": "http_valid_no_keywords",
    }


@pytest.mark.django_db(transaction=True)
def test_a_dns_campaign_can_chain_its_http_phase(world):
    source = generated("--start")
    run_workers()

    output = run(
        "create_campaign", "--type", "dns_validation", "--name", "resolve", "--source", str(source.pk), "--persona", "local",
        "--chain-next", "--chain-http-persona", "browser", "--chain-port", str(world["http"].port), "--start",
    )
    run_workers()

    dns = completed(Campaign.objects.get(pk=_id(output)))
    http = completed(Campaign.objects.get(source_campaign=dns))
    assert (http.campaign_type, http.processed_items, http.chain_next) == ("http_keyword_validation", 2, False)


def test_a_refused_start_fails_the_command_and_leaves_the_campaign_pending(root, world):
    source = generated()

    error, output = run_failing(
        "create_campaign", "--type", "dns_validation", "--name", "early", "--source", str(source.pk), "--persona", "local", "--start",
    )

    campaign = Campaign.objects.get(name="early")
    assert campaign.status == "pending"
    assert str(error) == (
        f"Campaign {campaign.pk} was created but its start was refused: start failed: Cannot start “early”: its source"
        " phase “gen” is pending; start the source first (a pipeline starts from its first phase). It is pending:"
        f" start it with `start_campaign {campaign.pk}` once that is fixed."
    )
    assert output.out == ""
    assert DnsResult.objects.count() == 0


# --- refusals: one line, nothing written ---


def rows_written() -> dict[str, int]:
    return {
        "campaigns": Campaign.objects.count(),
        "generation params": DomainGenerationParams.objects.count(),
        "dns params": DnsValidationParams.objects.count(),
        "http params": HttpValidationParams.objects.count(),
        "events": CampaignStateEvent.objects.count(),
        "audit": AuditLog.objects.count(),
        "jobs": CampaignJob.objects.count(),
    }


@pytest.fixture
def sources(world):
    """A generation campaign and a DNS campaign reading it (neither started): what the refusals point at."""
    generation = generated()
    dns = Campaign.objects.get(
        pk=_id(run("create_campaign", "--type", "dns_validation", "--name", "dns", "--source", str(generation.pk), "--persona", "local"))
    )
    Proxy.objects.create(name="squid", scheme="http", host="127.0.0.1", port=3128)
    return {"generation": str(generation.pk), "dns": str(dns.pk)}


MISSING = str(uuid.UUID(int=7))
DNS_REFUSALS = [
    ((), "--source: a dns_validation campaign needs a domain_generation source campaign (its ID)"),
    (("--source", "{generation}"), "--persona: name at least one DNS persona"),
    (("--source", "{generation}", "--persona", "local", "--persona", "nope"), "--persona: no DNS persona 'nope'"),
    (("--source", "{dns}", "--persona", "local"), "--source: must be a domain_generation campaign, not dns_validation"),
    (("--source", MISSING, "--persona", "local"), f"Campaign {MISSING} does not exist."),
    (("--source", "latest", "--persona", "local"), "Error: argument --source: 'latest' is not a campaign id (a UUID)"),
    (("--source", "{generation}", "--persona", "local", "--batch-size", "0"), "--batch-size: must be a whole number from 1 to 100000"),
    (("--source", "{generation}", "--persona", "local", "--keyword-set", "shop"), "--keyword-set is a http_keyword_validation option, not a dns_validation one."),
    (("--source", "{generation}", "--persona", "local", "--chain-dns-persona", "local"), "--chain-dns-persona is a domain_generation option, not a dns_validation one."),
    (("--source", "{generation}", "--persona", "local", "--chain-http-persona", "browser"), "--chain-http-persona needs --chain-next."),
    (
        ("--source", "{generation}", "--persona", "local", "--chain-next", "--chain-http-persona", "nope"),
        "--chain-http-persona: no HTTP persona 'nope'",
    ),
]
HTTP_REFUSALS = [
    (("--persona", "browser"), "--source: a http_keyword_validation campaign needs a dns_validation source campaign (its ID)"),
    (("--source", "{dns}"), "--persona: name exactly one HTTP persona"),
    (("--source", "{dns}", "--persona", "browser", "--persona", "browser"), "--persona: name exactly one HTTP persona"),
    (("--source", "{generation}", "--persona", "browser"), "--source: must be a dns_validation campaign, not domain_generation"),
    (("--source", "{dns}", "--persona", "browser", "--keyword-set", "nope"), "--keyword-set: no keyword set 'nope'"),
    (("--source", "{dns}", "--persona", "browser", "--proxy", "squid", "--proxy", "nope"), "--proxy: no proxy 'nope'"),
    (("--source", "{dns}", "--persona", "browser", "--proxy-strategy", "fastest"), "--proxy-strategy: must be one of round_robin, random, least_used"),
    (("--source", "{dns}", "--persona", "browser", "--port", "80", "--port", "70000"), "--port: must be a list of ports from 1 to 65535"),
    (("--source", "{dns}", "--persona", "browser", "--retries", "11"), "--retries: must be a whole number from 0 to 10"),
    (("--source", "{dns}", "--persona", "browser", "--max-in-flight", "0"), "--max-in-flight: must be a whole number from 1 to 1000"),
    (("--source", "{dns}", "--persona", "browser", "--keyword", " "), "--keyword: must be a list of non-empty strings"),
    (("--source", "{dns}", "--persona", "browser", "--port", "eighty"), "Error: argument --port: invalid int value: 'eighty'"),
]
GENERATION_REFUSALS = [
    (("--chain-dns-persona", "local"), "--chain-dns-persona needs --chain-next."),
    (("--chain-next", "--chain-http-persona", "browser"), "--chain-http-persona needs --chain-dns-persona: the HTTP phase reads the DNS phase's results."),
    (("--chain-next", "--chain-dns-persona", "local", "--chain-keyword", "x"), "--chain-keyword needs --chain-http-persona."),
    (("--chain-next", "--chain-dns-persona", "nope"), "--chain-dns-persona: no DNS persona 'nope'"),
    (
        ("--chain-next", "--chain-dns-persona", "local", "--chain-http-persona", "browser", "--chain-keyword-set", "nope"),
        "--chain-keyword-set: no keyword set 'nope'",
    ),
    (
        ("--chain-next", "--chain-dns-persona", "local", "--chain-http-persona", "browser", "--chain-port", "0"),
        "--chain-port: must be a list of ports from 1 to 65535",
    ),
    (("--source", "{generation}"), "--source is a dns_validation option, not a domain_generation one."),
    (("--persona", "local"), "--persona is a dns_validation option, not a domain_generation one."),
]


def _refusal_cases():
    for campaign_type, cases in (
        ("dns_validation", DNS_REFUSALS), ("http_keyword_validation", HTTP_REFUSALS), ("domain_generation", GENERATION_REFUSALS)
    ):
        for args, message in cases:
            yield pytest.param(campaign_type, args, message, id=f"{campaign_type}:{' '.join(args)}")


@pytest.mark.parametrize(("campaign_type", "args", "message"), list(_refusal_cases()))
def test_bad_validation_input_is_one_line_and_writes_nothing(sources, campaign_type, args, message):
    base = ("create_campaign", "--type", campaign_type, "--name", "refused")
    if campaign_type == "domain_generation":
        base += ("--pattern", "prefix", "--prefix-length", "1", "--charset", "abc", "--constant", "x", "--tld", "com", "--count", "3")
    before = rows_written()

    error, output = run_failing(*base, *(arg.format(**sources) for arg in args))

    assert str(error) == message.format(**sources)
    assert output.out == ""
    assert rows_written() == before


def test_a_refusal_with_json_is_one_error_object(sources):
    error, output = run_failing(
        "create_campaign", "--type", "http_keyword_validation", "--name", "x", "--source", sources["dns"], "--persona", "nope", "--json"
    )

    assert json.loads(output.out) == {"error": "--persona: no HTTP persona 'nope'"}
    assert str(error) == "--persona: no HTTP persona 'nope'"


# --- CSV injection: scraped text never becomes a spreadsheet formula ---


@pytest.mark.parametrize(
    ("scraped", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1 555 0100", "'+1 555 0100"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\tindented", "'\tindented"),
        ("\r=cmd", "'\n=cmd"),  # and a lone CR, which would split the row, becomes LF (quoted)
        ("a\r\nb\rc", "a\nb\nc"),
        ("Plain = fine", "Plain = fine"),
        ("", ""),
    ],
    ids=["equals", "plus", "minus", "at", "tab", "carriage-return", "inner-line-breaks", "inner-equals", "empty"],
)
def test_csv_cells_that_would_run_as_formulas_are_quoted(root, scraped, cell):
    campaign = Campaign.objects.create(name="fetched", campaign_type="http_keyword_validation", owner=root)
    HttpResult.objects.create(
        campaign=campaign, domain_name="x.df.test", batch_number=0, status="success", title=scraped, server=scraped,
        final_url=scraped, error=scraped, keyword_hits=[{"keyword": scraped, "count": 2}], keyword_count=2,
    )

    header, row = csv_rows(run("export_results", str(campaign.pk), "--format", "csv").out)
    jsonl = json.loads(run("export_results", str(campaign.pk), "--format", "jsonl").out)

    cells = dict(zip(header, row))
    assert [cells[c] for c in ("Title", "Server", "Final URL", "Error")] == [cell] * 4
    assert cells["Keyword hits"] == f"{cell}:2"
    assert [jsonl[c] for c in ("title", "server", "final_url", "error")] == [scraped] * 4  # JSON keeps the data as it was
