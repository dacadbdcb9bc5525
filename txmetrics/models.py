from __future__ import annotations

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
        indexes = [
            models.Index(fields=["created_at", "operation"], name="txmetric_time_op_idx"),
            models.Index(fields=["campaign_id", "created_at"], name="txmetric_campaign_idx"),
        ]

    def __str__(self) -> str:
        outcome = "ok" if self.success else f"failed {self.sqlstate}".strip()
        return f"{self.operation} {outcome} {self.duration_ms:.1f} ms"
