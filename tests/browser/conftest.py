"""Playwright (sync API) driving Debian's chromium against pytest-django's live_server.

Never `playwright install`: the browser is the system's /usr/bin/chromium
(.ci/install-system-packages installs it).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def chromium(django_db_setup):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run .ci/install-system-packages (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # While Playwright's sync API runs, it keeps an event loop in this thread, so Django
    # takes every ORM call here (the tests' own, the flush between tests) for async code.
    # They are plain synchronous calls. Module scope: the loop and this setting end with
    # the browser tests and never reach the rest of the suite.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(chromium):
    context = chromium.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def operator_login(live_server, page, transactional_db):
    """A non-staff operator with the campaigns permissions, logged in through the login page."""
    from tests.console.conftest import grant_operator
    from tests.factories import UserFactory

    user = grant_operator(UserFactory(username="browser-operator"))
    user.set_password("pw-not-secret-123")
    user.save()
    page.goto(f"{live_server.url}/admin/login/?next=/")
    page.fill("#id_username", "browser-operator")
    page.fill("#id_password", "pw-not-secret-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return user
