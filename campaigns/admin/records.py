"""Worker-owned, audit and offset-space rows: read-only."""
from __future__ import annotations

from django.contrib import admin

from campaigns import console_queries as queries
from campaigns.admin.site import CampaignRowsAdmin, ReadOnlyAdmin, StaffOnlyView, site
from campaigns.models import AuditLog, CampaignJob, CampaignStateEvent, DomainGenerationConfigState


@admin.register(CampaignJob, site=site)
class CampaignJobAdmin(CampaignRowsAdmin):
    list_display = ("campaign", "batch_number", "status", "attempts", "max_attempts", "result_count", "locked_by", "lease_expires_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("campaign__name", "locked_by")


@admin.register(CampaignStateEvent, site=site)
class CampaignStateEventAdmin(CampaignRowsAdmin):
    list_display = ("campaign", "sequence", "transition", "from_status", "to_status", "actor_label", "campaign_version", "created_at")
    list_filter = ("transition", "to_status")
    search_fields = ("campaign__name", "actor_label", "reason")


@admin.register(AuditLog, site=site)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_label", "action", "entity_type", "entity_id", "decision")
    list_filter = ("decision", "action", "entity_type")
    search_fields = ("=entity_id", "actor_label", "action")
    ordering = ("-created_at", "-id")
    show_full_result_count = False

    def get_queryset(self, request):
        return queries.audit_visible_to(request.user, super().get_queryset(request))


@admin.register(DomainGenerationConfigState, site=site)
class DomainGenerationConfigStateAdmin(StaffOnlyView, ReadOnlyAdmin):
    """Shared offset spaces span owners: staff only."""

    list_display = ("config_hash", "last_offset", "version", "updated_at")
    ordering = ("-updated_at",)
