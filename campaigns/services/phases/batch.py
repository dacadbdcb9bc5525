"""What every phase's batch transaction ends with: count, feed the next phase, finish if done."""
from __future__ import annotations

from django.db import connection

from campaigns.models import Campaign
from campaigns.services.feed import feed_batch, phase_finish_if_done, phase_may_end_soon, phase_maybe_done
from campaigns.services.jobs import ClaimedJob

CAMPAIGN = Campaign._meta.db_table


class CampaignStopped(Exception):
    """The campaign was cancelled or failed while the batch ran: nothing of the batch is written."""


# The campaign row is locked by this UPDATE, the last statements of a batch's transaction: other
# batches of the campaign wait on it only for the rest of this short transaction (feeding the next
# phase, committing), never for its results' write. A paused campaign still takes the batch it was
# running when paused.
_COUNT_SQL = f"""
UPDATE {CAMPAIGN}
SET processed_items = processed_items + %(processed)s, successful_items = successful_items + %(successful)s,
    failed_items = failed_items + %(failed)s, negative_items = negative_items + %(negative)s,
    total_items = coalesce(%(total)s, total_items), updated_at = now()
WHERE id = %(campaign)s AND status IN ('running', 'paused')
RETURNING campaign_type
"""


def batch_close(
    job: ClaimedJob,
    *,
    worker_id: str,
    processed: int,
    successful: int,
    negative: int = 0,
    total: int | None = None,
    note: str = "",
) -> None:
    """Count a batch whose results are written, feed the phases after it, finish the phase if done.

    A batch may be its phase's last only if no job of the phase is queued and
    its source has ended; that is asked before the campaign row is locked, so
    the batches of a phase still being fed take no extra step under the lock.
    A batch that may be the last asks again once it holds the lock (one indexed
    look-up): of two last batches committing at once, the second waits for
    the first's commit on that lock and then sees it, so it completes the phase
    at once. The workers' periodic sweep (engine.phases_finish_idle) completes
    what no batch could: a last batch that failed for good, or a queued job
    claimed and finished while another batch was between the two looks.
    """
    may_end = phase_may_end_soon(campaign_id=job.campaign_id, source_id=job.source_campaign_id)
    with connection.cursor() as cursor:
        cursor.execute(
            _COUNT_SQL,
            {"processed": processed, "successful": successful, "failed": processed - successful,
             "negative": negative, "total": total, "campaign": job.campaign_id},
        )
        row = cursor.fetchone()
    if row is None:
        raise CampaignStopped(f"campaign {job.campaign_id} is no longer running")
    if job.feeds:
        feed_batch(source_id=job.campaign_id, source_type=row[0], job_id=job.id)
    if may_end and phase_maybe_done(campaign_id=job.campaign_id, source_id=job.source_campaign_id):
        phase_finish_if_done(Campaign.objects.get(pk=job.campaign_id), actor_label=worker_id, note=note)
