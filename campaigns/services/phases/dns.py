"""The DNS phase's batch: the names it resolves, and its one-transaction record."""
from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from campaigns import dns
from campaigns.models import DnsPersona, DnsResult, DnsValidationParams
from campaigns.services.jobs import ClaimedJob, job_succeed
from campaigns.services.phases.batch import batch_close
from campaigns.services.phases.inputs import in_order, source_names
from campaigns.services.phases.rows import copy_rows, copy_rows_isolated, storable
from txmetrics.decorators import safe_transaction

COLUMNS = (
    "campaign_id", "domain_name", "batch_number", "status", "business_status", "ips", "rcode", "resolver",
    "persona", "attempts", "latency_ms", "checked_at",
)
TABLE = DnsResult._meta.db_table


@dataclass(frozen=True)
class DnsWork:
    domains: list[str]
    personas: list[dns.DnsPersonaConfig]


def dns_load(job: ClaimedJob) -> DnsWork:
    """What a DNS job resolves, and through which personas (read outside any transaction)."""
    params = DnsValidationParams.objects.get(campaign_id=job.campaign_id)
    personas = [p.config() for p in in_order(DnsPersona, params.persona_ids)]
    return DnsWork(domains=source_names(job), personas=personas)


def _rows(job: ClaimedJob, outcomes: list[dns.DnsOutcome]) -> list[tuple]:
    now = timezone.now()
    return [
        (job.campaign_id, o.domain, job.batch_number, o.status, o.business_status, list(o.ips), o.rcode,
         storable(o.resolver), storable(o.persona), o.attempts, o.latency_ms, now)
        for o in outcomes
    ]


def _error_row(row: tuple, error: str) -> tuple:
    return (*row[:3], "error", "", [], "", "", "", row[9], row[10], row[11])


@safe_transaction(operation="dns.record_batch", campaign_of=lambda kwargs: kwargs["job"].campaign_id)
def dns_record_batch(*, job: ClaimedJob, worker_id: str, outcomes: list[dns.DnsOutcome], isolate: bool = False) -> int:
    """Write a DNS batch's results, count them and feed the HTTP phase, in one transaction."""
    rows = _rows(job, outcomes)
    if isolate:
        stored = copy_rows_isolated(TABLE, COLUMNS, rows, error_row=_error_row)
    else:
        copy_rows(TABLE, COLUMNS, rows)
        stored = [row[3] for row in rows]
    resolved = stored.count("resolved")
    job_succeed(job, result_count=len(rows), output=(None, None, resolved))
    batch_close(job, worker_id=worker_id, processed=len(rows), successful=resolved, negative=stored.count("unresolved"))
    return len(outcomes)
