"""DomainFlow's data model (docs/ARCHITECTURE.md): fields, constraints and state, no I/O."""
from __future__ import annotations

from campaigns.models.audit import AuditLog
from campaigns.models.campaign import Campaign, CampaignStateEvent, CampaignStatus, CampaignType
from campaigns.models.generation import DomainGenerationConfigState, DomainGenerationParams, GeneratedDomain
from campaigns.models.config import DnsPersona, HttpPersona, KeywordRule, KeywordSet, Proxy
from campaigns.models.jobs import CampaignJob, JobStatus
from campaigns.models.ratelimit import RateLimitWindow
from campaigns.models.validation import (
    DNS_BATCH_SIZE,
    HTTP_BATCH_SIZE,
    DnsResult,
    DnsValidationParams,
    HttpResult,
    HttpValidationParams,
)

__all__ = [
    "DNS_BATCH_SIZE",
    "HTTP_BATCH_SIZE",
    "AuditLog",
    "Campaign",
    "CampaignJob",
    "CampaignStateEvent",
    "CampaignStatus",
    "CampaignType",
    "DnsPersona",
    "DnsResult",
    "DnsValidationParams",
    "DomainGenerationConfigState",
    "DomainGenerationParams",
    "GeneratedDomain",
    "HttpPersona",
    "HttpResult",
    "HttpValidationParams",
    "KeywordRule",
    "KeywordSet",
    "Proxy",
    "RateLimitWindow",
    "JobStatus",
]
