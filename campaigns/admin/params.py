"""Each campaign type's params on the campaign change page: read-only, as created."""
from __future__ import annotations

from django.contrib import admin
from django.db.models import Model

from campaigns.admin.site import NoWrites
from campaigns.models import (
    CampaignType,
    DnsPersona,
    DnsValidationParams,
    DomainGenerationParams,
    HttpPersona,
    HttpValidationParams,
    KeywordSet,
    Proxy,
)


class CampaignParamsInline(NoWrites, admin.StackedInline):
    """Params are fixed once the campaign exists: shown, never added, changed or deleted here."""

    can_delete = False
    extra = 0

    def has_view_permission(self, request, obj=None) -> bool:
        # Whoever may see the campaign may see its params.
        return request.user.has_perm("campaigns.view_campaign") or request.user.has_perm("campaigns.change_campaign")


class GenerationParamsInline(CampaignParamsInline):
    """The params as created: read-only (changing them would change the offset space)."""

    model = DomainGenerationParams
    fields = ("pattern", "prefix_length", "suffix_length", "charset", "constant", "tlds", "count", "batch_size", "config_hash")
    readonly_fields = fields


def names_in_order(model: type[Model], ids: list[int]) -> str:
    """The names of the config objects a campaign points at (by id, no foreign key), in its order."""
    if not ids:
        return "—"
    found = model.objects.in_bulk(ids)
    return ", ".join(found[i].name if i in found else f"#{i} (deleted)" for i in ids)


class DnsParamsInline(CampaignParamsInline):
    model = DnsValidationParams
    verbose_name = verbose_name_plural = "DNS validation params"
    fields = ("personas", "batch_size")
    readonly_fields = fields

    @admin.display(description="personas (tried in this order)")
    def personas(self, obj: DnsValidationParams) -> str:
        return names_in_order(DnsPersona, obj.persona_ids)


class HttpParamsInline(CampaignParamsInline):
    model = HttpValidationParams
    verbose_name = verbose_name_plural = "HTTP validation params"
    fields = (
        "persona",
        "keyword_sets",
        "adhoc_keywords_text",
        "proxies",
        "proxy_strategy",
        "target_ports_text",
        "batch_size",
        "retries",
        "max_in_flight",
    )
    readonly_fields = fields

    @admin.display(description="persona")
    def persona(self, obj: HttpValidationParams) -> str:
        return names_in_order(HttpPersona, [obj.persona_id])

    @admin.display(description="keyword sets")
    def keyword_sets(self, obj: HttpValidationParams) -> str:
        return names_in_order(KeywordSet, obj.keyword_set_ids)

    @admin.display(description="ad-hoc keywords")
    def adhoc_keywords_text(self, obj: HttpValidationParams) -> str:
        return ", ".join(obj.adhoc_keywords) or "—"

    @admin.display(description="proxies")
    def proxies(self, obj: HttpValidationParams) -> str:
        return names_in_order(Proxy, obj.proxy_ids) if obj.proxy_ids else "none (direct)"

    @admin.display(description="target ports")
    def target_ports_text(self, obj: HttpValidationParams) -> str:
        return ", ".join(map(str, obj.target_ports)) or "443, then 80"


PARAMS_INLINES: dict[str, type[CampaignParamsInline]] = {
    CampaignType.DOMAIN_GENERATION: GenerationParamsInline,
    CampaignType.DNS_VALIDATION: DnsParamsInline,
    CampaignType.HTTP_KEYWORD_VALIDATION: HttpParamsInline,
}
