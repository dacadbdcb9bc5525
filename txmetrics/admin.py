"""TransactionMetric in the admin: read-only, staff only.

Metrics span every owner's campaigns, and txmetrics (a leaf app) cannot ask
campaigns who owns what; operators read the aggregated report page instead.
Registered on Django's default site; the console site (campaigns.admin) serves it.
"""
from __future__ import annotations

from django.contrib import admin

from txmetrics.models import TransactionMetric


@admin.register(TransactionMetric)
class TransactionMetricAdmin(admin.ModelAdmin):
    list_display = ("created_at", "operation", "success", "duration_ms", "retry_count", "sqlstate", "isolation_level", "campaign_id")
    list_filter = ("success", "operation", "sqlstate")
    search_fields = ("=operation", "error")
    ordering = ("-created_at", "-id")
    show_full_result_count = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_staff and super().has_view_permission(request, obj)

    def has_module_permission(self, request) -> bool:
        return request.user.is_staff and super().has_module_permission(request)
