"""Running one domain generation batch: reserve offsets, generate, COPY, count, finish."""
from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from campaigns import generation
from campaigns.models import CampaignStatus, DomainGenerationConfigState, GeneratedDomain, JobStatus
from campaigns.services.engine import campaign_finish_if_done
from campaigns.services.jobs import ClaimedJob, job_finish, job_requeue, jobs_cancel_unfinished, lock_job
from campaigns.services.transitions import lock_campaign
from txmetrics.decorators import safe_transaction

_RESERVE_SQL = (
    f"INSERT INTO {DomainGenerationConfigState._meta.db_table} (config_hash, last_offset, version, updated_at)"
    " VALUES (%s, 0, 0, now())"
    " ON CONFLICT (config_hash) DO UPDATE SET updated_at = now()"
    " RETURNING last_offset"
)
_ADVANCE_SQL = (
    f"UPDATE {DomainGenerationConfigState._meta.db_table}"
    " SET last_offset = %s, version = version + 1, updated_at = now() WHERE config_hash = %s"
)
_COPY_SQL = f"COPY {GeneratedDomain._meta.db_table} (campaign_id, offset_index, domain_name) FROM STDIN"


@dataclass(frozen=True)
class BatchOutcome:
    status: str  # generated | released | cancelled | lease_lost
    generated: int = 0


@safe_transaction(operation="generation.batch")
def generation_run_batch(*, job: ClaimedJob, worker_id: str, campaign_id: object = None) -> BatchOutcome:
    """Generate the job's domains and record them, all in one transaction.

    1. Lock the campaign, then the job (proving the lease is still ours).
    2. Lock the config's offset row (upsert), so campaigns sharing the config
       take disjoint offset ranges, in the order they commit.
    3. Generate from last_offset until `want` valid names, COPY them in,
       advance last_offset, add to the counters, finish the job.
    A crash anywhere rolls all of it back: the job's lease expires and the
    batch is redone from the same offset, so nothing is lost or doubled.
    """
    campaign = lock_campaign(job.campaign_id)
    row = lock_job(job)
    if campaign.status == CampaignStatus.CANCELLED:
        job_finish(row, status=JobStatus.CANCELLED)
        return BatchOutcome("cancelled")
    if campaign.status != CampaignStatus.RUNNING:
        # Paused (or failed) since the claim: the pause wins; the batch waits for resume.
        job_requeue(row, error="", count_attempt=False)
        return BatchOutcome("released")

    params = campaign.generation_params
    want = min(params.batch_size, params.count - campaign.processed_items)
    generated = 0
    exhausted = False
    if want > 0:
        with connection.cursor() as cursor:
            cursor.execute(_RESERVE_SQL, [params.config_hash])
            start = cursor.fetchone()[0]
            spec = params.spec()
            if start < generation.space_size(spec):
                batch = generation.generate(spec, start_offset=start, want=want)
                _copy_domains(cursor, campaign.pk, batch.offsets, batch.names)
                cursor.execute(_ADVANCE_SQL, [batch.next_offset, params.config_hash])
                generated = len(batch.names)
                exhausted = batch.exhausted and generated < want
            else:
                exhausted = True
    campaign.processed_items += generated
    campaign.successful_items += generated
    note = ""
    if exhausted:
        # The shared space ran out: finish with what exists and say so.
        campaign.total_items = campaign.processed_items
        note = f"offset space exhausted: generated {campaign.processed_items} of {params.count} requested domains"
        jobs_cancel_unfinished(campaign, except_job_id=row.pk)
    campaign.save(update_fields=["processed_items", "successful_items", "total_items", "updated_at"])
    job_finish(row, result_count=generated)
    campaign_finish_if_done(campaign, worker_id=worker_id, note=note)
    return BatchOutcome("generated", generated)


def _copy_domains(cursor, campaign_id, offsets: list[int], names: list[str]) -> None:
    """COPY the batch in one stream; names are LDH-only, so no text escaping is needed."""
    prefix = f"{campaign_id}\t"
    data = "".join(f"{prefix}{offset}\t{name}\n" for offset, name in zip(offsets, names))
    with cursor.cursor.copy(_COPY_SQL) as copy:
        copy.write(data)
