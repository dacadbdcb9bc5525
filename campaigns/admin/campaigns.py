"""The campaign admin (STYLE "Admin").

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

from uuid import UUID

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from campaigns import console_queries as queries
from campaigns import vocabulary as words
from campaigns.admin.campaign_columns import LiveColumns
from campaigns.admin.campaign_forms import CampaignChangeForm, OwnerFilter
from campaigns.admin.create_forms import CREATE_FORMS
from campaigns.admin.form_checks import preview_generation
from campaigns.admin.params import PARAMS_INLINES, GenerationParamsInline
from campaigns.admin.site import USER_FACING_ERRORS, OwnerScopedAdmin, posted_version, site
from campaigns.console_pipelines import campaign_view
from campaigns.exports import FORMATS
from campaigns.exports import SOURCES as EXPORT_SOURCES
from campaigns.live import with_source_status
from campaigns.models import Campaign, CampaignStatus, CampaignType
from campaigns.pipelines import later_versions, phases_after, phases_moved, pipelines_phases
from campaigns.services.access import campaigns_visible_to
from campaigns.services.campaigns import CreateOutcome, campaign_create, campaign_update
from campaigns.services.errors import InvalidCampaignParams, StaleCampaign
from campaigns.services.feed import STARTABLE_SOURCE
from campaigns.services.transitions import CANCELLABLE, campaign_transition

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

CANCEL_UNCONFIRMED = "Nothing was changed. Cancelling cannot be undone: confirm it when the page asks."

# The changelist renders one hidden input per row carrying the version shown;
# actions compare it with the row's current version.
ROW_VERSION_FIELD = "_version_{}"

def _transition_action(transition: str):
    def action(modeladmin: CampaignAdmin, request: HttpRequest, queryset: QuerySet[Campaign]) -> HttpResponse | None:
        if transition == "cancel" and request.POST.get("confirmed") != "yes":
            return modeladmin.confirm_cancel(request, queryset)
        return modeladmin.transition_selected(request, queryset, transition)

    action.__name__ = f"{transition}_selected"
    return admin.action(description=f"{transition.capitalize()} selected campaigns", permissions=["change"])(action)


@admin.register(Campaign, site=site)
class CampaignAdmin(LiveColumns, OwnerScopedAdmin):
    list_display = (
        "name_cell", "status_badge", "type_label", "progress_bar", "processed_of_total", "outcome_successful",
        "outcome_failed", "rate", "eta", "owner_name", "created",
    )
    list_display_links = ("name_cell",)
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
    # Status, progress, outcomes and state history are the live panel above the form
    # (templates/campaigns/_admin_live.html), polled like the console pages.
    # chain_next is fixed at creation (a pipeline's phases are created with its first phase).
    readonly_fields = ("chain_next", "id", "type_label", "owner_name", "created", "started", "finished", "links", "jobs")
    fieldsets = (
        (None, {"fields": ("name", "chain_next", "expected_version", "id", "type_label", "owner_name")}),
        ("Times", {"fields": ("created", "started", "finished")}),
        ("Results", {"fields": ("links",)}),
        ("Jobs", {"fields": ("jobs",)}),
    )

    # -- scope and permissions

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return with_source_status(campaigns_visible_to(request.user, super().get_queryset(request)))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # campaigns are archived, never deleted from the console

    def get_inlines(self, request, obj):
        # Only the params of the campaign's own type: other types' inlines would be empty
        # and their management forms would be required in every post of the change page.
        return [PARAMS_INLINES[obj.campaign_type]] if obj is not None else self.inlines

    # -- list columns: campaign_columns.LiveColumns

    @admin.display(description="name", ordering="name")
    def name_cell(self, obj: Campaign):
        # The version the row shows travels with it (hidden): actions refuse rows changed since.
        return format_html(
            '<span title="{}">{}</span><input type="hidden" name="{}" value="{}">',
            obj.name, obj.name, ROW_VERSION_FIELD.format(obj.pk), obj.version,
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
            if "cancel" in context["transition_buttons"]:
                later = phases_after(actor=request.user, campaign_id=obj.pk)
                context["cancel_also"] = [phase for phase in later if phase.status in CANCELLABLE]
        if obj is not None:
            live = campaign_view(actor=request.user, campaign=obj, details=False)
            # Rendered by the template (not a read-only field): it depends on who is looking.
            context["phase_chain"] = live["chain"]
            context["live_panel"] = render_to_string("campaigns/_admin_live.html", live, request=request)
            context["live_url"] = reverse("campaigns:live_json") + f"?campaign={obj.pk}&view=admin"
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
                "generation-preview.json",
                self.admin_site.admin_view(self.generation_preview_view),
                name="campaigns_campaign_generation_preview",
            ),
            path(
                "<uuid:campaign_id>/transition/",
                self.admin_site.admin_view(self.transition_view),
                name="campaigns_campaign_transition",
            ),
        ]
        return custom + super().get_urls()

    def generation_preview_view(self, request: HttpRequest) -> JsonResponse:
        """How many names the add form's generation settings can produce, and how its input will be read."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        return JsonResponse(preview_generation(request.GET))

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
        elif transition == "cancel" and request.POST.get("confirmed") != "yes":
            self.message_user(request, CANCEL_UNCONFIRMED, messages.ERROR)
        else:
            expected = posted_version(request, "expected_version")
            before = later_versions(actor=request.user, campaign_id=campaign.pk)
            try:
                campaign_transition(
                    campaign_id=campaign.pk, transition=transition, actor=request.user, expected_version=expected
                )
            except StaleCampaign as exc:
                self.message_user(request, f"Nothing was changed. {exc}", messages.ERROR)
            except USER_FACING_ERRORS as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                moved = phases_moved(actor=request.user, campaign_id=campaign.pk, versions=before)
                self.message_user(request, _done(transition, campaign, moved), messages.SUCCESS)
        return redirect("admin:campaigns_campaign_change", campaign.pk)

    # -- changelist actions

    def confirm_cancel(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> TemplateResponse:
        """Cancelling cannot be undone: an intermediate page names what will be cancelled and asks."""
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel campaigns?",
            "opts": self.opts,
            "campaigns": _with_later_phases(request, list(queryset.select_related(None))),
            "versions": {key: value for key, value in request.POST.items() if key.startswith("_version_")},
        }
        return TemplateResponse(request, "admin/campaigns/campaign/confirm_cancel.html", context)

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
        done, moved = 0, set()
        for campaign in campaigns:
            before = later_versions(actor=request.user, campaign_id=campaign.pk)
            try:
                campaign_transition(
                    campaign_id=campaign.pk, transition=transition, actor=request.user, expected_version=seen[campaign.pk]
                )
                done += 1
            except USER_FACING_ERRORS as exc:
                self.message_user(request, f"“{campaign.name}”: {exc}", messages.ERROR)
            else:
                moved |= {p.pk for p in phases_moved(actor=request.user, campaign_id=campaign.pk, versions=before)}
        if done:
            noun = "campaign" if done == 1 else "campaigns"
            later = len(moved - {c.pk for c in campaigns})
            also = f", and {later} later phase{'s' if later > 1 else ''} of their pipelines" if later else ""
            self.message_user(request, f"{PAST_TENSE[transition]} {done} {noun}{also}.", messages.SUCCESS)

    # -- the add page: campaign_create, with the service's messages on the fields

    def add_view(self, request, form_url="", extra_context=None):
        """One form per campaign type, chosen by ?type= (domain generation when absent)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        campaign_type = request.GET.get("type") or CampaignType.DOMAIN_GENERATION
        form_class = CREATE_FORMS.get(campaign_type)
        if form_class is None:
            raise Http404(f"Unknown campaign type {campaign_type!r}; expected one of {', '.join(CREATE_FORMS)}.")
        form = form_class(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            try:
                outcome = campaign_create(actor=request.user, **form.service_kwargs())
            except InvalidCampaignParams as exc:
                form.add_service_errors(exc.errors)
            except USER_FACING_ERRORS as exc:
                form.add_error(None, str(exc))
            else:
                self._report_created(request, outcome)
                for name, note in getattr(form, "normalisation_notes", {}).items():
                    self.message_user(request, f"{form.fields[name].label or name.capitalize()} {note}.", messages.INFO)
                return redirect("admin:campaigns_campaign_change", outcome.campaign.pk)
        add_url = reverse("admin:campaigns_campaign_add")

        def url_of(type_: str) -> str:
            return add_url if type_ == CampaignType.DOMAIN_GENERATION else f"{add_url}?type={type_}"

        context = {
            **self.admin_site.each_context(request),
            "title": f"Add {form.title}",
            "subtitle": None,
            "form": form,
            "form_action": url_of(campaign_type),
            "preview_url": reverse("admin:campaigns_campaign_generation_preview"),
            "type_tabs": [
                {"label": words.type_label(t), "url": url_of(t), "current": t == campaign_type} for t in CREATE_FORMS
            ],
            "opts": self.opts,
            "media": self.media + form.media,
            "has_view_permission": self.has_view_permission(request),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/campaigns/campaign/create.html", context)

    def _report_created(self, request: HttpRequest, outcome: CreateOutcome) -> None:
        campaign = outcome.campaign
        if campaign.status == CampaignStatus.PENDING:
            self.message_user(request, f"Created “{campaign.name}” (pending; start it when ready).", messages.SUCCESS)
        else:
            self.message_user(request, f"Created and started “{campaign.name}” ({campaign.status}).", messages.SUCCESS)
        for warning in outcome.warnings:  # e.g. "start failed: Cannot start: source campaign is running; …"
            self.message_user(request, warning, messages.WARNING)
        source = campaign.source_campaign
        # A DNS or HTTP phase may start over a running source (it is fed batch by batch),
        # not over one that never started or was cancelled.
        if (
            source is not None
            and not outcome.warnings
            and campaign.status == CampaignStatus.PENDING
            and source.status not in STARTABLE_SOURCE
        ):
            if source.status == CampaignStatus.CANCELLED:
                note = f"Its source “{source.name}” is cancelled: this campaign cannot start over it."
            else:
                note = f"Its source “{source.name}” is {source.status}: start this campaign once the source has started."
            self.message_user(request, note, messages.INFO)


def _done(transition: str, campaign: Campaign, moved: list[Campaign]) -> str:
    """What a transition did: the campaign, and the later phases it went on to (a start or a cancel)."""
    if not moved:
        return f"{PAST_TENSE[transition]} “{campaign.name}”."
    names = ", ".join(f"“{phase.name}”" for phase in moved)
    phases = "phases" if len(moved) > 1 else "phase"
    return f"{PAST_TENSE[transition]} “{campaign.name}” and its later {phases} {names}."


def _with_later_phases(request: HttpRequest, campaigns: list[Campaign]) -> list[tuple[Campaign, list[Campaign]]]:
    """Each campaign to cancel, with the later phases a cancel of it would reach (those not selected too)."""
    chosen = {c.pk for c in campaigns}
    phases = pipelines_phases(actor=request.user, roots=campaigns)
    return [(c, [p for p in phases[c.pk][1:] if p.status in CANCELLABLE and p.pk not in chosen]) for c in campaigns]
