from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditLog(models.Model):
    """Who did what to which entity, and whether it was allowed."""

    class Decision(models.TextChoices):
        ALLOWED = "allowed"
        DENIED = "denied"

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=64)
    entity_type = models.CharField(max_length=64)
    entity_id = models.CharField(max_length=64)
    details = models.JSONField(default=dict, blank=True)
    decision = models.CharField(max_length=8, choices=Decision.choices, default=Decision.ALLOWED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["entity_type", "entity_id", "-created_at"], name="audit_entity_idx")]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.entity_type}:{self.entity_id} ({self.decision})"
