"""Shared configuration: DNS and HTTP personas, proxies, keyword sets with their rules.

Every owner's campaigns use these objects, so only staff add, change or
delete them; operators holding a view permission may read personas and
keyword sets, and proxies (they carry credentials) are staff-only to read too.
Each add, change and delete writes an AuditLog row in the same transaction as
the change (ModelAdmin runs its add, change and delete views in one atomic
block); a refused post writes a "denied" row.

The model's clean() validates (resolvers, RE2 regexes, proxy URLs); the
ModelForms call full_clean, so its messages show on the form.
"""
from __future__ import annotations

from urllib.parse import quote

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest

from campaigns.admin.site import StaffOnlyView, site
from campaigns.models import AuditLog, DnsPersona, HttpPersona, KeywordRule, KeywordSet, Proxy
from campaigns.selectors import campaigns_using_config
from campaigns.services.access import audit_record
from campaigns.services.config_io import PROXY_RUNTIME_FIELDS

REFUSAL = "Only staff can change the shared configuration."
PROXY_CONFIG_FIELDS = [
    f.name for f in Proxy._meta.concrete_fields if not f.primary_key and f.name not in PROXY_RUNTIME_FIELDS
]


class ConfigAdmin(admin.ModelAdmin):
    """Staff-only writes, each audited as config.add / config.change / config.delete."""

    audit_entity = ""  # AuditLog.entity_type of this model's rows

    # -- who may do what (staff, and then Django's model permissions)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_staff and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_staff and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_staff and super().has_delete_permission(request, obj)

    # -- the audit trail

    def audit(self, request: HttpRequest, action: str, entity_id: object, details: dict, *, denied: bool = False) -> None:
        audit_record(
            actor=request.user,
            action=action,
            entity_type=self.audit_entity,
            entity_id=entity_id,
            details=details,
            decision=AuditLog.Decision.DENIED if denied else AuditLog.Decision.ALLOWED,
        )

    def changed_fields(self, form: forms.ModelForm) -> list[str]:
        """Names of the fields the form changed (never their values)."""
        return sorted(form.changed_data)

    def related_changes(self, formsets) -> dict:
        return {}

    def save_related(self, request, form, formsets, change):
        # Called after save_model for both add and change, once the inlines are saved too.
        super().save_related(request, form, formsets, change)
        obj = form.instance
        details = {"name": obj.name, "fields": self.changed_fields(form), **self.related_changes(formsets)}
        self.audit(request, "config.change" if change else "config.add", obj.pk, details)

    def get_deleted_objects(self, objs, request):
        """Django's delete confirmation, with live campaigns that use an object listed as protecting it.

        Params hold ids without a foreign key, so Django's own collector cannot see
        these uses; a protected object is not deleted (the page says why).
        """
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for obj in objs:
            for campaign in campaigns_using_config(obj):
                protected.append(f"{obj}: used by campaign “{campaign.name}” ({campaign.status})")
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        pk, name = obj.pk, obj.name
        super().delete_model(request, obj)
        self.audit(request, "config.delete", pk, {"name": name})

    def delete_queryset(self, request, queryset):
        # The "delete selected" action runs outside the views' atomic block: delete and audit together.
        with transaction.atomic():
            doomed = list(queryset.order_by("name").values_list("pk", "name"))
            super().delete_queryset(request, queryset)
            for pk, name in doomed:
                self.audit(request, "config.delete", pk, {"name": name})

    # -- refused posts are audited (before the view's transaction, which a refusal rolls back)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST":
            if object_id is None:
                self._refuse_unless(request, self.has_add_permission(request), "config.add", "")
            else:
                obj = self.get_object(request, unquote(object_id))
                if obj is not None:
                    self._refuse_unless(request, self.has_change_permission(request, obj), "config.change", obj.pk)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        if request.method == "POST":
            obj = self.get_object(request, unquote(object_id))
            if obj is not None:
                self._refuse_unless(request, self.has_delete_permission(request, obj), "config.delete", obj.pk)
        return super().delete_view(request, object_id, extra_context)

    def _refuse_unless(self, request: HttpRequest, allowed: bool, action: str, entity_id: object) -> None:
        if not allowed:
            self.audit(request, action, entity_id, {"reason": REFUSAL}, denied=True)
            raise PermissionDenied(REFUSAL)


# --- personas -------------------------------------------------------------------


@admin.register(DnsPersona, site=site)
class DnsPersonaAdmin(ConfigAdmin):
    audit_entity = "dns_persona"
    list_display = ("name", "enabled", "strategy", "resolvers_text", "timeout_s", "retries", "max_in_flight", "rate_limit_qps")
    list_filter = ("enabled", "strategy")
    search_fields = ("name",)

    @admin.display(description="resolvers")
    def resolvers_text(self, obj: DnsPersona) -> str:
        return ", ".join(obj.resolvers)


@admin.register(HttpPersona, site=site)
class HttpPersonaAdmin(ConfigAdmin):
    audit_entity = "http_persona"
    list_display = ("name", "enabled", "user_agent", "timeout_s", "follow_redirects", "max_redirects", "verify_tls", "max_body_bytes")
    list_filter = ("enabled", "follow_redirects", "verify_tls")
    search_fields = ("name", "user_agent")


# --- proxies --------------------------------------------------------------------


class ProxyForm(forms.ModelForm):
    """The password is write-only: never rendered, blank keeps it, "clear password" removes it."""

    password = forms.CharField(
        required=False,
        strip=False,
        max_length=Proxy._meta.get_field("password").max_length,
        # new-password: a browser must not fill in the staff member's own saved login here.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave blank to keep the stored password.",
    )
    clear_password = forms.BooleanField(required=False, label="Clear password", help_text="Remove the stored password.")

    class Meta:
        model = Proxy
        fields = ["name", "scheme", "host", "port", "username", "password", "enabled"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Not even as the field's initial value: "changed" then means "a password was typed".
        self.initial.pop("password", None)

    def clean(self):
        cleaned = super().clean()
        typed = cleaned.get("password") or ""
        if cleaned.get("clear_password"):
            if typed:
                self.add_error("clear_password", "Type a new password or clear the stored one, not both.")
            cleaned["password"] = ""
        elif not typed:
            cleaned["password"] = self.instance.password  # none on a new proxy
        self.instance.password = cleaned["password"]  # what the model's clean() checks the URL with
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        # The model's clean() masks the password in its message but not its %-encoded form,
        # which the proxy URL (quoted in the message) carries.
        secret = self.instance.password
        if not secret or not self._errors:
            return
        for errors in self._errors.values():
            errors.data = [ValidationError(_masked(message, secret)) for message in errors]


def _masked(message: str, secret: str) -> str:
    return message.replace(quote(secret, safe=""), "***").replace(secret, "***")


@admin.register(Proxy, site=site)
class ProxyAdmin(StaffOnlyView, ConfigAdmin):  # credentials: staff only, even to look
    audit_entity = "proxy"
    form = ProxyForm
    list_display = ("name", "scheme", "host", "port", "username", "enabled", "healthy", "consecutive_failures", "use_count")
    list_filter = ("scheme", "enabled", "healthy")
    search_fields = ("name", "host")
    readonly_fields = PROXY_RUNTIME_FIELDS
    fieldsets = (
        (None, {"fields": ("name", "scheme", "host", "port", "enabled")}),
        ("Credentials", {"fields": ("username", "password", "clear_password")}),
        ("Health (kept by the workers)", {"fields": PROXY_RUNTIME_FIELDS}),
    )
    actions = ["mark_healthy"]

    def changed_fields(self, form: forms.ModelForm) -> list[str]:
        return sorted({"password" if name == "clear_password" else name for name in form.changed_data})

    def save_model(self, request, obj, form, change):
        if change:
            # The workers' counters are written concurrently (use_count += n): leave them to them.
            obj.save(update_fields=PROXY_CONFIG_FIELDS)
        else:
            obj.save()

    @admin.action(description="Mark selected proxies healthy", permissions=["change"])
    def mark_healthy(self, request: HttpRequest, queryset) -> None:
        reset = {"healthy": True, "consecutive_failures": 0, "last_error": ""}
        with transaction.atomic():
            proxies = list(queryset.select_for_update().order_by("name").only("pk", "name"))  # by name, as imports lock
            Proxy.objects.filter(pk__in=[p.pk for p in proxies]).update(**reset)
            for proxy in proxies:
                self.audit(request, "config.mark_healthy", proxy.pk, {"name": proxy.name, "fields": sorted(reset)})
        noun = "proxy" if len(proxies) == 1 else "proxies"
        self.message_user(request, f"Marked {len(proxies)} {noun} healthy.", messages.SUCCESS)


# --- keyword sets ---------------------------------------------------------------


class KeywordRuleInline(admin.TabularInline):
    """A set's rules are part of the set: its permissions (and staff) decide."""

    model = KeywordRule
    fields = ("pattern", "kind", "case_sensitive", "context_chars")
    extra = 1

    def _may_edit(self, request: HttpRequest, obj) -> bool:
        perm = "change" if obj is not None else "add"
        return request.user.is_staff and request.user.has_perm(f"campaigns.{perm}_keywordset")

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("campaigns.view_keywordset") or request.user.has_perm("campaigns.change_keywordset")

    def has_add_permission(self, request, obj=None) -> bool:
        return self._may_edit(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may_edit(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._may_edit(request, obj)


@admin.register(KeywordSet, site=site)
class KeywordSetAdmin(ConfigAdmin):
    audit_entity = "keyword_set"
    list_display = ("name", "description", "rule_count")
    search_fields = ("name",)
    inlines = [KeywordRuleInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(rule_count=Count("rules"))

    @admin.display(description="rules", ordering="rule_count")
    def rule_count(self, obj: KeywordSet) -> int:
        return obj.rule_count

    def related_changes(self, formsets) -> dict:
        rules = {"added": [], "changed": [], "deleted": []}
        for formset in formsets:
            rules["added"] += [rule.pattern for rule in formset.new_objects]
            rules["changed"] += [rule.pattern for rule, _fields in formset.changed_objects]
            rules["deleted"] += [rule.pattern for rule in formset.deleted_objects]
        changed = {kind: patterns for kind, patterns in rules.items() if patterns}
        return {"rules": changed} if changed else {}
