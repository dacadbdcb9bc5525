from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from campaigns import generation
from campaigns.models.campaign import Campaign

# Every column holding domain names compares them byte by byte (docs/DECISIONS.md, "Names in byte
# order"): names are ASCII, so this is their natural order on every server, whatever its locale,
# and the cheapest comparison for the unique name indexes every result row goes into.
NAME_COLLATION = "C"


class DomainGenerationParams(models.Model):
    """The typed parameters of a domain generation campaign, stored normalised."""

    class Pattern(models.TextChoices):
        PREFIX = "prefix"
        SUFFIX = "suffix"
        BOTH = "both"

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, primary_key=True, related_name="generation_params")
    pattern = models.CharField(max_length=8, choices=Pattern.choices)
    prefix_length = models.PositiveSmallIntegerField(default=0)
    suffix_length = models.PositiveSmallIntegerField(default=0)
    charset = models.CharField(max_length=64)
    constant = models.CharField(max_length=63, blank=True, default="")
    tlds = ArrayField(models.CharField(max_length=63))
    count = models.BigIntegerField()
    batch_size = models.PositiveIntegerField(default=10_000)
    config_hash = models.CharField(max_length=64, editable=False, db_index=True)

    class Meta:
        verbose_name_plural = "domain generation params"
        constraints = [
            models.CheckConstraint(condition=Q(count__gte=1), name="generation_count_positive"),
            models.CheckConstraint(condition=Q(batch_size__gte=1), name="generation_batch_size_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.pattern} {self.charset!r} {self.constant!r} {','.join(self.tlds)} ×{self.count}"

    def spec(self) -> generation.GenerationSpec:
        return generation.GenerationSpec(
            pattern=self.pattern,
            prefix_length=self.prefix_length,
            suffix_length=self.suffix_length,
            charset=self.charset,
            constant=self.constant,
            tlds=tuple(self.tlds),
        )

    def clean(self) -> None:
        """Normalise in place, or raise ValidationError naming the bad field."""
        try:
            spec = generation.normalise(
                pattern=self.pattern,
                prefix_length=self.prefix_length,
                suffix_length=self.suffix_length,
                charset=self.charset,
                constant=self.constant,
                tlds=self.tlds or [],
            )
            generation.validate_count(spec, self.count)
        except generation.InvalidGenerationParams as exc:
            raise ValidationError({exc.field: exc.message}) from exc
        if self.batch_size is None or not 1 <= self.batch_size <= generation.MAX_BATCH_SIZE:
            raise ValidationError({"batch_size": f"must be between 1 and {generation.MAX_BATCH_SIZE}"})
        self.pattern = spec.pattern
        self.prefix_length = spec.prefix_length
        self.suffix_length = spec.suffix_length
        self.charset = spec.charset
        self.constant = spec.constant
        self.tlds = list(spec.tlds)
        self.config_hash = generation.config_hash(spec)


class DomainGenerationConfigState(models.Model):
    """The shared offset space of every campaign with one config: where the next batch starts."""

    config_hash = models.CharField(max_length=64, primary_key=True)
    last_offset = models.BigIntegerField(default=0, help_text="The first offset not yet reserved.")
    version = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(last_offset__gte=0), name="config_state_offset_non_negative")]

    def __str__(self) -> str:
        return f"{self.config_hash[:12]}… @ {self.last_offset}"


class GeneratedDomain(models.Model):
    """A domain produced by a generation campaign; offset_index is its place in the shared offset space."""

    id = models.BigAutoField(primary_key=True)
    # No index of its own (both unique constraints lead with campaign_id) and no database constraint:
    # see _lock_before_delete in campaigns/models/campaign.py.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="generated_domains",
                                 db_index=False, db_constraint=False)
    offset_index = models.BigIntegerField()
    domain_name = models.CharField(max_length=253, db_collation=NAME_COLLATION)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "domain_name"], name="generated_domain_unique_name"),
            models.UniqueConstraint(fields=["campaign", "offset_index"], name="generated_domain_unique_offset"),
        ]

    def __str__(self) -> str:
        return self.domain_name
