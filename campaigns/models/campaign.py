from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django_fsm import FSMField, transition


class CampaignType(models.TextChoices):
    DOMAIN_GENERATION = "domain_generation", "Domain generation"
    DNS_VALIDATION = "dns_validation", "DNS validation"
    HTTP_KEYWORD_VALIDATION = "http_keyword_validation", "HTTP keyword validation"


class CampaignStatus(models.TextChoices):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ARCHIVED = "archived"


S = CampaignStatus


class Campaign(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    campaign_type = models.CharField(max_length=32, choices=CampaignType.choices)
    # protected: status changes only through the transition methods, called by campaign_transition.
    status = FSMField(default=S.PENDING, choices=S.choices, protected=True, max_length=16)
    # Counts writes to the campaign's state and settings (creation, transitions, edits);
    # callers pass the version they saw to detect "changed by someone else".
    version = models.BigIntegerField(default=1)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="campaigns")
    source_campaign = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="fed_campaigns"
    )
    total_items = models.BigIntegerField(default=0)
    processed_items = models.BigIntegerField(default=0)
    successful_items = models.BigIntegerField(default=0)
    failed_items = models.BigIntegerField(default=0)
    # Of the failed items, those that were an answer rather than an error: a DNS NXDOMAIN or
    # NODATA ("unresolved"), an HTTP response with a status that is not a success.
    negative_items = models.BigIntegerField(default=0)
    error_message = models.TextField(blank=True, default="")
    chain_next = models.BooleanField(default=False, help_text="Created as the first phase of a pipeline: its next phases exist from the start and are fed batch by batch.")
    # Params the pipeline's next phases were created with: {"dns_validation": {...}, "http_keyword_validation": {...}}.
    chain_params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="campaign_owner_created_idx"),
            models.Index(fields=["status", "campaign_type"], name="campaign_status_type_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=S.values), name="campaign_status_valid"),
            models.CheckConstraint(condition=Q(campaign_type__in=CampaignType.values), name="campaign_type_valid"),
            models.CheckConstraint(condition=Q(version__gte=1), name="campaign_version_positive"),
            models.CheckConstraint(
                condition=Q(total_items__gte=0, processed_items__gte=0, successful_items__gte=0, failed_items__gte=0),
                name="campaign_counters_non_negative",
            ),
            models.CheckConstraint(condition=Q(processed_items__lte=F("total_items")), name="campaign_processed_le_total"),
            models.CheckConstraint(
                condition=Q(successful_items__lte=F("processed_items") - F("failed_items")),
                name="campaign_outcomes_le_processed",
            ),
            models.CheckConstraint(
                condition=Q(negative_items__gte=0, negative_items__lte=F("failed_items")),
                name="campaign_negative_within_failed",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    # django-fsm transitions: state only. Locking, versioning, events and audit
    # live in campaigns.services.state; effects on other phases in campaigns.services.feed.
    @transition(field=status, source=S.PENDING, target=S.QUEUED)
    def start(self) -> None:
        pass

    @transition(field=status, source=S.QUEUED, target=S.RUNNING)
    def begin(self) -> None:
        pass

    @transition(field=status, source=[S.QUEUED, S.RUNNING], target=S.PAUSED)
    def pause(self) -> None:
        pass

    @transition(field=status, source=S.PAUSED, target=S.QUEUED)
    def resume(self) -> None:
        pass

    @transition(field=status, source=S.RUNNING, target=S.COMPLETED)
    def complete(self) -> None:
        pass

    @transition(field=status, source=S.RUNNING, target=S.FAILED)
    def fail(self) -> None:
        pass

    @transition(field=status, source=S.FAILED, target=S.QUEUED)
    def retry(self) -> None:
        pass

    @transition(field=status, source=[S.PENDING, S.QUEUED, S.RUNNING, S.PAUSED], target=S.CANCELLED)
    def cancel(self) -> None:
        pass

    # A later phase that completed because its source failed runs again when the source is retried.
    @transition(field=status, source=S.COMPLETED, target=S.QUEUED)
    def reopen(self) -> None:
        pass

    @transition(field=status, source=[S.COMPLETED, S.FAILED, S.CANCELLED], target=S.ARCHIVED)
    def archive(self) -> None:
        pass

    @property
    def progress_percent(self) -> float:
        if self.total_items == 0:
            return 100.0 if self.status == S.COMPLETED else 0.0
        return round(100.0 * self.processed_items / self.total_items, 1)


@receiver(pre_delete, sender=Campaign)
def _lock_before_delete(sender, instance: Campaign, using: str, **kwargs) -> None:
    """Lock a campaign's row before its rows are deleted with it.

    The rows a batch writes by the thousand (generated names, DNS and HTTP
    results) reference their campaign without a database constraint: checking
    it cost PostgreSQL a look-up per row (measured in docs/DECISIONS.md).
    Their integrity rests on this lock instead. A batch
    writes its rows and then counts them on the campaign's row, in one
    transaction (campaigns/services/phases/batch.py). Deleting locks that row
    first, before the cascade deletes the rows: a batch that counted already
    commits first and its rows are deleted with the rest; a batch that has not
    counted yet finds the campaign gone and writes nothing.
    """
    list(Campaign.objects.using(using).select_for_update().filter(pk=instance.pk).values_list("pk", flat=True))


TRANSITIONS = ("start", "begin", "pause", "resume", "complete", "fail", "retry", "cancel", "reopen", "archive")


class CampaignStateEvent(models.Model):
    """The append-only history of a campaign's status; sequence 1 is its creation."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="state_events")
    sequence = models.PositiveIntegerField()
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, choices=S.choices)
    transition = models.CharField(max_length=16)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=200, blank=True, help_text="Who acted: a username or a worker id.")
    reason = models.TextField(blank=True, default="")
    campaign_version = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "sequence"], name="state_event_sequence_unique"),
            models.CheckConstraint(condition=Q(sequence__gte=1), name="state_event_sequence_positive"),
            models.CheckConstraint(condition=Q(to_status__in=S.values), name="state_event_to_status_valid"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.from_status or '∅'} → {self.to_status} ({self.transition})"
