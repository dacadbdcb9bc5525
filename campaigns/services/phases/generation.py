"""The generation phase's batch: reserve offsets, generate, COPY, count, queue the next batch."""
from __future__ import annotations

from django.db import connection

from campaigns import generation
from campaigns.models import Campaign, DomainGenerationConfigState, DomainGenerationParams, GeneratedDomain
from campaigns.services.feed import generation_next_job
from campaigns.services.jobs import ClaimedJob, job_succeed
from campaigns.services.phases.batch import batch_close
from campaigns.services.phases.rows import copy_lines
from txmetrics.decorators import safe_transaction

CONFIG = DomainGenerationConfigState._meta.db_table
_ENSURE_SQL = f"INSERT INTO {CONFIG} (config_hash, last_offset, version, updated_at) VALUES (%s, 0, 0, now()) ON CONFLICT DO NOTHING"
_OFFSET_SQL = f"SELECT last_offset FROM {CONFIG} WHERE config_hash = %s"
# Compare and set: the offsets are ours only if nobody advanced the pool since we read it.
_ADVANCE_SQL = (
    f"UPDATE {CONFIG} SET last_offset = %s, version = version + 1, updated_at = now()"
    " WHERE config_hash = %s AND last_offset = %s"
)
# Campaigns sharing a pool rarely generate at the same instant; past this many lost races, something is wrong.
_MAX_RACES = 50


@safe_transaction(operation="generation.batch", campaign_of=lambda kwargs: kwargs["job"].campaign_id, wait_for_flush=False)
def generation_run_batch(*, job: ClaimedJob, worker_id: str) -> int:
    """Generate the job's domains and record them, all in one transaction; returns how many.

    1. Read the pool's next offset (campaigns with the same settings share one
       pool of names) and generate from it, with no lock held.
    2. Advance the pool only if it is still where it was read (compare and
       set); if another campaign took those offsets first, generate again from
       where it left off. The pool's row stays locked from then to commit, for
       the COPY and the counters only: no Python work runs under it.
    3. Finish the job (proving the lease is still ours), queue the next batch,
       count, feed the DNS phase, finish if done.
    A crash anywhere rolls all of it back: the job's lease expires and the
    batch is redone from the same offset, so nothing is lost or doubled.
    Batches of one campaign run one at a time (each queues the next), so the
    counters read here cannot move under it.
    """
    params = DomainGenerationParams.objects.get(campaign_id=job.campaign_id)
    processed = Campaign.objects.filter(pk=job.campaign_id).values_list("processed_items", flat=True).get()
    want = max(0, min(params.batch_size, params.count - processed))
    spec = params.spec()
    space = generation.space_size(spec)
    start = next_offset = 0
    lines = ""
    generated = 0
    exhausted = want == 0
    with connection.cursor() as cursor:
        if want:
            cursor.execute(_ENSURE_SQL, [params.config_hash])
        for _ in range(_MAX_RACES if want else 0):
            cursor.execute(_OFFSET_SQL, [params.config_hash])
            start = next_offset = cursor.fetchone()[0]
            if start >= space:
                exhausted = True
                break
            batch = generation.generate(spec, start_offset=start, want=want)
            next_offset, generated = batch.next_offset, len(batch.names)
            exhausted = batch.exhausted and generated < want
            prefix = f"{job.campaign_id}\t"
            # Names are LDH-only, so no text escaping is needed.
            lines = "".join(f"{prefix}{offset}\t{name}\n" for offset, name in zip(batch.offsets, batch.names))
            cursor.execute(_ADVANCE_SQL, [next_offset, params.config_hash, start])
            if cursor.rowcount == 1:
                break
        else:
            if want:
                raise RuntimeError(f"the name pool of campaign {job.campaign_id} kept moving; the batch will be retried")
    copy_lines(GeneratedDomain._meta.db_table, ("campaign_id", "offset_index", "domain_name"), lines)
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
