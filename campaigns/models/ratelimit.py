"""Shared rate limits: where each limited key's next free moment is (campaigns.services.ratelimit)."""
from __future__ import annotations

from django.db import models


class RateLimitWindow(models.Model):
    """The end of the last window reserved under `key` (e.g. "dns:<persona name>")."""

    key = models.CharField(max_length=200, primary_key=True)
    next_free = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key} free from {self.next_free.isoformat()}"
