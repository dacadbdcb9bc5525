"""The console pages: thin views that parse, call a selector or query, and render (DESIGN §8)."""
from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from campaigns import console_queries as queries
from campaigns.exports import CONTENT_TYPES, FORMATS, SOURCES, ExportNotAvailable, export_rows
from campaigns.models import Campaign, CampaignStatus, CampaignType
from campaigns.selectors import campaign_get, campaign_history, campaign_progress
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


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or None
    page = queries.campaign_page(actor=request.user, page=request.GET.get("page", 1), status=status)
    rows = [campaign_progress(campaign) for campaign in page.object_list]
    context = {
        "page": page,
        "rows": rows,
        "status": status if status in CampaignStatus.values else None,
        "statuses": CampaignStatus.choices,
        "type_labels": dict(CampaignType.choices),
        "settled": queries.SETTLED_STATUSES,
    }
    return render(request, "campaigns/dashboard.html", context)


@login_required
@require_GET
@never_cache
def progress_json(request: HttpRequest) -> JsonResponse:
    """campaign_progress of the user's visible campaigns (or those named by ?ids=), for the page poller."""
    ids = queries.parse_campaign_ids(request.GET.getlist("ids")) if "ids" in request.GET else None
    progress = queries.progress_of(actor=request.user, campaign_ids=ids)
    return JsonResponse({"campaigns": [p.as_dict() for p in progress]})


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
    context = {
        "campaign": campaign,
        "progress": campaign_progress(campaign),
        "history": list(campaign_history(campaign=campaign).select_related("actor")),
        "chain": queries.campaign_chain(actor=request.user, campaign=campaign),
        "results": queries.result_summary(campaign=campaign),
        "keywords": queries.top_keywords(campaign=campaign),
        "formats": FORMATS,
        "exportable": campaign.campaign_type in SOURCES,
        "type_label": CampaignType(campaign.campaign_type).label,
        "settled": queries.SETTLED_STATUSES,
    }
    return render(request, "campaigns/campaign_detail.html", context)


@login_required
@require_GET
def campaign_export(request: HttpRequest, campaign_id: UUID, fmt: str) -> StreamingHttpResponse:
    campaign = visible_campaign_or_404(request, campaign_id)
    return export_response(actor=request.user, campaign=campaign, fmt=fmt)
