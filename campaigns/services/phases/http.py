"""The HTTP phase's batch: the sites it fetches and how, and its one-transaction record."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any

from django.conf import settings
from django.db.models import F
from psycopg.types.json import Jsonb

from campaigns import http, keywords
from campaigns.models import HttpPersona, HttpResult, HttpValidationParams, KeywordRule, Proxy
from campaigns.services.jobs import ClaimedJob, job_succeed
from campaigns.services.phases.batch import batch_close
from campaigns.services.phases.inputs import in_order, source_resolved
from campaigns.services.phases.rows import COPY_NULL, copy_array, copy_chunks, copy_escape, copy_rows_isolated
from txmetrics.decorators import safe_transaction

# checked_at is left to its default, the database's clock at the write (campaigns/models/validation.py).
COLUMNS = (
    "campaign_id", "domain_name", "batch_number", "ips", "status", "business_status", "status_code", "final_url",
    "redirect_count", "title", "server", "content_length", "body_sha256", "snippet", "keyword_hits",
    "keyword_count", "persona", "proxy", "attempts", "response_time_ms", "error",
)
TABLE = HttpResult._meta.db_table
# Rows per chunk of a batch's COPY text: about psycopg's 32 KiB send buffer for typical pages.
CHUNK_ROWS = 32


@dataclass
class HttpWork:
    targets: list[http.FetchTarget]
    options: dict[str, Any]  # the keyword arguments of http.fetch_many besides the targets
    proxies: http.ProxyPool | None


def http_load(job: ClaimedJob) -> HttpWork:
    """What an HTTP job fetches, and how (read outside any transaction)."""
    params = HttpValidationParams.objects.get(campaign_id=job.campaign_id)
    persona = in_order(HttpPersona, [params.persona_id])[0]
    rules = [
        keywords.compile_rule(rule.spec())
        for rule in KeywordRule.objects.filter(keyword_set_id__in=params.keyword_set_ids).select_related("keyword_set")
    ]
    pool = None
    proxies = in_order(Proxy, params.proxy_ids)
    if proxies:
        pool = http.ProxyPool(
            [http.ProxyConfig(key=p.name, url=p.url()) for p in proxies if p.enabled],
            strategy=params.proxy_strategy,
            usage={p.name: p.use_count for p in proxies},
            unhealthy=[p.name for p in proxies if not p.healthy],
        )
    options = {
        "persona": persona.config(),
        "rules": rules,
        "adhoc_keywords": params.adhoc_keywords,
        "ports": params.target_ports or (443, 80),
        "proxies": pool,
        "retries": params.retries,
        "max_in_flight": params.max_in_flight,
        "allow_private": settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS,
        "ca_file": settings.DOMAINFLOW_HTTP_CA_FILE or None,
        "max_buffered_bytes": settings.DOMAINFLOW_HTTP_MAX_BUFFERED_BYTES,
    }
    targets = [http.FetchTarget(domain=name, ips=tuple(ips)) for name, ips in source_resolved(job)]
    return HttpWork(targets=targets, options=options, proxies=pool)


def _rows(job: ClaimedJob, work: HttpWork, outcomes: list[http.HttpOutcome]) -> list[tuple]:
    """One row per outcome, in target order. Outcomes come storable from campaigns.http (NUL and
    lone surrogates replaced); a value PostgreSQL still refuses is isolated by a row-by-row write."""
    rows = []
    for target, o in zip(work.targets, outcomes):
        hits = [
            {"keyword_set": h.keyword_set, "keyword": h.keyword, "kind": h.kind, "count": h.count, "contexts": list(h.contexts)}
            for h in o.keyword_hits
        ]
        rows.append((
            job.campaign_id, o.domain, job.batch_number, list(target.ips), o.status, o.business_status,
            o.status_code, o.final_url, o.redirect_count, o.title, o.server, o.content_length, o.body_sha256,
            o.snippet, Jsonb(hits), sum(h["count"] for h in hits), o.persona, o.proxy, o.attempts,
            o.response_time_ms, o.error,
        ))
    return rows


def _hits_json(hits: tuple[keywords.KeywordHit, ...]) -> str:
    """Keyword hits as compact JSON, without json.dumps' dispatch on every object. ASCII only, as
    json.dumps writes it: a lone surrogate that slipped through reaches PostgreSQL as an escape it
    refuses (and the row is isolated), not as a string the client cannot encode."""
    return "[" + ",".join(
        f'{{"keyword_set":{_json_string(h.keyword_set)},"keyword":{_json_string(h.keyword)},'
        f'"kind":{_json_string(h.kind)},"count":{h.count},"contexts":[{",".join(map(_json_string, h.contexts))}]}}'
        for h in hits
    ) + "]"


def _lines(job: ClaimedJob, work: HttpWork, outcomes: list[http.HttpOutcome]) -> Iterator[str]:
    """The rows of _rows as COPY text, in chunks of CHUNK_ROWS rows built in one pass: psycopg's
    per-value adapters and a Jsonb per row cost over twice the CPU, on the thread the network's event
    loop shares the interpreter with. Text comes storable (see _rows) and is only escaped; status
    words and the body digest are written by campaigns.http and need no escaping."""
    head = f"{job.campaign_id}\t"
    batch = f"\t{job.batch_number}\t"
    rows = zip(work.targets, outcomes)
    while chunk := list(islice(rows, CHUNK_ROWS)):
        yield "".join(
            f"{head}{copy_escape(o.domain)}{batch}{copy_array(target.ips)}\t{o.status}\t{o.business_status}"
            f"\t{COPY_NULL if o.status_code is None else o.status_code}\t{copy_escape(o.final_url)}\t{o.redirect_count}"
            f"\t{copy_escape(o.title)}\t{copy_escape(o.server)}\t{COPY_NULL if o.content_length is None else o.content_length}"
            f"\t{o.body_sha256}\t{copy_escape(o.snippet)}\t{copy_escape(_hits_json(o.keyword_hits))}"
            f"\t{sum(h.count for h in o.keyword_hits)}\t{copy_escape(o.persona)}\t{copy_escape(o.proxy)}\t{o.attempts}"
            f"\t{COPY_NULL if o.response_time_ms is None else o.response_time_ms}\t{copy_escape(o.error)}\n"
            for target, o in chunk
        )


def _error_row(row: tuple, error: str) -> tuple:
    return (*row[:4], "error", "invalid_http_response_error", None, "", 0, "", "", None, "", "", Jsonb([]), 0,
            row[16], row[17], row[18], row[19], error)


@safe_transaction(operation="http.record_batch", campaign_of=lambda kwargs: kwargs["job"].campaign_id, wait_for_flush=False)
def http_record_batch(*, job: ClaimedJob, worker_id: str, work: HttpWork, outcomes: list[http.HttpOutcome], isolate: bool = False) -> int:
    """Write an HTTP batch's results and count them, in one transaction."""
    if isolate:
        stored = copy_rows_isolated(TABLE, COLUMNS, _rows(job, work, outcomes), error_row=_error_row)
    else:
        if outcomes:  # a job over a DNS batch with nothing resolved in its range writes no rows
            copy_chunks(TABLE, COLUMNS, _lines(job, work, outcomes))
        stored = [o.status for _, o in zip(work.targets, outcomes)]
    succeeded = stored.count("success")
    job_succeed(job, result_count=len(stored), output=(None, None, succeeded))
    batch_close(job, worker_id=worker_id, processed=len(stored), successful=succeeded, negative=stored.count("failed"))
    return len(stored)


@safe_transaction(operation="proxy.record_health")
def proxies_record_health(*, stats) -> None:
    """Persist what a batch learnt about its proxies (usage, failures, health)."""
    for stat in stats:
        Proxy.objects.filter(name=stat.key).update(
            use_count=F("use_count") + stat.uses,
            consecutive_failures=stat.consecutive_failures,
            healthy=stat.healthy,
        )
