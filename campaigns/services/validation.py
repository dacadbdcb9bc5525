"""The DNS and HTTP phases: params, pending result rows, running a batch, recording it.

A batch's network work (campaigns.dns / campaigns.http) runs with no
transaction open; its results, the counters and the job's completion are then
written in one short transaction that first re-checks the job's lease.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from campaigns import dns, http, keywords
from campaigns.models import (
    Campaign,
    CampaignStatus,
    CampaignType,
    DnsPersona,
    DnsResult,
    DnsValidationParams,
    GeneratedDomain,
    HttpPersona,
    HttpResult,
    HttpValidationParams,
    JobStatus,
    KeywordRule,
    KeywordSet,
    Proxy,
)
from campaigns.services.engine import campaign_finish_if_done
from campaigns.services.errors import CampaignError, InvalidCampaignParams
from campaigns.services.jobs import ClaimedJob, job_finish, job_requeue, lock_job
from campaigns.services.ratelimit import SharedRateLimits
from campaigns.services.transitions import lock_campaign
from txmetrics.decorators import safe_transaction

# Which campaign type each phase reads from.
SOURCE_TYPE = {
    CampaignType.DNS_VALIDATION: CampaignType.DOMAIN_GENERATION,
    CampaignType.HTTP_KEYWORD_VALIDATION: CampaignType.DNS_VALIDATION,
}


# --- params ---


def _ids_by_name(model, values: Any, field: str) -> list[int]:
    """Accept a list of names or ids; return ids in the given order, or refuse naming the unknown one."""
    if isinstance(values, (str, int)):
        values = [values]
    if not isinstance(values, (list, tuple)):
        raise InvalidCampaignParams({field: "must be a list of names or ids"})
    ids = []
    for value in values:
        lookup = {"pk": value} if isinstance(value, int) else {"name": value}
        found = model.objects.filter(**lookup).values_list("pk", flat=True).first()
        if found is None:
            raise InvalidCampaignParams({field: f"no {model._meta.verbose_name} {value!r}"})
        ids.append(found)
    return ids


def _positive(params: dict[str, Any], key: str, default: int, *, maximum: int) -> int:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidCampaignParams({key: f"must be a whole number from 1 to {maximum}"})
    return value


def build_params(campaign_type: str, params: dict[str, Any]) -> Callable[[Campaign], Any]:
    """Validate a DNS or HTTP campaign's params before any transaction; return their saver."""
    if campaign_type == CampaignType.DNS_VALIDATION:
        unknown = sorted(set(params) - {"personas", "batch_size"})
        if unknown:
            raise InvalidCampaignParams({unknown[0]: "is not a DNS validation parameter"})
        persona_ids = _ids_by_name(DnsPersona, params.get("personas") or [], "personas")
        if not persona_ids:
            raise InvalidCampaignParams({"personas": "name at least one DNS persona"})
        model = DnsValidationParams(persona_ids=persona_ids, batch_size=_positive(params, "batch_size", 500, maximum=100_000))
    elif campaign_type == CampaignType.HTTP_KEYWORD_VALIDATION:
        allowed = {"persona", "keyword_sets", "adhoc_keywords", "proxies", "proxy_strategy", "target_ports", "batch_size", "retries", "max_in_flight"}
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise InvalidCampaignParams({unknown[0]: "is not an HTTP validation parameter"})
        persona = _ids_by_name(HttpPersona, params.get("persona") or [], "persona")
        if len(persona) != 1:
            raise InvalidCampaignParams({"persona": "name exactly one HTTP persona"})
        ports = params.get("target_ports") or []
        if not isinstance(ports, list) or any(isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535 for p in ports):
            raise InvalidCampaignParams({"target_ports": "must be a list of ports from 1 to 65535"})
        strategy = params.get("proxy_strategy", "round_robin")
        if strategy not in HttpValidationParams.ProxyStrategy.values:
            raise InvalidCampaignParams({"proxy_strategy": f"must be one of {', '.join(HttpValidationParams.ProxyStrategy.values)}"})
        adhoc = params.get("adhoc_keywords") or []
        if not isinstance(adhoc, list) or any(not isinstance(k, str) or not k.strip() for k in adhoc):
            raise InvalidCampaignParams({"adhoc_keywords": "must be a list of non-empty strings"})
        retries = params.get("retries", 1)
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
            raise InvalidCampaignParams({"retries": "must be a whole number from 0 to 10"})
        model = HttpValidationParams(
            persona_id=persona[0],
            keyword_set_ids=_ids_by_name(KeywordSet, params.get("keyword_sets") or [], "keyword_sets"),
            adhoc_keywords=[k.strip() for k in adhoc],
            proxy_ids=_ids_by_name(Proxy, params.get("proxies") or [], "proxies"),
            proxy_strategy=strategy,
            target_ports=ports,
            batch_size=_positive(params, "batch_size", 100, maximum=10_000),
            retries=retries,
            max_in_flight=_positive(params, "max_in_flight", 50, maximum=1000),
        )
    else:
        raise InvalidCampaignParams({"campaign_type": f"unknown campaign type {campaign_type!r}"})

    def save(campaign: Campaign) -> Any:
        model.campaign = campaign
        model.save(force_insert=True)
        return model

    return save


def check_source(campaign_type: str, source: Campaign | None) -> None:
    """A validation campaign reads the output of the phase before it."""
    wanted = SOURCE_TYPE.get(campaign_type)
    if wanted is None:
        if source is not None:
            raise InvalidCampaignParams({"source_campaign": "a domain generation campaign has no source"})
        return
    if source is None:
        raise InvalidCampaignParams({"source_campaign": f"a {campaign_type} campaign needs a {wanted} source campaign"})
    if source.campaign_type != wanted:
        raise InvalidCampaignParams({"source_campaign": f"must be a {wanted} campaign, not {source.campaign_type}"})


# --- start: one pending row per source item, in one statement ---

_DNS_ROWS_SQL = f"""
INSERT INTO {DnsResult._meta.db_table} (campaign_id, domain_name, batch_number, status, business_status, ips, rcode, resolver, persona, attempts)
SELECT %(campaign)s, domain_name, ((row_number() OVER (ORDER BY offset_index)) - 1) / %(batch)s, 'pending', '', '{{}}', '', '', '', 0
FROM {GeneratedDomain._meta.db_table} WHERE campaign_id = %(source)s
"""
_HTTP_ROWS_SQL = f"""
INSERT INTO {HttpResult._meta.db_table}
    (campaign_id, domain_name, batch_number, ips, status, business_status, final_url, redirect_count, title, server,
     body_sha256, snippet, keyword_hits, keyword_count, persona, proxy, attempts, error)
SELECT %(campaign)s, domain_name, ((row_number() OVER (ORDER BY domain_name)) - 1) / %(batch)s, ips, 'pending', '', '', 0, '', '',
       '', '', '[]', 0, '', '', 0, ''
FROM {DnsResult._meta.db_table} WHERE campaign_id = %(source)s AND status = 'resolved'
"""


def results_create_for_start(campaign: Campaign) -> int:
    """Create the campaign's pending result rows; set total_items to their count; return the batch count."""
    source = campaign.source_campaign
    if source is None or source.status not in (CampaignStatus.COMPLETED, CampaignStatus.ARCHIVED):
        status = source.status if source else "missing"
        raise CampaignError(f"Cannot start: source campaign is {status}; it must be completed first.")
    if campaign.campaign_type == CampaignType.DNS_VALIDATION:
        batch, sql = campaign.dns_params.batch_size, _DNS_ROWS_SQL
    else:
        batch, sql = campaign.http_params.batch_size, _HTTP_ROWS_SQL
    with connection.cursor() as cursor:
        cursor.execute(sql, {"campaign": campaign.pk, "batch": batch, "source": source.pk})
        campaign.total_items = cursor.rowcount
    return math.ceil(campaign.total_items / batch)


# --- running a batch ---


def run_validation_job(*, job: ClaimedJob, worker_id: str) -> int:
    """Resolve or fetch the job's pending rows (no transaction open), then record them in one."""
    campaign = Campaign.objects.get(pk=job.campaign_id)
    if campaign.campaign_type == CampaignType.DNS_VALIDATION:
        params = campaign.dns_params
        domains = list(
            DnsResult.objects.filter(campaign=campaign, batch_number=job.batch_number, status="pending")
            .order_by("domain_name")
            .values_list("domain_name", flat=True)
        )
        personas = _in_order(DnsPersona, params.persona_ids)
        outcomes = []
        if domains:
            # A persona's rate limit holds for all workers together, not for each batch.
            with SharedRateLimits() as shared_limits:
                outcomes = dns.resolve_batch(domains, personas=[p.config() for p in personas], rate_reserver=shared_limits)
        return record_dns_batch(job=job, worker_id=worker_id, outcomes=outcomes, campaign_id=job.campaign_id)

    params = campaign.http_params
    rows = list(
        HttpResult.objects.filter(campaign=campaign, batch_number=job.batch_number, status="pending")
        .order_by("domain_name")
        .values_list("domain_name", "ips")
    )
    persona = HttpPersona.objects.get(pk=params.persona_id)
    rules = [
        keywords.compile_rule(rule.spec())
        for rule in KeywordRule.objects.filter(keyword_set_id__in=params.keyword_set_ids).select_related("keyword_set")
    ]
    proxies = _in_order(Proxy, params.proxy_ids)
    pool = None
    if proxies:
        pool = http.ProxyPool(
            [http.ProxyConfig(key=p.name, url=p.url()) for p in proxies if p.enabled],
            strategy=params.proxy_strategy,
            usage={p.name: p.use_count for p in proxies},
            unhealthy=[p.name for p in proxies if not p.healthy],
        )
    outcomes = []
    if rows:
        outcomes = http.fetch_batch(
            [http.FetchTarget(domain=name, ips=tuple(ips)) for name, ips in rows],
            persona=persona.config(),
            rules=rules,
            adhoc_keywords=params.adhoc_keywords,
            ports=params.target_ports or (443, 80),
            proxies=pool,
            retries=params.retries,
            max_in_flight=params.max_in_flight,
            allow_private=settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS,
            ca_file=settings.DOMAINFLOW_HTTP_CA_FILE or None,
        )
    if pool is not None:
        proxies_record_health(stats=pool.stats())
    return record_http_batch(job=job, worker_id=worker_id, outcomes=outcomes, campaign_id=job.campaign_id)


def _in_order(model, ids: list[int]) -> list[Any]:
    found = model.objects.in_bulk(ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise CampaignError(f"{model._meta.verbose_name} {missing[0]} no longer exists")
    return [found[i] for i in ids]


def _lock_for_results(job: ClaimedJob) -> tuple[Campaign, Any, bool]:
    """Lock campaign then job; say whether results may be written (the campaign is running)."""
    campaign = lock_campaign(job.campaign_id)
    row = lock_job(job)
    if campaign.status == CampaignStatus.CANCELLED:
        job_finish(row, status=JobStatus.CANCELLED)
        return campaign, row, False
    if campaign.status != CampaignStatus.RUNNING:
        # Paused since the claim: the pause wins; the batch runs again after resume.
        job_requeue(row, error="", count_attempt=False)
        return campaign, row, False
    return campaign, row, True


_DNS_UPDATE_SQL = f"""
UPDATE {DnsResult._meta.db_table} r
SET status = u.status, business_status = u.business_status, ips = string_to_array(u.ips, ',')::varchar[],
    rcode = u.rcode, resolver = u.resolver, persona = u.persona, attempts = u.attempts, latency_ms = u.latency_ms,
    checked_at = now()
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::int[])
     AS u(domain_name, status, business_status, ips, rcode, resolver, persona, attempts, latency_ms)
WHERE r.campaign_id = %s AND r.domain_name = u.domain_name AND r.status = 'pending'
"""


@safe_transaction(operation="dns.record_batch")
def record_dns_batch(*, job: ClaimedJob, worker_id: str, outcomes: list[dns.DnsOutcome], campaign_id: object = None) -> int:
    campaign, row, writable = _lock_for_results(job)
    if not writable:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            _DNS_UPDATE_SQL,
            [
                [o.domain for o in outcomes],
                [o.status for o in outcomes],
                [o.business_status for o in outcomes],
                [",".join(o.ips) for o in outcomes],
                [o.rcode for o in outcomes],
                [o.resolver for o in outcomes],
                [o.persona for o in outcomes],
                [o.attempts for o in outcomes],
                [o.latency_ms for o in outcomes],
                campaign.pk,
            ],
        )
        written = cursor.rowcount
    resolved = sum(1 for o in outcomes if o.status == "resolved")
    _count(campaign, processed=written, successful=resolved, failed=written - resolved)
    job_finish(row, result_count=written)
    campaign_finish_if_done(campaign, worker_id=worker_id)
    return written


@safe_transaction(operation="http.record_batch")
def record_http_batch(*, job: ClaimedJob, worker_id: str, outcomes: list[http.HttpOutcome], campaign_id: object = None) -> int:
    campaign, row, writable = _lock_for_results(job)
    if not writable:
        return 0
    by_domain = {o.domain: o for o in outcomes}
    results = list(
        HttpResult.objects.select_for_update().filter(campaign=campaign, domain_name__in=list(by_domain), status="pending")
    )
    for result in results:
        o = by_domain[result.domain_name]
        hits = [
            {"keyword_set": h.keyword_set, "keyword": h.keyword, "kind": h.kind, "count": h.count, "contexts": list(h.contexts)}
            for h in o.keyword_hits
        ]
        result.status, result.business_status, result.status_code = o.status, o.business_status, o.status_code
        result.final_url, result.redirect_count, result.title, result.server = o.final_url, o.redirect_count, o.title, o.server
        result.content_length, result.body_sha256, result.snippet = o.content_length, o.body_sha256, o.snippet
        result.keyword_hits, result.keyword_count = hits, sum(h["count"] for h in hits)
        result.persona, result.proxy, result.attempts = o.persona, o.proxy, o.attempts
        result.response_time_ms, result.error = o.response_time_ms, o.error
    now = timezone.now()
    for result in results:
        result.checked_at = now
    HttpResult.objects.bulk_update(
        results,
        ["status", "business_status", "status_code", "final_url", "redirect_count", "title", "server", "content_length",
         "body_sha256", "snippet", "keyword_hits", "keyword_count", "persona", "proxy", "attempts", "response_time_ms",
         "error", "checked_at"],
        batch_size=500,
    )
    succeeded = sum(1 for r in results if r.status == "success")
    _count(campaign, processed=len(results), successful=succeeded, failed=len(results) - succeeded)
    job_finish(row, result_count=len(results))
    campaign_finish_if_done(campaign, worker_id=worker_id)
    return len(results)


def _count(campaign: Campaign, *, processed: int, successful: int, failed: int) -> None:
    campaign.processed_items += processed
    campaign.successful_items += successful
    campaign.failed_items += failed
    campaign.save(update_fields=["processed_items", "successful_items", "failed_items", "updated_at"])


@safe_transaction(operation="proxy.record_health")
def proxies_record_health(*, stats) -> None:
    """Persist what a batch learnt about its proxies (usage, failures, health)."""
    for stat in stats:
        Proxy.objects.filter(name=stat.key).update(
            use_count=F("use_count") + stat.uses,
            consecutive_failures=stat.consecutive_failures,
            healthy=stat.healthy,
        )


# --- chaining: on completion only ---


def chain_next_phase(campaign: Campaign) -> Campaign | None:
    """Create and start the campaign this one feeds (inside the completing transaction)."""
    next_type = {v: k for k, v in SOURCE_TYPE.items()}.get(campaign.campaign_type)
    if not campaign.chain_next or next_type is None:
        return None
    params = (campaign.chain_params or {}).get(next_type)
    if params is None:
        return None
    from campaigns.services.campaigns import create_in_transaction

    save_params = build_params(next_type, params)
    further = {k: v for k, v in campaign.chain_params.items() if k != next_type}
    return create_in_transaction(
        actor=campaign.owner,
        name=f"{campaign.name} → {next_type.replace('_', ' ')}",
        campaign_type=next_type,
        owner_id=campaign.owner_id,
        source_campaign_id=campaign.pk,
        chain_next=bool(further),
        chain_params=further,
        save_params=save_params,
        start=True,
        lock_source=False,
    ).campaign

