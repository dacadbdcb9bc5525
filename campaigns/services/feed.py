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

from uuid import UUID

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
# and the queue between phases stays short (a worker's first lane claims generation first instead,
# so the feed never starves: campaigns/workers.py).
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

# One statement: the phases a source feeds are locked (pipeline order: after the source), the parts
# of each finished source job (all of them, or one) become jobs of each such phase, and its total
# grows by what the inserted parts hold. Generation output is split by offsets (the names per part
# vary a little), DNS output by position among the batch's resolved rows (exact).
_FEED_SQL = f"""
WITH fed AS (
    SELECT c.id, c.campaign_type, coalesce(d.batch_size, h.batch_size) AS size
    FROM {CAMPAIGN} c
    LEFT JOIN {DnsValidationParams._meta.db_table} d ON d.campaign_id = c.id
    LEFT JOIN {HttpValidationParams._meta.db_table} h ON h.campaign_id = c.id
    WHERE c.source_campaign_id = %(source)s AND c.status = ANY(%(feeding)s)
      AND (%(campaign)s::uuid IS NULL OR c.id = %(campaign)s::uuid)
    ORDER BY c.id
    FOR NO KEY UPDATE OF c
), src AS (
    SELECT s.batch_number, s.output_lo, s.output_hi, s.output_count
    FROM {JOB} s
    WHERE s.campaign_id = %(source)s AND s.status = 'succeeded' AND s.output_count > 0
      AND (%(job)s::bigint IS NULL OR s.id = %(job)s::bigint)
), base AS (
    SELECT fed.id, coalesce((SELECT max(j.batch_number) + 1 FROM {JOB} j WHERE j.campaign_id = fed.id), 0) AS n FROM fed
), pieces AS (
    SELECT fed.id AS campaign_id, fed.campaign_type, src.batch_number AS source_batch, p,
           CASE WHEN %(by_offset)s
                THEN src.output_lo + floor((src.output_hi - src.output_lo)::numeric * p / k.parts)::bigint
                ELSE p::bigint * fed.size END AS lo,
           CASE WHEN %(by_offset)s
                THEN src.output_lo + floor((src.output_hi - src.output_lo)::numeric * (p + 1) / k.parts)::bigint
                ELSE least((p + 1)::bigint * fed.size, src.output_count) END AS hi
    FROM fed CROSS JOIN src
    CROSS JOIN LATERAL (SELECT ceil(src.output_count::numeric / fed.size)::int AS parts) k
    CROSS JOIN LATERAL generate_series(0, k.parts - 1) AS p
), ins AS (
    INSERT INTO {JOB} (campaign_id, batch_number, status, priority, run_after, attempts, max_attempts, locked_by,
                       last_error, result_count, output_count, created_at, source_batch, range_lo, range_hi)
    SELECT pieces.campaign_id, base.n + row_number() OVER (PARTITION BY pieces.campaign_id ORDER BY source_batch, p) - 1,
           'queued', CASE pieces.campaign_type WHEN %(dns)s THEN %(dns_priority)s ELSE %(http_priority)s END, now(),
           0, %(max)s, '', '', 0, 0, now(), source_batch, lo, hi
    FROM pieces JOIN base ON base.id = pieces.campaign_id
    ON CONFLICT (campaign_id, source_batch, range_lo) WHERE source_batch IS NOT NULL DO NOTHING
    RETURNING campaign_id, source_batch
)
UPDATE {CAMPAIGN} c
SET total_items = c.total_items + t.n, updated_at = now()
FROM (
    SELECT fed_batches.campaign_id, sum(src.output_count) AS n
    FROM (SELECT DISTINCT campaign_id, source_batch FROM ins) fed_batches
    JOIN src ON src.batch_number = fed_batches.source_batch
    GROUP BY fed_batches.campaign_id
) t
WHERE c.id = t.campaign_id
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
    _feed(source_id=source.pk, source_type=source.campaign_type, job_id=None, campaign_id=campaign.pk)
    campaign.refresh_from_db(fields=["total_items", "updated_at"])


def generation_next_job(campaign_id, *, batch_number: int) -> None:
    """Queue a generation campaign's next batch (one at a time: they share one offset row anyway)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _FIRST_JOB_SQL,
            {"campaign": campaign_id, "batch": batch_number, "priority": PRIORITY[CampaignType.DOMAIN_GENERATION],
             "max": settings.DOMAINFLOW_JOB_MAX_ATTEMPTS},
        )


def feed_batch(*, source_id, source_type: str, job_id: int) -> None:
    """Give the phases a source feeds the work of one of its just-finished jobs (caller's transaction)."""
    _feed(source_id=source_id, source_type=source_type, job_id=job_id)


def _feed(*, source_id, source_type: str, job_id: int | None, campaign_id=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            _FEED_SQL,
            {
                "source": source_id,
                "campaign": campaign_id,
                "feeding": list(FEEDING),
                "job": job_id,
                "by_offset": source_type == CampaignType.DOMAIN_GENERATION,
                "dns": CampaignType.DNS_VALIDATION,
                "dns_priority": PRIORITY[CampaignType.DNS_VALIDATION],
                "http_priority": PRIORITY[CampaignType.HTTP_KEYWORD_VALIDATION],
                "max": settings.DOMAINFLOW_JOB_MAX_ATTEMPTS,
            },
        )


# Besides a batch's own job (finished earlier in its transaction), no job queued (or running) and no
# live source; each job look-up is one index probe (jobs.QUEUED_JOB_SQL).
_NO_LIVE_SOURCE = f"coalesce((SELECT status FROM {CAMPAIGN} WHERE id = %(source)s) = ANY(%(ended)s), true)"
_NONE_QUEUED_SQL = f"SELECT {jobs.QUEUED_JOB_SQL} IS NULL AND {_NO_LIVE_SOURCE}"
_NONE_OPEN_SQL = f"SELECT {jobs.QUEUED_JOB_SQL} IS NULL AND {jobs.RUNNING_JOB_SQL} IS NULL AND {_NO_LIVE_SOURCE}"


def _asks(sql: str, campaign_id, source_id) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(sql, {"campaign": campaign_id, "source": source_id, "ended": list(ENDED)})
        return cursor.fetchone()[0]


def phase_may_end_soon(*, campaign_id, source_id) -> bool:
    """Whether a phase has no queued job and no live source: only then can a batch running now be its last."""
    return _asks(_NONE_QUEUED_SQL, campaign_id, source_id)


def phase_maybe_done(*, campaign_id, source_id) -> bool:
    """One look-up: whether a phase has no open job and no live source (then phase_finish_if_done decides)."""
    return _asks(_NONE_OPEN_SQL, campaign_id, source_id)


# Running phases no batch will finish: no open job, and no source or an ended one.
_IDLE_PHASES_SQL = f"""
SELECT c.id FROM {CAMPAIGN} c
LEFT JOIN {CAMPAIGN} s ON s.id = c.source_campaign_id
WHERE c.status = 'running' AND (s.id IS NULL OR s.status = ANY(%(ended)s))
  AND NOT EXISTS (SELECT 1 FROM {JOB} j WHERE j.campaign_id = c.id AND j.status IN ('queued', 'running'))
ORDER BY c.id
LIMIT %(limit)s
"""


def phases_idle(*, limit: int) -> list[UUID]:
    """Running phases with nothing left to do and no live source: ones a worker has yet to finish."""
    with connection.cursor() as cursor:
        cursor.execute(_IDLE_PHASES_SQL, {"ended": list(ENDED), "limit": limit})
        return [row[0] for row in cursor.fetchall()]


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
