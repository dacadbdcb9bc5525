"""The generation phase's batch: reserve offsets, generate, COPY, count, queue the next batch."""
from __future__ import annotations

from django.db import connection

from campaigns import generation
from campaigns.models import Campaign, DomainGenerationConfigState, DomainGenerationParams, GeneratedDomain
from campaigns.services.feed import generation_next_job
from campaigns.services.jobs import ClaimedJob, job_succeed
from campaigns.services.phases.batch import batch_close
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


@safe_transaction(operation="generation.batch", campaign_of=lambda kwargs: kwargs["job"].campaign_id, wait_for_flush=False)
def generation_run_batch(*, job: ClaimedJob, worker_id: str) -> int:
    """Generate the job's domains and record them, all in one transaction; returns how many.

    1. Lock the config's offset row (upsert), so campaigns sharing the config
       take disjoint offset ranges, in the order they commit.
    2. Generate from last_offset until `want` valid names, COPY them in,
       advance last_offset, finish the job (proving the lease is still ours).
    3. Queue the next batch, count, feed the DNS phase, finish if done.
    A crash anywhere rolls all of it back: the job's lease expires and the
    batch is redone from the same offset, so nothing is lost or doubled.
    Batches of one campaign run one at a time (each queues the next), so the
    counters read here cannot move under it.
    """
    params = DomainGenerationParams.objects.get(campaign_id=job.campaign_id)
    processed = Campaign.objects.filter(pk=job.campaign_id).values_list("processed_items", flat=True).get()
    want = max(0, min(params.batch_size, params.count - processed))
    spec = params.spec()
    start = next_offset = 0
    names: list[str] = []
    exhausted = want == 0
    with connection.cursor() as cursor:
        if want:
            cursor.execute(_RESERVE_SQL, [params.config_hash])
            start = next_offset = cursor.fetchone()[0]
            exhausted = start >= generation.space_size(spec)
        if not exhausted:
            batch = generation.generate(spec, start_offset=start, want=want)
            names, next_offset = batch.names, batch.next_offset
            exhausted = batch.exhausted and len(names) < want
            prefix = f"{job.campaign_id}\t"
            with connection.wrap_database_errors, cursor.cursor.copy(_COPY_SQL) as copy:
                # Names are LDH-only, so no text escaping is needed.
                copy.write("".join(f"{prefix}{offset}\t{name}\n" for offset, name in zip(batch.offsets, names)))
            cursor.execute(_ADVANCE_SQL, [next_offset, params.config_hash])
    generated = len(names)
    job_succeed(job, result_count=generated, output=(start, next_offset, generated))
    done = processed + generated
    if not exhausted and done < params.count:
        generation_next_job(job.campaign_id, batch_number=job.batch_number + 1)
    note = ""
    if exhausted:
        # The shared space ran out: finish with what exists and say so.
        note = f"offset space exhausted: generated {done:,} of {params.count:,} requested domains"
    batch_close(job, worker_id=worker_id, processed=generated, successful=generated, total=done if exhausted else None, note=note)
    return generated
