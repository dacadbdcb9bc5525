"""An HTTP batch written as prebuilt COPY text reads back exactly as its outcomes hold it."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.http import FetchTarget, HttpOutcome
from campaigns.keywords import KeywordHit
from campaigns.models import Campaign, HttpResult
from campaigns.services.jobs import ClaimedJob
from campaigns.services.phases.http import HttpWork, http_load, http_record_batch
from campaigns.services.phases.rows import record_or_isolate
from tests.factories import UserFactory
from tests.support.engine import claim_http_jobs

pytestmark = pytest.mark.django_db(transaction=True)

# Text that COPY's text format, an array literal or JSON gives a meaning to, and text that only
# looks like it does.
SAMPLES = (
    "tab\there", "new\nline", "carriage\rreturn", "crlf\r\n", "back\\slash", "\\N", "\\.", "\\", "",
    "\\t and \\n, not escapes", 'double "quotes" and \'single\'', "comma, {braces} [brackets]", "NULL",
    "  padded  ", "unicode: é ü ß 漢字 🙂", "\x01\x1f control", "\u2028line separator",
)
# Address lists: plain ones, and elements an array literal must quote (the column holds any text).
IPS = (
    ("127.0.0.1",), ("127.0.0.1", "::1"), (), ("",), ('a"b', "c,d"), ("back\\slash", "NULL", "null"),
    (" sp ", "{x}", "tab\tx"), ("new\nline", "\\N"),
)
STATUSES = (("success", "lead_valid"), ("success", "http_valid_no_keywords"), ("failed", "invalid_http_code"),
            ("error", "invalid_http_response_error"), ("timeout", "invalid_http_response_error"))


@pytest.fixture(autouse=True)
def private_targets(settings):
    settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS = True


@pytest.fixture
def http_batch(make_world) -> tuple[ClaimedJob, HttpWork]:
    """A claimed HTTP job over len(SAMPLES) resolved names, its work loaded (the phases before it run here)."""
    world = make_world(count=2 * len(SAMPLES), batch_size=2 * len(SAMPLES))
    _, dns_phase, http_phase = world.pipeline(UserFactory(), dns_batch=100, http_batch=100)
    [job] = claim_http_jobs(dns_phase, http_phase, worker_id="here")
    work = http_load(job=job)
    assert len(work.targets) == len(SAMPLES)
    return job, work


def hostile_batch(work: HttpWork) -> tuple[HttpWork, list[HttpOutcome]]:
    """Outcomes whose every text field takes every sample in turn, with NULLs and hits of every shape."""
    targets, outcomes = [], []
    for i, target in enumerate(work.targets):
        text = [SAMPLES[(i + k) % len(SAMPLES)] for k in range(12)]
        hits = tuple(
            KeywordHit(keyword_set=text[8 + n], keyword=text[9 + n], kind="string", count=i + n + 1,
                       contexts=tuple(text[n:n + 3]) + ("",) * n)
            for n in range(i % 3)
        )
        status, business_status = STATUSES[i % len(STATUSES)]
        targets.append(FetchTarget(domain=target.domain, ips=IPS[i % len(IPS)]))
        outcomes.append(HttpOutcome(
            domain=target.domain + text[0], status=status, business_status=business_status,
            status_code=None if i % 2 else 200 + i, final_url=text[1], redirect_count=i, title=text[2],
            server=text[3], content_length=None if i % 3 == 1 else 10_000 * i, body_sha256=f"{i:064x}",
            snippet=text[4] * 20, keyword_hits=hits, persona=text[5], proxy=text[6], attempts=i % 4,
            response_time_ms=None if i % 4 == 2 else 7 * i, error=text[7],
        ))
    return replace(work, targets=targets), outcomes


def expected_row(job: ClaimedJob, target: FetchTarget, outcome: HttpOutcome) -> dict:
    hits = [
        {"keyword_set": h.keyword_set, "keyword": h.keyword, "kind": h.kind, "count": h.count, "contexts": list(h.contexts)}
        for h in outcome.keyword_hits
    ]
    return {
        "campaign_id": job.campaign_id, "domain_name": outcome.domain, "batch_number": job.batch_number,
        "ips": list(target.ips), "status": outcome.status, "business_status": outcome.business_status,
        "status_code": outcome.status_code, "final_url": outcome.final_url, "redirect_count": outcome.redirect_count,
        "title": outcome.title, "server": outcome.server, "content_length": outcome.content_length,
        "body_sha256": outcome.body_sha256, "snippet": outcome.snippet, "keyword_hits": hits,
        "keyword_count": sum(h.count for h in outcome.keyword_hits), "persona": outcome.persona,
        "proxy": outcome.proxy, "attempts": outcome.attempts, "response_time_ms": outcome.response_time_ms,
        "error": outcome.error,
    }


def stored_rows(job: ClaimedJob, fields) -> dict[str, dict]:
    rows = HttpResult.objects.filter(campaign_id=job.campaign_id).order_by("id").values("checked_at", *fields)
    return {row["domain_name"]: row for row in rows}


def test_every_field_of_a_hostile_batch_reads_back_as_the_outcome_held_it(http_batch):
    job, work = http_batch
    work, outcomes = hostile_batch(work)
    started = timezone.now()

    assert http_record_batch(job=job, worker_id="here", work=work, outcomes=outcomes) == len(outcomes)

    expected = [expected_row(job, target, outcome) for target, outcome in zip(work.targets, outcomes)]
    stored = stored_rows(job, expected[0])
    assert list(stored) == [row["domain_name"] for row in expected]  # one row per outcome, in target order
    for row in expected:
        got = stored[row["domain_name"]]
        assert {field: got[field] for field in row} == row
        assert started - timedelta(seconds=1) <= got["checked_at"] <= timezone.now()
    assert len({row["checked_at"] for row in stored.values()}) == 1
    after = Campaign.objects.get(pk=job.campaign_id)
    assert (after.processed_items, after.successful_items) == (
        len(outcomes), sum(o.status == "success" for o in outcomes))


@pytest.mark.parametrize("where", ["title", "keyword context"])
def test_a_nul_that_slipped_through_costs_only_its_own_row(http_batch, where):
    job, work = http_batch
    work, outcomes = hostile_batch(work)
    hit = KeywordHit(keyword_set="s", keyword="k", kind="string", count=1, contexts=("a\x00b",))
    bad = {"title": {"title": "a\x00b"}, "keyword context": {"keyword_hits": (hit,)}}[where]
    outcomes[3] = outcomes[3]._replace(**bad)

    assert record_or_isolate(http_record_batch, job=job, worker_id="here", work=work, outcomes=outcomes) == len(outcomes)

    expected = [expected_row(job, target, outcome) for target, outcome in zip(work.targets, outcomes)]
    stored = stored_rows(job, expected[0])
    assert list(stored) == [row["domain_name"] for row in expected]
    refused = stored.pop(outcomes[3].domain)
    assert (refused["status"], refused["title"], refused["keyword_hits"]) == ("error", "", [])
    assert refused["error"].startswith("result could not be stored: ")
    for row in expected[:3] + expected[4:]:
        got = stored[row["domain_name"]]
        assert {field: got[field] for field in row} == row
