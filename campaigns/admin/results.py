"""Read-only result admins, one per campaign type, scoped by campaign owner, each with a streamed export."""
from __future__ import annotations

from uuid import UUID

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from campaigns import console_queries as queries
from campaigns import dns, http
from campaigns.admin.site import CampaignRowsAdmin, site
from campaigns.exports import FORMATS
from campaigns.models import CampaignType, DnsResult, GeneratedDomain, HttpResult, HttpValidationParams, KeywordRule
from campaigns.selectors import campaign_get
from campaigns.services.access import campaigns_visible_to
from campaigns.services.errors import CampaignNotFound
from campaigns.views import export_response


class CampaignResultFilter(admin.SimpleListFilter):
    """Pick one campaign (of the admin's campaign type) among the user's most recent ones."""

    title = "campaign"
    parameter_name = "campaign"
    LIMIT = 30

    def lookups(self, request, model_admin):
        campaigns = (
            campaigns_visible_to(request.user)
            .filter(campaign_type=model_admin.campaign_type)
            .order_by("-created_at")
            .values_list("pk", "name")[: self.LIMIT]
        )
        return [(str(pk), name) for pk, name in campaigns]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        try:
            return queryset.filter(campaign_id=UUID(value))
        except ValueError:
            return queryset.none()


class CampaignResultAdmin(CampaignRowsAdmin):
    """Read-only results of one campaign type, scoped by campaign owner, with a streamed export.

    DNS and HTTP result admins subclass this and set model, campaign_type
    and their columns; export and scoping come with it.
    """

    campaign_type: str = ""
    list_filter: tuple = (CampaignResultFilter,)
    list_per_page = 100
    change_list_template = "admin/campaigns/results_change_list.html"

    @admin.display(description="campaign", ordering="campaign_id")
    def campaign_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:campaigns_campaign_change", args=[obj.campaign_id]), obj.campaign.name
        )

    def get_urls(self):
        opts = self.opts
        custom = [
            path(
                "export/<uuid:campaign_id>.<str:fmt>",
                self.admin_site.admin_view(self.export_view),
                name=f"{opts.app_label}_{opts.model_name}_export",
            ),
        ]
        return custom + super().get_urls()

    def export_view(self, request: HttpRequest, campaign_id: UUID, fmt: str) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            campaign = campaign_get(actor=request.user, campaign_id=campaign_id)
        except CampaignNotFound:
            raise Http404("No campaign with that id is visible to you.") from None
        if campaign.campaign_type != self.campaign_type:
            raise Http404("That campaign has no results of this kind.")
        return export_response(actor=request.user, campaign=campaign, fmt=fmt)

    def changelist_view(self, request, extra_context=None):
        context = {"export_campaign": None, "export_formats": FORMATS, **(extra_context or {})}
        selected = request.GET.get(CampaignResultFilter.parameter_name)
        if selected:
            try:
                context["export_campaign"] = campaign_get(actor=request.user, campaign_id=selected)
            except CampaignNotFound:
                pass
        opts = self.opts
        context["export_url_name"] = f"admin:{opts.app_label}_{opts.model_name}_export"
        return super().changelist_view(request, extra_context=context)


@admin.register(GeneratedDomain, site=site)
class GeneratedDomainAdmin(CampaignResultAdmin):
    campaign_type = CampaignType.DOMAIN_GENERATION
    list_display = ("domain_name", "offset_index", "campaign_link")
    search_fields = ("domain_name",)
    # The unique (campaign, offset_index) index serves this order, so pages come straight off it.
    ordering = ("campaign_id", "offset_index")
    fields = ("campaign", "offset_index", "domain_name")


# --- DNS and HTTP results ------------------------------------------------------


def selected_campaign_id(request: HttpRequest) -> UUID | None:
    """The campaign chosen with CampaignResultFilter, when the value is a UUID."""
    try:
        return UUID(request.GET.get(CampaignResultFilter.parameter_name, ""))
    except ValueError:
        return None


class BusinessStatusFilter(admin.SimpleListFilter):
    """The admin's known business statuses, listed from code: no DISTINCT over millions of rows."""

    title = "business status"
    parameter_name = "business_status"
    NONE = "none"

    def lookups(self, request, model_admin):
        return [*((value, value) for value in model_admin.business_statuses), (self.NONE, "none (pending or not valid)")]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(business_status="" if value == self.NONE else value)


class KeywordFilter(admin.SimpleListFilter):
    """HTTP results whose keyword hits include one keyword (exactly as the rule or ad-hoc keyword is written).

    Cost: `keyword_hits @> '[{"keyword": …}]'` (jsonb containment). There is no
    GIN index on keyword_hits (it would slow every batch the workers write), so
    PostgreSQL tests the condition row by row on the rows the other filters
    leave, and the page's COUNT reads all of them. With a campaign chosen those
    are that campaign's rows, reached through the (campaign, …) indexes; so the
    choices are offered only once a campaign is chosen. A ?keyword= without a
    campaign still filters, over every visible HTTP result (a sequential scan).
    """

    title = "keyword"
    parameter_name = "keyword"
    LIMIT = 50

    def lookups(self, request, model_admin):
        campaign_id = selected_campaign_id(request)
        keywords = campaign_keywords(actor=request.user, campaign_id=campaign_id) if campaign_id else []
        value = self.value()
        if value and value not in keywords:
            keywords.append(value)  # a keyword from a link still shows, as the one chosen
        return [(keyword, keyword) for keyword in keywords]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(keyword_hits__contains=[{"keyword": value}])


def campaign_keywords(*, actor, campaign_id: UUID) -> list[str]:
    """The keywords an HTTP campaign looks for: its keyword sets' rules, then its ad-hoc keywords (two queries)."""
    params = (
        queries.results_visible_to(actor, HttpValidationParams.objects.filter(campaign_id=campaign_id))
        .values_list("keyword_set_ids", "adhoc_keywords")
        .first()
    )
    if params is None:
        return []
    set_ids, adhoc = params
    patterns = (
        KeywordRule.objects.filter(keyword_set_id__in=set_ids).order_by("keyword_set_id", "id").values_list("pattern", flat=True)
        if set_ids
        else []
    )
    keywords = [*patterns[: KeywordFilter.LIMIT], *(k.strip() for k in adhoc)]
    return list(dict.fromkeys(k for k in keywords if k))[: KeywordFilter.LIMIT]


class ValidationResultAdmin(CampaignResultAdmin):
    search_fields = ("domain_name",)
    # The unique (campaign, domain_name) index serves this order, so pages come straight off it.
    ordering = ("campaign_id", "domain_name")
    business_statuses: tuple[str, ...] = ()

    @admin.display(description="IPs")
    def ips_text(self, obj) -> str:
        return ", ".join(obj.ips) or "—"


@admin.register(DnsResult, site=site)
class DnsResultAdmin(ValidationResultAdmin):
    campaign_type = CampaignType.DNS_VALIDATION
    business_statuses = dns.BUSINESS_STATUSES
    list_display = (
        "domain_name", "status", "business_status", "ips_text", "rcode", "resolver", "attempts", "latency_ms", "campaign_link",
    )
    list_filter = (CampaignResultFilter, "status", BusinessStatusFilter)
    readonly_fields = ("ips_text",)
    fieldsets = (
        (None, {"fields": ("campaign", "domain_name", "batch_number", "status", "business_status")}),
        ("Answer", {"fields": ("ips_text", "rcode", "resolver", "persona", "attempts", "latency_ms", "checked_at")}),
    )


@admin.register(HttpResult, site=site)
class HttpResultAdmin(ValidationResultAdmin):
    """Scraped text (title, snippet, server, hit contexts) is data: rendered escaped, never marked safe."""

    campaign_type = CampaignType.HTTP_KEYWORD_VALIDATION
    business_statuses = http.BUSINESS_STATUSES
    list_display = (
        "domain_name", "status", "business_status", "status_code", "title_text", "keyword_count", "response_time_ms",
        "campaign_link",
    )
    list_filter = (CampaignResultFilter, "status", BusinessStatusFilter, KeywordFilter)
    readonly_fields = ("ips_text", "keyword_hits_table")
    fieldsets = (
        (None, {"fields": ("campaign", "domain_name", "batch_number", "status", "business_status", "error")}),
        (
            "Response",
            {"fields": ("status_code", "final_url", "redirect_count", "server", "content_length", "body_sha256",
                        "response_time_ms", "ips_text")},
        ),
        ("Page", {"fields": ("title", "snippet")}),
        ("Keywords", {"fields": ("keyword_count", "keyword_hits_table")}),
        ("Run", {"fields": ("persona", "proxy", "attempts", "checked_at")}),
    )
    CONTEXTS_SHOWN = 5  # per hit; a page can hold hundreds of matches

    @admin.display(description="title", ordering="title")
    def title_text(self, obj: HttpResult) -> str:
        return Truncator(obj.title).chars(80)

    @admin.display(description="keyword hits")
    def keyword_hits_table(self, obj: HttpResult):
        hits = [hit for hit in obj.keyword_hits or [] if isinstance(hit, dict)]
        if not hits:
            return "none"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (hit.get("keyword", ""), hit.get("kind", ""), hit.get("keyword_set", ""), hit.get("count", 0),
                 self._contexts_html(hit.get("contexts") or []))
                for hit in hits
            ),
        )
        return format_html(
            '<table class="df-hits"><thead><tr><th>keyword</th><th>kind</th><th>set</th><th>count</th>'
            "<th>in context</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def _contexts_html(self, contexts: list[str]):
        shown = format_html_join("", "<li>…{}…</li>", ((text,) for text in contexts[: self.CONTEXTS_SHOWN]))
        more = len(contexts) - self.CONTEXTS_SHOWN
        return format_html('<ul class="df-contexts">{}{}</ul>', shown, format_html("<li>and {} more</li>", more) if more > 0 else "")
