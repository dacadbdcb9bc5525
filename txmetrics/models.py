from __future__ import annotations

from django.contrib.postgres.indexes import BrinIndex
from django.db import models


class TransactionMetric(models.Model):
    """One row per safe_transaction call: its outcome, duration and retries."""

    operation = models.CharField(max_length=100)
    # Not a foreign key: recording must never fail because a campaign was deleted.
    campaign_id = models.UUIDField(null=True, blank=True)
    duration_ms = models.FloatField()
    success = models.BooleanField()
    sqlstate = models.CharField(max_length=5, blank=True, default="")
    error = models.TextField(blank=True, default="")
    retry_count = models.PositiveSmallIntegerField(default=0)
    isolation_level = models.CharField(max_length=20, blank=True, default="")
    created_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        # Rows arrive in time order and are written on every transaction: a BRIN
        # index serves the report's time window at almost no insert cost, and
        # only rows that name a campaign pay for the campaign index.
        indexes = [
            BrinIndex(fields=["created_at"], name="txmetric_time_brin"),
            models.Index(
                fields=["campaign_id", "created_at"],
                name="txmetric_campaign_idx",
                condition=models.Q(campaign_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        outcome = "ok" if self.success else f"failed {self.sqlstate}".strip()
        return f"{self.operation} {outcome} {self.duration_ms:.1f} ms"
