"""403, 404 and 500 are the console's own pages, with its navigation."""
from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_missing_campaign_is_a_styled_404_with_navigation(operator, client_for):
    response = client_for(operator).get(reverse("campaigns:detail", args=[uuid.uuid4()]))
    page = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Nothing here</h1>" in page and 'href="#main">Skip to content</a>' in page
    assert '<nav aria-label="Main">' in page and "/static/console/console.css" in page


def test_a_page_an_operator_may_not_open_is_a_styled_403(operator, client_for):
    response = client_for(operator).get(reverse("admin:auth_user_changelist"))
    assert response.status_code == 403
    assert "<h1>You may not open this page</h1>" in response.content.decode()


def test_a_server_error_is_a_styled_500(settings):
    settings.ROOT_URLCONF = "tests.console.broken_urls"
    response = Client(raise_request_exception=False).get("/boom/")
    page = response.content.decode()
    assert response.status_code == 500
    assert "<h1>Something went wrong on our side</h1>" in page and '<nav aria-label="Main">' in page
