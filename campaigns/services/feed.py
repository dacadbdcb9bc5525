"""The feed between phases: a phase's work units, created over its source's committed output.

A generation job reserves its own offsets; the job after it is created when it
commits. When a batch of one phase commits, the same transaction creates the
next phase's jobs over exactly what that batch produced (feed_batch), so a
crash loses or doubles nothing. A phase started over a source that already
produced output gets jobs over every finished source batch at once, in one
statement over the source's job rows (feed_start). A phase is done when it has
no open job and its source has ended (phase_finish_if_done); when a phase ends,
the phases it feeds are checked in turn.
"""
from __future__ import annotations

from django.conf import settings
from django.db import connection

from campaigns.models import (
    Campaign,
    CampaignJob,
    CampaignStatus,
    CampaignType,
    DnsValidationParams,
    HttpValidationParams,
)
from campaigns.services import jobs
from campaigns.services.errors import CampaignError
from campaigns.services.state import apply_transition

S = CampaignStatus
JOB = CampaignJob._meta.db_table
CAMPAIGN = Campaign._meta.db_table

# Later phases are claimed first, so a pipeline's first leads appear while it still generates,
# and the queue between phases stays short.
PRIORITY = {CampaignType.DOMAIN_GENERATION: 0, CampaignType.DNS_VALIDATION: 1, CampaignType.HTTP_KEYWORD_VALIDATION: 2}
# A phase in one of these statuses is fed as its source commits batches.
FEEDING = (S.QUEUED, S.RUNNING, S.PAUSED)
# A phase may start over a source in one of these: it gets what the source has produced and what comes.
STARTABLE_SOURCE = (S.QUEUED, S.RUNNING, S.PAUSED, S.COMPLETED, S.ARCHIVED, S.FAILED)
ENDED = (S.COMPLETED, S.FAILED, S.CANCELLED, S.ARCHIVED)

_FIRST_JOB_SQL = f"""
INSERT INTO {JOB} (campaign_id, batch_number, status, priority, run_after, attempts, max_attempts, locked_by,
                   last_error, result_count, output_count, created_at)
VALUES (%(campaign)s, %(batch)s, 'queued', %(priority)s, now(), 0, %(max)s, '', '', 0, 0, now())
ON CONFLICT (campaign_id, batch_number) DO NOTHING
"""

# One statement: the parts of each finished source job (all of them, or one) become jobs of the
# phase it feeds, and that phase's total grows by what the inserted parts hold. Generation output
# is split by offsets (the names per part vary a little), DNS output by position among the batch's
# resolved rows (exact).
_FEED_SQL = f"""
WITH src AS (
    SELECT s.batch_number, s.output_lo, s.output_hi, s.output_count,
           ceil(s.output_count::numeric / %(size)s)::int AS parts
    FROM {JOB} s
    WHERE s.campaign_id = %(source)s AND s.status = 'succeeded' AND s.output_count > 0
      AND (%(job)s::bigint IS NULL OR s.id = %(job)s::bigint)
), base AS (
    SELECT coalesce(max(batch_number) + 1, 0) AS n FROM {JOB} WHERE campaign_id = %(campaign)s
), pieces AS (
    SELECT src.batch_number AS source_batch, p,
           CASE WHEN %(by_offset)s
                THEN src.output_lo + floor((src.output_hi - src.output_lo)::numeric * p / src.parts)::bigint
                ELSE p::bigint * %(size)s END AS lo,
           CASE WHEN %(by_offset)s
                THEN src.output_lo + floor((src.output_hi - src.output_lo)::numeric * (p + 1) / src.parts)::bigint
                ELSE least((p + 1)::bigint * %(size)s, src.output_count) END AS hi
    FROM src, generate_series(0, src.parts - 1) AS p
), ins AS (
    INSERT INTO {JOB} (campaign_id, batch_number, status, priority, run_after, attempts, max_attempts, locked_by,
                       last_error, result_count, output_count, created_at, source_batch, range_lo, range_hi)
    SELECT %(campaign)s, base.n + row_number() OVER (ORDER BY source_batch, p) - 1, 'queued', %(priority)s, now(),
           0, %(max)s, '', '', 0, 0, now(), source_batch, lo, hi
    FROM pieces, base
    ON CONFLICT (campaign_id, source_batch, range_lo) WHERE source_batch IS NOT NULL DO NOTHING
    RETURNING source_batch
)
UPDATE {CAMPAIGN}
SET total_items = total_items + (SELECT coalesce(sum(output_count), 0) FROM src
                                 WHERE batch_number IN (SELECT source_batch FROM ins)),
    updated_at = now()
WHERE id = %(campaign)s
"""

_FED_PHASES_SQL = f"""
SELECT c.id, c.campaign_type, coalesce(d.batch_size, h.batch_size)
FROM {CAMPAIGN} c
LEFT JOIN {DnsValidationParams._meta.db_table} d ON d.campaign_id = c.id
LEFT JOIN {HttpValidationParams._meta.db_table} h ON h.campaign_id = c.id
WHERE c.source_campaign_id = %s AND c.status = ANY(%s)
ORDER BY c.id
FOR NO KEY UPDATE OF c
"""


def feed_start(campaign: Campaign) -> None:
    """Create a just-started phase's first work (caller's transaction, campaign locked)."""
    if campaign.campaign_type == CampaignType.DOMAIN_GENERATION:
        campaign.total_items = campaign.generation_params.count
        campaign.save(update_fields=["total_items", "updated_at"])
        generation_next_job(campaign.pk, batch_number=0)
        return
    source = campaign.source_campaign
    if source is None or source.status not in STARTABLE_SOURCE:
        status = source.status if source else "missing"
        raise CampaignError(
            f"Cannot start “{campaign.name}”: its source phase “{source.name if source else '?'}” is {status}; "
            "start the source first (a pipeline starts from its first phase)."
        )
    batch_size = (campaign.dns_params if campaign.campaign_type == CampaignType.DNS_VALIDATION else campaign.http_params).batch_size
    _feed(campaign_id=campaign.pk, campaign_type=campaign.campaign_type, batch_size=batch_size, source=source, job_id=None)
    campaign.refresh_from_db(fields=["total_items", "updated_at"])


def generation_next_job(campaign_id, *, batch_number: int) -> None:
    """Queue a generation campaign's next batch (one at a time: they share one offset row anyway)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _FIRST_JOB_SQL,
            {"campaign": campaign_id, "batch": batch_number, "priority": PRIORITY[CampaignType.DOMAIN_GENERATION],
             "max": settings.DOMAINFLOW_JOB_MAX_ATTEMPTS},
        )


def feed_batch(*, source: Campaign, job_id: int) -> None:
    """Give the phases `source` feeds the work of one of its just-finished jobs (caller's transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(_FED_PHASES_SQL, [source.pk, list(FEEDING)])
        fed = cursor.fetchall()
    for campaign_id, campaign_type, batch_size in fed:
        _feed(campaign_id=campaign_id, campaign_type=campaign_type, batch_size=batch_size, source=source, job_id=job_id)


def _feed(*, campaign_id, campaign_type: str, batch_size: int, source: Campaign, job_id: int | None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            _FEED_SQL,
            {
                "campaign": campaign_id,
                "source": source.pk,
                "job": job_id,
                "size": batch_size,
                "by_offset": source.campaign_type == CampaignType.DOMAIN_GENERATION,
                "priority": PRIORITY[campaign_type],
                "max": settings.DOMAINFLOW_JOB_MAX_ATTEMPTS,
            },
        )


def phase_finish_if_done(campaign: Campaign, *, actor_label: str, note: str = "") -> bool:
    """Complete or fail a running phase with no open job whose source has ended (campaign locked).

    Then the phases it feeds are checked the same way: a DNS phase that was
    waiting for the end of generation completes with it.
    """
    if campaign.status != S.RUNNING:
        return False
    open_statuses = jobs.jobs_open_statuses(campaign.pk)
    if open_statuses & {"queued", "running"}:
        return False
    source = Campaign.objects.filter(pk=campaign.source_campaign_id).only("status", "name").first()
    if source is not None and source.status not in ENDED:
        return False  # waiting for input
    if "failed" in open_statuses:
        batch, attempts, error = jobs.job_first_failure(campaign.pk)
        reason = f"batch {batch} failed after {attempts} attempts: {error}"
        apply_transition(campaign, transition="fail", actor=None, actor_label=actor_label, reason=reason)
    else:
        if source is not None and source.status in (S.FAILED, S.CANCELLED) and not note:
            note = f"its source phase “{source.name}” {source.status}: completed with the {campaign.processed_items:,} items it was fed"
        apply_transition(campaign, transition="complete", actor=None, actor_label=actor_label, reason=note)
    phases_fed_finish_if_done(campaign, actor_label=actor_label)
    return True


def phases_fed_finish_if_done(source: Campaign, *, actor_label: str) -> None:
    """After `source` ended: finish the phases it fed that have nothing left (caller's transaction)."""
    for campaign in Campaign.objects.select_for_update(no_key=True).filter(source_campaign=source, status=S.RUNNING).order_by("id"):
        phase_finish_if_done(campaign, actor_label=actor_label)
