"""Pages stay true without a reload: the dashboard, a pipeline's page with its funnel, the admin change page."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign, HttpResult
from tests.console.live_data import arrange

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def move(campaign, **fields) -> None:
    """What workers do to a campaign row, written straight to the database."""
    Campaign.objects.filter(pk=campaign.pk).update(**fields)


def test_the_dashboard_follows_a_pipeline_as_its_phases_appear(live_server, page, operator_login, screenshot):
    gen = arrange(owner=operator_login, name="pipeline alpha", campaign_type="domain_generation", total=4000,
                  processed=1000, successful=1000, chain_next=True, events=[("running", 20)], jobs={"running": 1})
    page.goto(f"{live_server.url}/")
    page.evaluate("window.__notReloaded = true")
    row = page.locator(f'tr[data-pipeline-id="{gen.pk}"]')
    expect(row.locator('[data-field="processed"]')).to_have_text("1,000")
    expect(row.get_by_role("progressbar")).to_have_attribute("aria-label", "pipeline alpha: 25.0% processed, 1,000 generated, 0 failed")

    # The generation completes and chains a DNS phase: the row becomes a pipeline with a toggle.
    move(gen, status="completed", processed_items=4000, successful_items=4000)
    dns = arrange(owner=operator_login, name="alpha dns", source=gen, total=4000, events=[("queued", 1)], status="queued",
                  jobs={"queued": 8})
    toggle = page.locator(f"#toggle-{gen.pk}")
    expect(toggle).to_be_visible(timeout=10_000)
    expect(row.locator('[data-field="state"]')).to_have_text("Waiting for a worker (8 queued)")
    expect(page.locator("#live-announcer")).to_have_text("pipeline alpha: Waiting for a worker (8 queued)")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    phase_row = page.locator(f"#phase-{dns.pk}")
    expect(phase_row).to_be_visible()

    # A worker picks it up; the expanded row and the focus survive the next polls.
    move(dns, status="running", processed_items=2000, successful_items=1500, failed_items=500)
    expect(phase_row.locator('[data-field="successful"]')).to_contain_text("1,500", timeout=10_000)
    expect(phase_row).to_be_visible()
    assert page.evaluate("document.activeElement.id") == f"toggle-{gen.pk}"
    expect(row.locator(".df-funnel-cell")).to_contain_text("Resolved 1,500 (37.5%)")

    # A new campaign appears at the top without a reload.
    arrange(owner=operator_login, name="brand new", campaign_type="domain_generation", status="pending")
    expect(page.locator("#pipelines-body tr.df-pipeline").first).to_contain_text("brand new", timeout=10_000)
    assert page.evaluate("window.__notReloaded") is True
    screenshot("live-01-dashboard")


def test_a_pipeline_page_shows_its_funnel_and_finishes_live(live_server, page, operator_login, screenshot):
    gen = arrange(owner=operator_login, name="beta", campaign_type="domain_generation", status="completed", total=4000,
                  processed=4000, successful=4000, chain_next=True, events=[("running", 60), ("completed", 30)])
    dns = arrange(owner=operator_login, name="beta dns", source=gen, status="completed", total=4000, processed=4000,
                  successful=1000, dns={"resolved": 3, "unresolved": 2}, events=[("running", 30), ("completed", 5)])
    http = arrange(owner=operator_login, name="beta http", campaign_type="http_keyword_validation", source=dns, total=1000,
                   processed=100, successful=80, events=[("running", 5)], jobs={"running": 1})
    page.goto(f"{live_server.url}/campaigns/{gen.pk}/")
    page.evaluate("window.__notReloaded = true")
    funnel = page.locator("#funnel")
    expect(funnel.locator('[data-step="generated"]')).to_contain_text("Names generated 4,000")
    expect(funnel.locator('[data-step="resolved"]')).to_contain_text("1,000 25.0% of the step before")
    expect(funnel.locator('[data-step="matched"]')).to_contain_text("Matched keywords 0")

    HttpResult.objects.bulk_create([
        HttpResult(campaign=http, domain_name=f"m{i}.test", batch_number=1, status="success", business_status="lead_valid")
        for i in range(50)
    ])
    move(http, status="completed", processed_items=1000, successful_items=900, failed_items=100)
    expect(funnel.locator('[data-step="fetched"]')).to_contain_text("900 90.0% of the step before", timeout=10_000)
    expect(funnel.locator('[data-step="matched"]')).to_contain_text("50 5.6% of the step before")
    expect(page.locator(f'#phases tr[data-campaign-id="{http.pk}"] [data-field="state"]')).to_have_text("Completed with errors")
    expect(page.locator("#summary")).to_contain_text("Finished.")
    expect(page.locator("#chain")).to_contain_text("Feeds: beta dns")
    assert page.evaluate("window.__notReloaded") is True
    screenshot("live-02-pipeline-page")


def test_the_admin_change_page_shows_live_status_and_progress(live_server, page, operator_login, screenshot):
    campaign = arrange(owner=operator_login, name="gamma", campaign_type="domain_generation", total=1000, status="queued",
                       events=[("queued", 5)], jobs={"queued": 1})  # generation: one batch at a time
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    summary = page.locator("#admin-live-summary")
    expect(summary).to_contain_text("Waiting for a worker (1 queued)")
    move(campaign, status="running", processed_items=400, successful_items=400)
    arrange_running = page.locator("#admin-live .df-bar")
    expect(arrange_running).to_have_attribute("aria-valuenow", "40.0", timeout=10_000)
    expect(summary).to_contain_text("400 / 1,000 processed")
    screenshot("live-03-admin-change")
