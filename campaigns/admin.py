"""The operator console's admin (STYLE "Admin").

Who gets in: Django's admin admits only is_staff users; DomainFlow's own site
(`site`, mounted at /admin/) also admits active non-staff *operators* who hold
model permissions of the campaigns app. Staff see every campaign; operators see
and change only their own (querysets go through campaigns_visible_to).

Writes go through the services, never through ModelAdmin.save or django-fsm's
admin mixin: creating calls campaign_create, editing calls campaign_update, and
status changes call campaign_transition with the acting user and the version
the user saw, so a stale page gets "changed by someone else" and changes nothing.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from campaigns import console_queries as queries
from campaigns.exports import FORMATS
from campaigns.exports import SOURCES as EXPORT_SOURCES
from campaigns.models import (
    AuditLog,
    Campaign,
    CampaignJob,
    CampaignStateEvent,
    CampaignStatus,
    CampaignType,
    DomainGenerationConfigState,
    DomainGenerationParams,
    GeneratedDomain,
)
from campaigns.selectors import CampaignProgress, campaign_get, campaign_progress
from campaigns.services.access import campaigns_visible_to
from campaigns.services.campaigns import campaign_create, campaign_update
from campaigns.services.errors import CampaignError, CampaignNotFound, InvalidCampaignParams, StaleCampaign
from campaigns.services.transitions import campaign_transition
from campaigns.views import export_response
from txmetrics.errors import TransactionRetriesExhausted, TransactionTimeout

# Refusals shown to the operator as a message instead of an error page.
USER_FACING_ERRORS = (CampaignError, TransactionRetriesExhausted, TransactionTimeout)

# The transitions a person may ask for; begin, complete and fail belong to workers.
USER_TRANSITIONS = ("start", "pause", "resume", "cancel", "retry", "archive")
PAST_TENSE = {
    "start": "Started",
    "pause": "Paused",
    "resume": "Resumed",
    "cancel": "Cancelled",
    "retry": "Retried",
    "archive": "Archived",
}

# The changelist renders one hidden input per row carrying the version shown;
# actions compare it with the row's current version.
ROW_VERSION_FIELD = "_version_{}"


# --- the site -----------------------------------------------------------------


class ConsoleAuthenticationForm(AuthenticationForm):
    """Any active user may sign in: the console pages need only a login; the admin checks permissions."""


class ConsoleAdminSite(admin.AdminSite):
    site_header = "DomainFlow console"
    site_title = "DomainFlow"
    index_title = "Administration"
    site_url = "/"
    login_form = ConsoleAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        """Staff, and non-staff operators holding any permission of the campaigns app."""
        user = request.user
        return bool(user.is_active and (user.is_staff or user.has_module_perms("campaigns")))

    @property
    def urls(self):
        # Models other apps register on Django's default site (auth's User and
        # Group, txmetrics) are served here too, each with its own ModelAdmin.
        for model, model_admin in admin.site._registry.items():
            if model not in self._registry:
                self.register(model, type(model_admin))
        return super().urls


site = ConsoleAdminSite(name="admin")


# --- shared pieces -------------------------------------------------------------


class OwnerScopedAdmin(admin.ModelAdmin):
    """A 404 (not a redirect with "perhaps it was deleted") for objects outside the user's queryset."""

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(f"No {opts.verbose_name} with id {object_id!r} is visible to you.")


class ReadOnlyAdmin(OwnerScopedAdmin):
    """Rows written by workers, services or metrics: viewable, never edited here."""

    # Facet counts would run one COUNT per filter choice over tables of millions of rows.
    show_facets = admin.ShowFacets.NEVER

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


BADGE_CLASSES = {
    CampaignStatus.PENDING: "df-badge-pending",
    CampaignStatus.QUEUED: "df-badge-queued",
    CampaignStatus.RUNNING: "df-badge-running",
    CampaignStatus.PAUSED: "df-badge-paused",
    CampaignStatus.COMPLETED: "df-badge-completed",
    CampaignStatus.FAILED: "df-badge-failed",
    CampaignStatus.CANCELLED: "df-badge-cancelled",
    CampaignStatus.ARCHIVED: "df-badge-archived",
}


def status_badge_html(status: str):
    return format_html('<span class="df-badge {}">{}</span>', BADGE_CLASSES.get(status, ""), status)


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return str(timedelta(seconds=round(seconds)))


def posted_version(request: HttpRequest, name: str) -> int | None:
    """The version a form carried; None when absent. A malformed value can match nothing: -1."""
    raw = request.POST.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        return -1


class OwnerFilter(admin.SimpleListFilter):
    """Owners of the campaigns the user can see (an operator sees only their own name)."""

    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        visible = campaigns_visible_to(request.user)
        users = get_user_model().objects.filter(pk__in=visible.values("owner_id")).order_by("username")
        return [(str(user.pk), user.get_username()) for user in users]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(owner_id=int(value))


# --- campaigns -----------------------------------------------------------------


class CampaignChangeForm(forms.ModelForm):
    """Name and chain_next, plus the version the page showed (checked again by campaign_update)."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = Campaign
        fields = ["name", "chain_next"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["expected_version"].initial = self.instance.version

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        expected = cleaned.get("expected_version")
        if expected is not None and self.instance.pk is not None and expected != self.instance.version:
            raise forms.ValidationError(
                str(StaleCampaign(self.instance.pk, expected=expected, actual=self.instance.version)), code="stale"
            )
        return cleaned


class CampaignCreateForm(forms.Form):
    """A domain generation campaign: the fields campaign_create takes, validated by the service itself."""

    name = forms.CharField(max_length=200)
    pattern = forms.ChoiceField(choices=DomainGenerationParams.Pattern.choices)
    prefix_length = forms.IntegerField(initial=0, help_text="Variable characters before the constant.")
    suffix_length = forms.IntegerField(initial=0, help_text="Variable characters after the constant.")
    charset = forms.CharField(max_length=64, help_text="Characters of the variable part: a-z, 0-9, '-'.")
    constant = forms.CharField(max_length=63, required=False)
    tlds = forms.CharField(max_length=1000, label="TLDs", help_text="Separated by commas or spaces, e.g. com, net, co.uk")
    count = forms.IntegerField(help_text="How many domains to generate.")
    batch_size = forms.IntegerField(initial=10_000, help_text="Domains per job.")
    chain_next = forms.BooleanField(required=False, help_text="Create and start the DNS phase on completion.")
    owner = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False, help_text="Staff only; you by default.")

    PARAM_FIELDS = ("pattern", "prefix_length", "suffix_length", "charset", "constant", "tlds", "count", "batch_size")

    def __init__(self, *args: Any, user, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user.is_staff:
            self.fields["owner"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        else:
            del self.fields["owner"]

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        params = {name: data[name] for name in self.PARAM_FIELDS}
        params["tlds"] = [tld for tld in data["tlds"].replace(",", " ").split() if tld]
        owner = data.get("owner")
        return {
            "name": data["name"],
            "campaign_type": CampaignType.DOMAIN_GENERATION,
            "params": params,
            "chain_next": data["chain_next"],
            "owner_id": owner.pk if owner else None,
        }

    def add_service_errors(self, errors: dict[str, str]) -> None:
        for field, message in errors.items():
            if field in self.fields:
                self.add_error(field, message)
            else:
                self.add_error(None, message if field == "__all__" else f"{field}: {message}")


class GenerationParamsInline(admin.StackedInline):
    """The params as created: read-only (changing them would change the offset space)."""

    model = DomainGenerationParams
    can_delete = False
    extra = 0
    fields = ("pattern", "prefix_length", "suffix_length", "charset", "constant", "tlds", "count", "batch_size", "config_hash")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        # Whoever may see the campaign may see its params.
        return request.user.has_perm("campaigns.view_campaign") or request.user.has_perm("campaigns.change_campaign")


def _transition_action(transition: str):
    def action(modeladmin: CampaignAdmin, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        modeladmin.transition_selected(request, queryset, transition)

    action.__name__ = f"{transition}_selected"
    return admin.action(description=f"{transition.capitalize()} selected campaigns", permissions=["change"])(action)


@admin.register(Campaign, site=site)
class CampaignAdmin(OwnerScopedAdmin):
    list_display = (
        "name",
        "status_badge",
        "campaign_type",
        "progress_bar",
        "processed_of_total",
        "rate",
        "eta",
        "owner",
        "created_at",
        "row_version",
    )
    list_display_links = ("name",)
    list_filter = ("campaign_type", "status", OwnerFilter)
    search_fields = ("name", "owner__username")
    list_select_related = ("owner",)
    list_per_page = 50
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    actions = [_transition_action(t) for t in USER_TRANSITIONS]
    form = CampaignChangeForm
    inlines = [GenerationParamsInline]
    change_form_template = "admin/campaigns/campaign/change_form.html"
    readonly_fields = (
        "id",
        "status_badge",
        "campaign_type",
        "owner",
        "version",
        "progress_bar",
        "processed_of_total",
        "successful_items",
        "failed_items",
        "rate",
        "eta",
        "error_message",
        "created_at",
        "started_at",
        "finished_at",
        "links",
        "state_history",
        "jobs",
    )
    fieldsets = (
        (None, {"fields": ("name", "chain_next", "expected_version", "id", "campaign_type", "owner", "status_badge", "version")}),
        (
            "Progress",
            {"fields": ("progress_bar", "processed_of_total", "successful_items", "failed_items", "rate", "eta", "error_message")},
        ),
        ("Times", {"fields": ("created_at", "started_at", "finished_at")}),
        ("Results", {"fields": ("links",)}),
        ("State history", {"fields": ("state_history",)}),
        ("Jobs", {"fields": ("jobs",)}),
    )

    class Media:
        css = {"all": ["console/admin.css"]}

    # -- scope and permissions

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return campaigns_visible_to(request.user, super().get_queryset(request))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # campaigns are archived, never deleted from the console

    # -- list columns (all derived through selectors.campaign_progress)

    @staticmethod
    def _progress(obj: Campaign) -> CampaignProgress:
        cached = getattr(obj, "_console_progress", None)
        if cached is None:
            cached = obj._console_progress = campaign_progress(obj)
        return cached

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Campaign):
        return status_badge_html(obj.status)

    @admin.display(description="progress")
    def progress_bar(self, obj: Campaign):
        percent = self._progress(obj).percent
        return format_html('<progress class="df-progress" max="100" value="{}"></progress> {}%', percent, percent)

    @admin.display(description="processed / total")
    def processed_of_total(self, obj: Campaign) -> str:
        return f"{obj.processed_items:,} / {obj.total_items:,}"

    @admin.display(description="rate")
    def rate(self, obj: Campaign) -> str:
        rate = self._progress(obj).rate_per_s
        return "—" if rate is None else f"{rate:,.1f}/s"

    @admin.display(description="ETA")
    def eta(self, obj: Campaign) -> str:
        return duration_text(self._progress(obj).eta_s)

    @admin.display(description="version")
    def row_version(self, obj: Campaign):
        return format_html(
            '{}<input type="hidden" name="{}" value="{}">', obj.version, ROW_VERSION_FIELD.format(obj.pk), obj.version
        )

    # -- change page panels

    @admin.display(description="links")
    def links(self, obj: Campaign):
        items = [(reverse("campaigns:detail", args=[obj.pk]), "Console page")]
        model = queries.RESULT_MODELS.get(obj.campaign_type)
        if model is not None:
            opts = model._meta
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            items.append((f"{url}?campaign={obj.pk}", f"Results ({opts.verbose_name_plural})"))
        if obj.campaign_type in EXPORT_SOURCES:
            for fmt in FORMATS:
                items.append((reverse("campaigns:export", args=[obj.pk, fmt]), f"Export {fmt.upper()}"))
        jobs_url = reverse("admin:campaigns_campaignjob_changelist")
        items.append((f"{jobs_url}?campaign__id__exact={obj.pk}", "All jobs"))
        return format_html_join(" · ", '<a href="{}">{}</a>', items)

    @admin.display(description="state history")
    def state_history(self, obj: Campaign):
        events = obj.state_events.select_related("actor").order_by("sequence")
        rows = format_html_join(
            "",
            '<li class="df-event"><span class="df-event-time">{}</span> #{} <strong>{}</strong>: {} → {} by {}{}</li>',
            (
                (
                    e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    e.sequence,
                    e.transition,
                    e.from_status or "∅",
                    e.to_status,
                    e.actor_label or "system",
                    format_html(" — {}", e.reason) if e.reason else "",
                )
                for e in events
            ),
        )
        return format_html('<ol class="df-timeline">{}</ol>', rows)

    @admin.display(description="jobs")
    def jobs(self, obj: Campaign):
        summary = queries.jobs_summary(campaign=obj)
        if not summary:
            return "No jobs yet (they are created when the campaign starts)."
        counts = format_html_join(", ", "{}: {}", sorted(summary.items()))
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (j.batch_number, j.status, j.attempts, j.max_attempts, j.result_count, j.locked_by or "—", j.last_error or "")
                for j in queries.first_jobs(campaign=obj)
            ),
        )
        return format_html(
            '<p>{}</p><table class="df-jobs"><thead><tr><th>batch</th><th>status</th><th>attempts</th>'
            "<th>results</th><th>worker</th><th>last error</th></tr></thead><tbody>{}</tbody></table>",
            counts,
            rows,
        )

    # -- the change page: edit through campaign_update, transition buttons

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # No transaction.atomic() around the view, unlike ModelAdmin's: the services
        # run their own durable transactions, which cannot nest inside another.
        return self._changeform_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self.has_change_permission(request, obj):
            available = {t.name for t in obj.get_available_status_transitions()}
            context["transition_buttons"] = [t for t in USER_TRANSITIONS if t in available]
            context["transition_url"] = reverse("admin:campaigns_campaign_transition", args=[obj.pk])
            context["transition_version"] = obj.version
        if obj is not None:
            # Rendered by the template (not a read-only field): it depends on who is looking.
            context["phase_chain"] = queries.campaign_chain(actor=request.user, campaign=obj)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def save_model(self, request, obj, form, change):
        if not change:
            raise PermissionDenied("Campaigns are created through the add form (campaign_create).")
        try:
            campaign_update(
                campaign_id=obj.pk,
                actor=request.user,
                expected_version=form.cleaned_data["expected_version"],
                name=form.cleaned_data["name"],
                chain_next=form.cleaned_data["chain_next"],
            )
        except USER_FACING_ERRORS as exc:
            request._console_refusal = str(exc)

    def log_change(self, request, obj, message):
        if getattr(request, "_console_refusal", None) is None:
            return super().log_change(request, obj, message)
        return None

    def response_change(self, request, obj):
        refusal = getattr(request, "_console_refusal", None)
        if refusal is not None:
            self.message_user(request, f"Nothing was changed. {refusal}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[obj.pk]))
        return super().response_change(request, obj)

    def get_urls(self):
        custom = [
            path(
                "<uuid:campaign_id>/transition/",
                self.admin_site.admin_view(self.transition_view),
                name="campaigns_campaign_transition",
            ),
        ]
        return custom + super().get_urls()

    def transition_view(self, request: HttpRequest, campaign_id: UUID) -> HttpResponse:
        """One transition from the change page's buttons, checked against the version the page showed."""
        return require_POST(self._transition_view)(request, campaign_id)

    def _transition_view(self, request: HttpRequest, campaign_id: UUID) -> HttpResponse:
        campaign = self.get_object(request, str(campaign_id))
        if campaign is None:
            raise Http404("No campaign with that id is visible to you.")
        if not self.has_change_permission(request, campaign):
            raise PermissionDenied
        transition = request.POST.get("transition", "")
        if transition not in USER_TRANSITIONS:
            self.message_user(request, f"Unknown transition {transition!r}.", messages.ERROR)
        else:
            expected = posted_version(request, "expected_version")
            try:
                campaign_transition(
                    campaign_id=campaign.pk, transition=transition, actor=request.user, expected_version=expected
                )
            except StaleCampaign as exc:
                self.message_user(request, f"Nothing was changed. {exc}", messages.ERROR)
            except USER_FACING_ERRORS as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{PAST_TENSE[transition]} “{campaign.name}”.", messages.SUCCESS)
        return redirect("admin:campaigns_campaign_change", campaign.pk)

    # -- changelist actions

    def transition_selected(self, request: HttpRequest, queryset: QuerySet[Campaign], transition: str) -> None:
        """Apply a transition to the selected rows, each checked against the version its row showed.

        If any selected row changed since the page was rendered, nothing is
        applied: the operator acted on a picture that is no longer true.
        Rows not on the page (select all across pages) carry no version and
        are transitioned from whatever state they are in now.
        """
        campaigns = list(queryset.select_related(None).only("id", "name", "version", "status").order_by("created_at"))
        seen = {c.pk: posted_version(request, ROW_VERSION_FIELD.format(c.pk)) for c in campaigns}
        stale = [c for c in campaigns if seen[c.pk] is not None and seen[c.pk] != c.version]
        if stale:
            for campaign in stale:
                error = StaleCampaign(campaign.pk, expected=seen[campaign.pk], actual=campaign.version)
                self.message_user(request, f"“{campaign.name}”: {error}", messages.ERROR)
            self.message_user(request, "Nothing was changed.", messages.ERROR)
            return
        done = 0
        for campaign in campaigns:
            try:
                campaign_transition(
                    campaign_id=campaign.pk, transition=transition, actor=request.user, expected_version=seen[campaign.pk]
                )
                done += 1
            except USER_FACING_ERRORS as exc:
                self.message_user(request, f"“{campaign.name}”: {exc}", messages.ERROR)
        if done:
            noun = "campaign" if done == 1 else "campaigns"
            self.message_user(request, f"{PAST_TENSE[transition]} {done} {noun}.", messages.SUCCESS)

    # -- the add page: campaign_create, with the service's messages on the fields

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = CampaignCreateForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            try:
                outcome = campaign_create(actor=request.user, **form.service_kwargs())
            except InvalidCampaignParams as exc:
                form.add_service_errors(exc.errors)
            except USER_FACING_ERRORS as exc:
                form.add_error(None, str(exc))
            else:
                campaign = outcome.campaign
                self.message_user(request, f"Created “{campaign.name}” (pending; start it when ready).", messages.SUCCESS)
                for warning in outcome.warnings:
                    self.message_user(request, warning, messages.WARNING)
                return redirect("admin:campaigns_campaign_change", campaign.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Add domain generation campaign",
            "subtitle": None,
            "form": form,
            "opts": self.opts,
            "media": self.media + form.media,
            "has_view_permission": self.has_view_permission(request),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/campaigns/campaign/create.html", context)


# --- results -------------------------------------------------------------------


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


class CampaignResultAdmin(ReadOnlyAdmin):
    """Read-only results of one campaign type, scoped by campaign owner, with a streamed export.

    DNS and HTTP result admins subclass this and set model, campaign_type
    and their columns; export and scoping come with it.
    """

    campaign_type: str = ""
    list_filter: tuple = (CampaignResultFilter,)
    list_select_related = ("campaign",)
    list_per_page = 100
    show_full_result_count = False
    change_list_template = "admin/campaigns/results_change_list.html"

    class Media:
        css = {"all": ["console/admin.css"]}

    def get_queryset(self, request):
        return queries.results_visible_to(request.user, super().get_queryset(request))

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


# --- worker-owned and audit rows: read-only ---------------------------------------


@admin.register(CampaignJob, site=site)
class CampaignJobAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "batch_number", "status", "attempts", "max_attempts", "result_count", "locked_by", "lease_expires_at", "finished_at")
    list_filter = ("status",)
    list_select_related = ("campaign",)
    search_fields = ("campaign__name", "locked_by")
    ordering = ("-created_at", "-id")
    show_full_result_count = False

    def get_queryset(self, request):
        return queries.results_visible_to(request.user, super().get_queryset(request))


@admin.register(CampaignStateEvent, site=site)
class CampaignStateEventAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "sequence", "transition", "from_status", "to_status", "actor_label", "campaign_version", "created_at")
    list_filter = ("transition", "to_status")
    list_select_related = ("campaign",)
    search_fields = ("campaign__name", "actor_label", "reason")
    ordering = ("-created_at", "-id")
    show_full_result_count = False

    def get_queryset(self, request):
        return queries.results_visible_to(request.user, super().get_queryset(request))


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
class DomainGenerationConfigStateAdmin(ReadOnlyAdmin):
    """Shared offset spaces span owners: staff only."""

    list_display = ("config_hash", "last_offset", "version", "updated_at")
    ordering = ("-updated_at",)

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_staff and super().has_view_permission(request, obj)

    def has_module_permission(self, request) -> bool:
        return request.user.is_staff and super().has_module_permission(request)
