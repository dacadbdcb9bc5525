"""DNS and HTTP validation: typed params and one result row per (campaign, domain), written when its batch commits."""
from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from campaigns.models.campaign import Campaign
from campaigns.models.generation import NAME_COLLATION


# Items per job by default: per-batch costs (claim, input, sockets, one transaction) stay a small
# part of an item's, and one batch's transaction far below a second (docs/DECISIONS.md, "Batch sizes").
DNS_BATCH_SIZE = 5000
HTTP_BATCH_SIZE = 2000


class DnsValidationParams(models.Model):
    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, primary_key=True, related_name="dns_params")
    # Ordered: personas are tried in this order until one resolves.
    persona_ids = ArrayField(models.PositiveIntegerField())
    batch_size = models.PositiveIntegerField(default=DNS_BATCH_SIZE)

    class Meta:
        verbose_name_plural = "DNS validation params"
        constraints = [models.CheckConstraint(condition=Q(batch_size__gte=1), name="dns_batch_size_positive")]

    def __str__(self) -> str:
        return f"DNS params of {self.campaign_id}"


class HttpValidationParams(models.Model):
    class ProxyStrategy(models.TextChoices):
        ROUND_ROBIN = "round_robin"
        RANDOM = "random"
        LEAST_USED = "least_used"

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, primary_key=True, related_name="http_params")
    persona_id = models.PositiveIntegerField()
    keyword_set_ids = ArrayField(models.PositiveIntegerField(), default=list, blank=True)
    adhoc_keywords = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    proxy_ids = ArrayField(models.PositiveIntegerField(), default=list, blank=True)
    proxy_strategy = models.CharField(max_length=12, choices=ProxyStrategy.choices, default=ProxyStrategy.ROUND_ROBIN)
    target_ports = ArrayField(models.PositiveIntegerField(), default=list, blank=True, help_text="Empty = 443 then 80.")
    batch_size = models.PositiveIntegerField(default=HTTP_BATCH_SIZE)
    retries = models.PositiveSmallIntegerField(default=1)
    max_in_flight = models.PositiveIntegerField(default=50)

    class Meta:
        verbose_name_plural = "HTTP validation params"
        constraints = [models.CheckConstraint(condition=Q(batch_size__gte=1), name="http_batch_size_positive")]

    def __str__(self) -> str:
        return f"HTTP params of {self.campaign_id}"


class DnsResult(models.Model):
    class Status(models.TextChoices):
        RESOLVED = "resolved"
        UNRESOLVED = "unresolved"
        TIMEOUT = "timeout"
        ERROR = "error"

    id = models.BigAutoField(primary_key=True)
    # No index of its own (every index of the table leads with campaign_id) and no database
    # constraint: see _lock_before_delete in campaigns/models/campaign.py.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="dns_results", db_index=False,
                                 db_constraint=False)
    domain_name = models.CharField(max_length=253, db_collation=NAME_COLLATION)
    batch_number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices)
    business_status = models.CharField(max_length=32, blank=True, default="")
    ips = ArrayField(models.CharField(max_length=45), default=list, blank=True)
    rcode = models.CharField(max_length=16, blank=True, default="")
    resolver = models.CharField(max_length=64, blank=True, default="")
    persona = models.CharField(max_length=100, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    # The database's clock when the batch's results were written (the clock of every job and lease
    # time too); the write leaves the column out, so the COPY parses no timestamp per row.
    checked_at = models.DateTimeField(db_default=Now(), null=True, blank=True)

    class Meta:
        verbose_name = "DNS result"
        constraints = [
            models.UniqueConstraint(fields=["campaign", "domain_name"], name="dns_result_unique_domain"),
            models.CheckConstraint(condition=Q(status__in=["resolved", "unresolved", "timeout", "error"]), name="dns_result_status_valid"),
        ]
        # Every row goes into one of two partial indexes, narrower than one index of all rows on
        # (campaign, status, batch, id), which cost the DNS phase's COPY about a fifth more
        # (docs/DECISIONS.md, "DNS result indexes"). Resolved rows: an HTTP job's input, the
        # resolved rows of one DNS batch by position, read exactly however large the campaign
        # (planned with sorting off: services/phases/inputs). The other rows: the console's
        # outcomes per status (console_queries), which skip along (campaign, status) and count
        # the resolved rows apart.
        indexes = [
            models.Index(fields=["campaign", "batch_number", "id"], name="dns_result_resolved_idx",
                         condition=Q(status="resolved")),
            models.Index(fields=["campaign", "status"], name="dns_result_other_status_idx",
                         condition=~Q(status="resolved")),
        ]

    def __str__(self) -> str:
        return f"{self.domain_name} {self.status}"


class HttpResult(models.Model):
    class Status(models.TextChoices):
        SUCCESS = "success"
        FAILED = "failed"
        TIMEOUT = "timeout"
        ERROR = "error"

    id = models.BigAutoField(primary_key=True)
    # No index of its own (every index of the table leads with campaign_id) and no database
    # constraint: see _lock_before_delete in campaigns/models/campaign.py.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="http_results", db_index=False,
                                 db_constraint=False)
    domain_name = models.CharField(max_length=253, db_collation=NAME_COLLATION)
    batch_number = models.PositiveIntegerField()
    ips = ArrayField(models.CharField(max_length=45), default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    business_status = models.CharField(max_length=32, blank=True, default="")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    final_url = models.TextField(blank=True, default="")
    redirect_count = models.PositiveSmallIntegerField(default=0)
    title = models.TextField(blank=True, default="")
    server = models.CharField(max_length=200, blank=True, default="")
    content_length = models.BigIntegerField(null=True, blank=True)
    body_sha256 = models.CharField(max_length=64, blank=True, default="")
    snippet = models.TextField(blank=True, default="")
    keyword_hits = models.JSONField(default=list, blank=True)
    keyword_count = models.PositiveIntegerField(default=0)
    persona = models.CharField(max_length=100, blank=True, default="")
    proxy = models.CharField(max_length=100, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    response_time_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    # As DnsResult.checked_at: the database's clock when the batch's results were written.
    checked_at = models.DateTimeField(db_default=Now(), null=True, blank=True)

    class Meta:
        verbose_name = "HTTP result"
        constraints = [
            models.UniqueConstraint(fields=["campaign", "domain_name"], name="http_result_unique_domain"),
            models.CheckConstraint(condition=Q(status__in=["success", "failed", "timeout", "error"]), name="http_result_status_valid"),
        ]
        indexes = [
            models.Index(fields=["campaign", "business_status"], name="http_result_business_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.domain_name} {self.status}"
