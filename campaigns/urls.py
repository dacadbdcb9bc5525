from __future__ import annotations

from django.urls import path, re_path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("campaigns/live.json", views.live_json, name="live_json"),
    path("campaigns/progress.json", views.progress_json, name="progress_json"),
    path("campaigns/<uuid:campaign_id>/", views.campaign_detail, name="detail"),
    path("campaigns/<uuid:campaign_id>/keywords/", views.campaign_keywords, name="keywords"),
    path("campaigns/<uuid:campaign_id>/progress.json", views.campaign_progress_json, name="campaign_progress_json"),
    re_path(
        r"^campaigns/(?P<campaign_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/export\.(?P<fmt>csv|jsonl)$",
        views.campaign_export,
        name="export",
    ),
]
