"""The DNS phase's batch: the names it resolves, and its one-transaction record."""
from __future__ import annotations

from dataclasses import dataclass

from campaigns import dns
from campaigns.models import DnsPersona, DnsResult, DnsValidationParams
from campaigns.services.jobs import ClaimedJob, job_succeed
from campaigns.services.phases.batch import batch_close
from campaigns.services.phases.inputs import in_order, source_names
from campaigns.services.phases.rows import copy_lines, copy_rows_isolated, copy_text, storable
from txmetrics.decorators import safe_transaction

# checked_at is left to its default, the database's clock at the write (campaigns/models/validation.py).
COLUMNS = (
    "campaign_id", "domain_name", "batch_number", "status", "business_status", "ips", "rcode", "resolver",
    "persona", "attempts", "latency_ms",
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
    return [
        (job.campaign_id, o.domain, job.batch_number, o.status, o.business_status, list(o.ips), o.rcode,
         storable(o.resolver), storable(o.persona), o.attempts, o.latency_ms)
        for o in outcomes
    ]


def _lines(job: ClaimedJob, outcomes: list[dns.DnsOutcome]) -> str:
    """The batch as COPY text, built in one pass: at tens of thousands of names a second, a generic
    per-value adapter costs more than the rest of the write. Names are LDH and addresses are
    written by the resolver; only persona and resolver labels need escaping."""
    head = f"{job.campaign_id}\t"
    labels: dict[str, str] = {}

    def label(text: str) -> str:
        if text not in labels:
            labels[text] = copy_text(text)
        return labels[text]

    return "".join(
        f"{head}{o.domain}\t{job.batch_number}\t{o.status}\t{o.business_status}\t{{{','.join(o.ips)}}}\t{o.rcode}"
        f"\t{label(o.resolver)}\t{label(o.persona)}\t{o.attempts}\t{o.latency_ms}\n"
        for o in outcomes
    )


def _error_row(row: tuple, error: str) -> tuple:
    return (*row[:3], "error", "", [], "", "", "", row[9], row[10])


@safe_transaction(operation="dns.record_batch", campaign_of=lambda kwargs: kwargs["job"].campaign_id, wait_for_flush=False)
def dns_record_batch(*, job: ClaimedJob, worker_id: str, outcomes: list[dns.DnsOutcome], isolate: bool = False) -> int:
    """Write a DNS batch's results, count them and feed the HTTP phase, in one transaction."""
    if isolate:
        stored = copy_rows_isolated(TABLE, COLUMNS, _rows(job, outcomes), error_row=_error_row)
    else:
        copy_lines(TABLE, COLUMNS, _lines(job, outcomes))
        stored = [o.status for o in outcomes]
    resolved = stored.count("resolved")
    job_succeed(job, result_count=len(stored), output=(None, None, resolved))
    batch_close(job, worker_id=worker_id, processed=len(stored), successful=resolved, negative=stored.count("unresolved"))
    return len(outcomes)
