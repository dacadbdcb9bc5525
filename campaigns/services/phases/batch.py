"""What every phase's batch transaction ends with: count, feed the next phase, finish if done."""
from __future__ import annotations

from django.db import connection

from campaigns.models import Campaign
from campaigns.services.feed import feed_batch, phase_finish_if_done
from campaigns.services.jobs import ClaimedJob

CAMPAIGN = Campaign._meta.db_table


class CampaignStopped(Exception):
    """The campaign was cancelled or failed while the batch ran: nothing of the batch is written."""


# The campaign row is locked by this UPDATE, the last statements of a batch's transaction: other
# batches of the campaign wait on it only for the rest of this short transaction, never for its
# results' write. A paused campaign still takes the batch it was running when paused.
_COUNT_SQL = f"""
UPDATE {CAMPAIGN}
SET processed_items = processed_items + %(processed)s, successful_items = successful_items + %(successful)s,
    failed_items = failed_items + %(failed)s, negative_items = negative_items + %(negative)s,
    total_items = coalesce(%(total)s, total_items), updated_at = now()
WHERE id = %(campaign)s AND status IN ('running', 'paused')
RETURNING id
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
    """Count a batch whose results are written, feed the phases after it, finish the phase if done."""
    with connection.cursor() as cursor:
        cursor.execute(
            _COUNT_SQL,
            {"processed": processed, "successful": successful, "failed": processed - successful,
             "negative": negative, "total": total, "campaign": job.campaign_id},
        )
        if cursor.fetchone() is None:
            raise CampaignStopped(f"campaign {job.campaign_id} is no longer running")
    campaign = Campaign.objects.get(pk=job.campaign_id)
    feed_batch(source=campaign, job_id=job.id)
    phase_finish_if_done(campaign, actor_label=worker_id, note=note)
