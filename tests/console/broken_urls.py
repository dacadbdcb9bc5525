"""URLs for the 500 page test: the console's own, plus one view that fails."""
from __future__ import annotations

from django.urls import path

from domainflow.urls import urlpatterns as console_urls


def boom(request):
    raise RuntimeError("a failing view")


urlpatterns = [path("boom/", boom), *console_urls]
