from __future__ import annotations

from django.urls import include, path

from campaigns.admin import site as console_admin_site
from domainflow.views import healthz

urlpatterns = [
    # The console's admin site: Django's admin, open to non-staff operators with model permissions.
    path("admin/", console_admin_site.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("txmetrics.urls")),
    path("", include("campaigns.urls")),
]
