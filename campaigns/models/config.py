"""Reusable configuration: DNS and HTTP personas, proxies, keyword sets (shared by all campaigns)."""
from __future__ import annotations

from urllib.parse import quote

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from campaigns import keywords
from campaigns.dns import config as dns_config
from campaigns.http import config as http

# What `enabled` means for a persona (docs/DECISIONS.md, "Disabled personas").
PERSONA_ENABLED_HELP = "Only enabled personas can be named by new campaigns; campaigns created earlier keep using it."


class DnsPersona(models.Model):
    """How to resolve: resolvers, strategy, timeouts, rate limit (docs/CONFIGURATION.md)."""

    class Strategy(models.TextChoices):
        RANDOM = "random"
        WEIGHTED = "weighted"
        ROUND_ROBIN = "round_robin"
        SEQUENTIAL_FAILOVER = "sequential_failover"

    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True, help_text=PERSONA_ENABLED_HELP)
    resolvers = ArrayField(models.CharField(max_length=64), help_text='"ip" or "ip:port", e.g. 1.1.1.1:53')
    resolver_weights = ArrayField(models.PositiveIntegerField(), default=list, blank=True, help_text="For the weighted strategy; one per resolver.")
    strategy = models.CharField(max_length=24, choices=Strategy.choices, default=Strategy.ROUND_ROBIN)
    timeout_s = models.FloatField(default=2.0)
    retries = models.PositiveSmallIntegerField(default=2)
    max_in_flight = models.PositiveIntegerField(default=100)
    rate_limit_qps = models.FloatField(null=True, blank=True, help_text="Queries per second, for all workers together; empty = unlimited.")
    record_types = ArrayField(models.CharField(max_length=8), default=list, blank=True, help_text="A and/or AAAA; empty = both.")

    class Meta:
        ordering = ["name"]
        verbose_name = "DNS persona"

    def __str__(self) -> str:
        return self.name

    def config(self) -> dns_config.DnsPersonaConfig:
        weights = list(self.resolver_weights or [])
        return dns_config.DnsPersonaConfig(
            name=self.name,
            resolvers=tuple(
                dns_config.parse_resolver(text, weight=weights[i] if i < len(weights) else 1) for i, text in enumerate(self.resolvers)
            ),
            strategy=self.strategy,
            timeout_s=self.timeout_s,
            retries=self.retries,
            max_in_flight=self.max_in_flight,
            rate_limit_qps=self.rate_limit_qps,
            record_types=tuple(self.record_types or ("A", "AAAA")),
        )

    def clean(self) -> None:
        if self.resolver_weights and len(self.resolver_weights) != len(self.resolvers or []):
            raise ValidationError({"resolver_weights": "give one weight per resolver, or none"})
        for text in self.resolvers or []:
            try:
                dns_config.parse_resolver(text)
            except ValueError as exc:
                raise ValidationError({"resolvers": str(exc)}) from exc
        try:
            self.config()
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class HttpPersona(models.Model):
    """How to fetch: user agent, headers, timeouts, redirects, TLS, accepted status codes."""

    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True, help_text=PERSONA_ENABLED_HELP)
    user_agent = models.CharField(max_length=500, default="DomainFlow/1.0")
    headers = models.JSONField(default=dict, blank=True, help_text='Extra request headers, e.g. {"Accept-Language": "en"}')
    timeout_s = models.FloatField(default=10.0)
    follow_redirects = models.BooleanField(default=True)
    max_redirects = models.PositiveSmallIntegerField(default=5)
    verify_tls = models.BooleanField(default=True)
    allowed_status_codes = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True, help_text="Empty = 200–299.")
    max_body_bytes = models.PositiveIntegerField(default=1_048_576)

    class Meta:
        ordering = ["name"]
        verbose_name = "HTTP persona"

    def __str__(self) -> str:
        return self.name

    def config(self) -> http.HttpPersonaConfig:
        return http.HttpPersonaConfig(
            name=self.name,
            user_agent=self.user_agent,
            headers=tuple((str(k), str(v)) for k, v in (self.headers or {}).items()),
            timeout_s=self.timeout_s,
            follow_redirects=self.follow_redirects,
            max_redirects=self.max_redirects,
            verify_tls=self.verify_tls,
            allowed_status_codes=tuple(self.allowed_status_codes or ()),
            max_body_bytes=self.max_body_bytes,
        )

    def clean(self) -> None:
        if not isinstance(self.headers, dict):
            raise ValidationError({"headers": "must be a JSON object of header names to values"})
        try:
            self.config()
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class Proxy(models.Model):
    """An outbound proxy; its password is write-only in every interface."""

    class Scheme(models.TextChoices):
        HTTP = "http"
        HTTPS = "https"
        SOCKS5 = "socks5"

    name = models.CharField(max_length=100, unique=True)
    scheme = models.CharField(max_length=8, choices=Scheme.choices)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField()
    username = models.CharField(max_length=200, blank=True)
    password = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    healthy = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    use_count = models.BigIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "proxies"
        constraints = [models.CheckConstraint(condition=Q(port__gte=1, port__lte=65535), name="proxy_port_valid")]

    def __str__(self) -> str:
        return f"{self.name} ({self.scheme}://{self.host}:{self.port})"

    def url(self) -> str:
        auth = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}@" if self.username else ""
        return f"{self.scheme}://{auth}{self.host}:{self.port}"

    def clean(self) -> None:
        try:
            http.parse_proxy_url(self.url())
        except ValueError as exc:
            raise ValidationError(str(exc).replace(self.password, "***") if self.password else str(exc)) from exc


class KeywordSet(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class KeywordRule(models.Model):
    class Kind(models.TextChoices):
        STRING = "string"
        REGEX = "regex"

    keyword_set = models.ForeignKey(KeywordSet, on_delete=models.CASCADE, related_name="rules")
    pattern = models.CharField(max_length=500)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.STRING)
    case_sensitive = models.BooleanField(default=False)
    context_chars = models.PositiveSmallIntegerField(default=40)

    class Meta:
        ordering = ["keyword_set", "id"]

    def __str__(self) -> str:
        return f"{self.kind}:{self.pattern}"

    def spec(self) -> keywords.KeywordRuleSpec:
        return keywords.KeywordRuleSpec(
            keyword_set=self.keyword_set.name if self.keyword_set_id else "",
            pattern=self.pattern,
            kind=self.kind,
            case_sensitive=self.case_sensitive,
            context_chars=self.context_chars,
        )

    def clean(self) -> None:
        """A regex RE2 cannot compile is refused here, when saved, not when a campaign runs."""
        try:
            keywords.compile_rule(self.spec())
        except keywords.InvalidKeywordRule as exc:
            raise ValidationError({"pattern": str(exc)}) from exc
