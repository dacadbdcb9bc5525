"""Every console page and our admin pages fit at 390, 768 and 1,440 px in both themes, and pass axe-core."""
from __future__ import annotations

import json

import pytest

from campaigns.models import GeneratedDomain
from tests.browser.conftest import SCREENSHOTS, axe_violations, log_in
from tests.console.conftest import grant_operator
from tests.console.live_data import arrange
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = (390, 768, 1440)
SCHEMES = ("light", "dark")
LONG_NAME = "a campaign with a very long name that goes on " * 3


@pytest.fixture
def world(transactional_db):
    """An operator with a chained pipeline, long names and results: what the pages show on a normal day."""
    user = grant_operator(UserFactory(username="layout-operator"))  # log_in signs in with tests.factories.PASSWORD
    gen = arrange(owner=user, name=LONG_NAME, campaign_type="domain_generation", status="completed", total=20000,
                  processed=20000, successful=20000, chain_next=True, events=[("running", 90), ("completed", 60)])
    GeneratedDomain.objects.bulk_create(
        [GeneratedDomain(campaign=gen, offset_index=i, domain_name=f"{'x' * 60}{i}.com") for i in range(12)]
    )
    dns = arrange(owner=user, name="dns " + LONG_NAME, source=gen, status="running", total=20000, processed=6000,
                  successful=0, dns={"unresolved": 20, "timeout": 30}, events=[("running", 50)], jobs={"running": 1})
    return user, gen, dns


def pages_of(gen, dns) -> list[str]:
    return [
        "/",
        f"/campaigns/{gen.pk}/",
        f"/campaigns/{dns.pk}/",
        "/reports/transactions/",
        "/no-such-page/",
        "/admin/",
        "/admin/campaigns/campaign/",
        f"/admin/campaigns/campaign/{dns.pk}/change/",
        "/admin/campaigns/campaign/add/",
        f"/admin/campaigns/generateddomain/?campaign={gen.pk}",
        f"/admin/campaigns/dnsresult/?campaign={dns.pk}",
    ]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_page_fits_the_window_at_every_width(live_server, new_page, world, scheme):
    user, gen, dns = world
    too_wide = []
    for width in WIDTHS:
        page = new_page(width=width, height=900, scheme=scheme)
        log_in(page, live_server.url, user.username)
        for path in pages_of(gen, dns):
            page.goto(live_server.url + path)
            page.wait_for_load_state("load")
            scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if scroll > inner:
                too_wide.append((width, path, scroll))
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOTS / f"too-wide-{scheme}-{width}-{path.strip('/').replace('/', '_')[:60]}.png"))
        page.context.close()
    assert too_wide == []


@pytest.mark.parametrize("scheme", SCHEMES)
def test_axe_finds_no_serious_violation_on_any_page(live_server, new_page, world, scheme):
    user, gen, dns = world
    page = new_page(width=1440, scheme=scheme)
    log_in(page, live_server.url, user.username)
    found = {}
    for path in pages_of(gen, dns):
        page.goto(live_server.url + path)
        page.wait_for_load_state("load")
        violations = axe_violations(page)
        if violations:
            found[path] = violations
    assert not found, json.dumps(found, indent=1)


def test_the_skip_link_is_the_first_stop_and_visible(live_server, page, world):
    user, gen, dns = world
    log_in(page, live_server.url, user.username)
    page.goto(f"{live_server.url}/campaigns/{gen.pk}/")
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.textContent, document.activeElement.getBoundingClientRect().top]")
    assert focused[0] == "Skip to content" and focused[1] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_long_names_are_truncated_with_the_full_text_on_hover(live_server, page, world):
    user, gen, dns = world
    log_in(page, live_server.url, user.username)
    link = page.locator(f'tr[data-pipeline-id="{gen.pk}"] th a')
    assert link.get_attribute("title") == LONG_NAME
    assert page.evaluate("(el) => el.closest('th').scrollWidth > el.closest('th').clientWidth", link.element_handle())
