from __future__ import annotations

from django.db import models
from django.db.models import Q

from campaigns.models.campaign import Campaign


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class CampaignJob(models.Model):
    """One batch of a campaign's work, claimed by one worker at a time under a lease."""

    id = models.BigAutoField(primary_key=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="jobs")
    batch_number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    priority = models.SmallIntegerField(default=0, help_text="Higher runs first.")
    run_after = models.DateTimeField(db_default=models.functions.Now())
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    locked_by = models.CharField(max_length=200, blank=True, default="")
    # A fresh token per claim: a worker whose lease was taken over can never complete the job.
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    result_count = models.BigIntegerField(default=0)
    # The work unit, defined over the source phase's committed output (docs/ARCHITECTURE.md):
    # a DNS job reads the source's generated names with offset_index in [range_lo, range_hi);
    # an HTTP job reads the resolved DNS results of source batch `source_batch` with id in
    # [range_lo, range_hi). A generation job has no source; its range is the offsets it reserved.
    source_batch = models.PositiveIntegerField(null=True, blank=True)
    range_lo = models.BigIntegerField(null=True, blank=True)
    range_hi = models.BigIntegerField(null=True, blank=True)
    # What the finished job handed to the next phase: the same kind of range over its own
    # output (offsets for generation, result ids for DNS) and how many items it holds.
    output_lo = models.BigIntegerField(null=True, blank=True)
    output_hi = models.BigIntegerField(null=True, blank=True)
    output_count = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(db_default=models.functions.Now())
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "batch_number"]
        indexes = [
            # A claim reads each running campaign's first due jobs in this order (services/jobs.py).
            models.Index(
                fields=["campaign", "-priority", "created_at", "id"],
                name="job_queued_campaign_idx",
                condition=Q(status="queued"),
            ),
            models.Index(fields=["lease_expires_at"], name="job_running_lease_idx", condition=Q(status="running")),
            models.Index(fields=["campaign", "status"], name="job_campaign_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "batch_number"], name="job_batch_unique"),
            # A source batch feeds each range once, however often its feed is replayed.
            models.UniqueConstraint(
                fields=["campaign", "source_batch", "range_lo"],
                name="job_source_range_unique",
                condition=Q(source_batch__isnull=False),
            ),
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="job_status_valid"),
            models.CheckConstraint(condition=Q(max_attempts__gte=1), name="job_max_attempts_positive"),
            models.CheckConstraint(
                condition=~Q(status="running") | Q(lease_token__isnull=False, lease_expires_at__isnull=False),
                name="job_running_has_lease",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} batch {self.batch_number} ({self.status})"
