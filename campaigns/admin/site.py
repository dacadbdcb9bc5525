"""The console's admin site and the pieces its ModelAdmins share."""
from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.http import Http404, HttpRequest

from campaigns import console_queries as queries
from campaigns.services.errors import CampaignError
from txmetrics.errors import TransactionRetriesExhausted, TransactionTimeout

# Refusals shown to the operator as a message instead of an error page.
USER_FACING_ERRORS = (CampaignError, TransactionRetriesExhausted, TransactionTimeout)


# --- the site -----------------------------------------------------------------


class ConsoleAuthenticationForm(AuthenticationForm):
    """Any active user may sign in: the console pages need only a login; the admin checks permissions."""


class ConsoleAdminSite(admin.AdminSite):
    site_header = "DomainFlow console"
    site_title = "DomainFlow"
    index_title = "Administration"
    site_url = "/"
    login_form = ConsoleAuthenticationForm
    # The nav sidebar took 300 px from every list: the header's breadcrumbs and the index do its job.
    enable_nav_sidebar = False

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


class NoWrites:
    """For a ModelAdmin or an inline: nothing is added, changed or deleted through it."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class StaffOnlyView:
    """For a ModelAdmin whose rows span owners or carry credentials: staff alone may even look."""

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_staff and super().has_view_permission(request, obj)

    def has_module_permission(self, request) -> bool:
        return request.user.is_staff and super().has_module_permission(request)


class ReadOnlyAdmin(NoWrites, OwnerScopedAdmin):
    """Rows written by workers, services or metrics: viewable, never edited here."""

    # Facet counts would run one COUNT per filter choice over tables of millions of rows.
    show_facets = admin.ShowFacets.NEVER




def posted_version(request: HttpRequest, name: str) -> int | None:
    """The version a form carried; None when absent. A malformed value can match nothing: -1."""
    raw = request.POST.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        return -1


class CampaignRowsAdmin(ReadOnlyAdmin):
    """Rows that belong to a campaign: a user sees those of the campaigns they may see."""

    list_select_related = ("campaign",)
    ordering = ("-created_at", "-id")
    show_full_result_count = False

    def get_queryset(self, request):
        return queries.results_visible_to(request.user, super().get_queryset(request))
