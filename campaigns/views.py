"""The console pages: thin views that parse, call a selector or query, and render (docs/ARCHITECTURE.md)."""
from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from campaigns import console_queries as queries
from campaigns import console_pipelines as pipelines_read
from campaigns import vocabulary as words
from campaigns.exports import CONTENT_TYPES, FORMATS, ExportNotAvailable, export_rows
from campaigns.models import Campaign, CampaignStatus, CampaignType
from campaigns.selectors import campaign_get, campaign_progress
from campaigns.services.access import Actor, audit_record
from campaigns.services.errors import CampaignNotFound


def visible_campaign_or_404(request: HttpRequest, campaign_id: UUID | str) -> Campaign:
    """The campaign if this user may see it; 404 otherwise, so other owners' ids do not leak."""
    try:
        return campaign_get(actor=request.user, campaign_id=campaign_id)
    except CampaignNotFound:
        raise Http404("No such campaign.") from None


def export_response(*, actor: Actor, campaign: Campaign, fmt: str) -> StreamingHttpResponse:
    """Stream a campaign's results as CSV or JSON Lines, after writing the audit row.

    export_rows reads through a server-side cursor in chunks, so memory stays
    flat for a million rows; the response is never buffered whole.
    """
    if fmt not in FORMATS:
        raise Http404("Unknown export format.")
    try:
        chunks = export_rows(campaign, fmt)  # refuses an unsupported type before anything is sent
    except ExportNotAvailable as exc:
        raise Http404(str(exc)) from None
    audit_record(
        actor=actor,
        action="campaign.export",
        entity_type="campaign",
        entity_id=campaign.pk,
        details={"format": fmt, "output": "http"},
    )
    response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}.{fmt}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _dashboard_context(request: HttpRequest) -> dict[str, object]:
    status = request.GET.get("status") or None
    page = pipelines_read.pipeline_page(actor=request.user, page=request.GET.get("page", 1), status=status)
    return {
        "page": page,
        "pipelines": pipelines_read.pipelines(actor=request.user, roots=list(page.object_list)),
        "status": status if status in CampaignStatus.values else None,
        "statuses": [(value, words.status_label(value)) for value in CampaignStatus.values],
    }


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    context = _dashboard_context(request)
    context["live_url"] = reverse("campaigns:live_json") + "?" + urlencode(
        {k: v for k, v in (("page", context["page"].number), ("status", context["status"] or "")) if v}
    )
    return render(request, "campaigns/dashboard.html", context)


@login_required
@require_GET
@never_cache
def live_json(request: HttpRequest) -> JsonResponse:
    """The one polling endpoint: the dashboard's rows (?page, ?status) or one campaign's live sections (?campaign).

    It answers with the same fragments the pages render, so a page never shows
    anything its reload would not; `settled` tells the poller it may slow down.
    """
    campaign_id = request.GET.get("campaign")
    if campaign_id is None:
        context = _dashboard_context(request)
        html = render_to_string("campaigns/_dashboard_rows.html", context, request=request)
        settled = all(p.settled for p in context["pipelines"])
        return JsonResponse({"settled": settled, "html": html})
    campaign = visible_campaign_or_404(request, campaign_id)
    admin_view = request.GET.get("view") == "admin"
    context = pipelines_read.campaign_view(actor=request.user, campaign=campaign, details=not admin_view)
    template = "campaigns/_admin_live.html" if admin_view else "campaigns/_campaign_live.html"
    html = render_to_string(template, context, request=request)
    return JsonResponse({"settled": context["pipeline"].settled, "html": html})


@login_required
@require_GET
@never_cache
def progress_json(request: HttpRequest) -> JsonResponse:
    """campaign_progress of the user's newest visible campaigns (or those named by ?ids=), for scripts.

    At most PROGRESS_MAX_IDS of them; `more` says that others matched (name them with ?ids=).
    """
    ids = queries.parse_campaign_ids(request.GET.getlist("ids")) if "ids" in request.GET else None
    progress, more = queries.progress_of(actor=request.user, campaign_ids=ids)
    return JsonResponse({"campaigns": [p.as_dict() for p in progress], "more": more})


@login_required
@require_GET
@never_cache
def campaign_progress_json(request: HttpRequest, campaign_id: UUID) -> JsonResponse:
    """One campaign's progress; 404 for a campaign this user may not see."""
    campaign = visible_campaign_or_404(request, campaign_id)
    return JsonResponse(campaign_progress(campaign).as_dict())


@login_required
@require_GET
def campaign_detail(request: HttpRequest, campaign_id: UUID) -> HttpResponse:
    campaign = visible_campaign_or_404(request, campaign_id)
    context = pipelines_read.campaign_view(actor=request.user, campaign=campaign)
    context["live_url"] = reverse("campaigns:live_json") + "?" + urlencode({"campaign": campaign.pk})
    return render(request, "campaigns/campaign_detail.html", context)


@login_required
@require_GET
@never_cache
def campaign_keywords(request: HttpRequest, campaign_id: UUID) -> HttpResponse:
    """An HTTP campaign's top keywords over all its pages, counted now: a scan the campaign page's polls never make."""
    campaign = visible_campaign_or_404(request, campaign_id)
    if campaign.campaign_type != CampaignType.HTTP_KEYWORD_VALIDATION:
        raise Http404("Only HTTP keyword validation campaigns have keywords.")
    context: dict[str, object] = {
        "campaign": campaign,
        "timeout_s": queries.TOP_KEYWORDS_TIMEOUT_MS // 1000,
        "counted_at": timezone.now(),
    }
    try:
        context["keywords"] = queries.top_keywords(campaign=campaign)
    except queries.TopKeywordsTimedOut:
        context["timed_out"] = True
    return render(request, "campaigns/campaign_keywords.html", context)


@login_required
@require_GET
def campaign_export(request: HttpRequest, campaign_id: UUID, fmt: str) -> StreamingHttpResponse:
    campaign = visible_campaign_or_404(request, campaign_id)
    return export_response(actor=request.user, campaign=campaign, fmt=fmt)
