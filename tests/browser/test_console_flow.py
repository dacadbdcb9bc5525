"""An operator's whole day in a real browser: create, start, watch, read, export, report, conflict."""
from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign, CampaignStatus
from campaigns.services.campaigns import campaign_create, campaign_update
from tests.factories import generation_params
from tests.support.processes import start_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COUNT = 2_000  # 20 batches of 100: enough for the dashboard to watch it move


def test_operator_creates_starts_watches_and_exports_a_campaign(live_server, page, operator_login, screenshot):
    base = live_server.url

    # Create a generation campaign in the admin (campaign_create behind the form).
    page.goto(f"{base}/admin/campaigns/campaign/add/")
    page.fill("#id_name", "Browser <b>campaign</b>")
    page.select_option("#id_pattern", "prefix")
    page.fill("#id_prefix_length", "3")
    page.fill("#id_suffix_length", "0")
    page.fill("#id_charset", "abcdefghij")
    page.fill("#id_constant", "shop")
    page.fill("#id_tlds", "com, net")
    page.fill("#id_count", str(COUNT))
    page.fill("#id_batch_size", "100")
    screenshot("01-admin-add-campaign")
    page.click("input[name=_save]")
    expect(page.locator("ul.messagelist")).to_contain_text("Created “Browser <b>campaign</b>”")
    campaign = Campaign.objects.get(name="Browser <b>campaign</b>")
    assert campaign.owner == operator_login and campaign.status == CampaignStatus.PENDING

    # Start it with the change page's transition button.
    page.click("#transition-form button[value=start]")
    expect(page.locator("ul.messagelist")).to_contain_text("Started")
    screenshot("02-admin-campaign-started")

    # The dashboard, left open: a worker runs and progress reaches 100% without a reload.
    page.goto(f"{base}/")
    row = page.locator(f'tr[data-pipeline-id="{campaign.pk}"]')
    # Generation queues one batch at a time (each batch queues the next).
    expect(row.locator('[data-field="state"]')).to_have_text("Waiting for a worker (1 queued)")
    page.evaluate("window.__notReloaded = true")
    worker = start_worker("--burst")
    try:
        expect(row.locator('[data-field="percent"]')).to_have_text("100.0%", timeout=90_000)
        expect(row.locator('[data-field="state"]')).to_have_text("Completed")
        _, errors = worker.communicate(timeout=60)  # --burst: exits once no work is left
        assert worker.returncode == 0, errors
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.communicate()
    assert page.evaluate("window.__notReloaded") is True
    assert row.locator('[data-field="processed"]').text_content() == f"{COUNT:,}"
    screenshot("03-dashboard-completed")

    # The campaign page: every transition in the state history, the chain, results and keywords.
    page.click(f'a[href="/campaigns/{campaign.pk}/"]')
    history = page.locator("#history li")
    expect(history).to_have_count(4)
    assert [history.nth(i).get_attribute("data-transition") for i in range(4)] == ["create", "start", "begin", "complete"]
    expect(page.locator("#keywords-empty")).to_have_text("No keyword results yet.")
    expect(page.locator("h1")).to_have_text("Browser <b>campaign</b>")
    screenshot("04-campaign-page")

    # The export downloads every row.
    with page.expect_download() as download_info:
        page.click("text=Export CSV")
    download = download_info.value
    with open(download.path(), encoding="utf-8") as exported:
        rows = list(csv.reader(io.StringIO(exported.read())))
    assert rows[0] == ["Offset index", "Domain name"]
    assert len(rows) == COUNT + 1
    assert rows[1] == ["0", "aaashop.com"]

    # The results admin, filtered to this campaign, offers the same export.
    page.goto(f"{base}/admin/campaigns/generateddomain/?campaign={campaign.pk}")
    expect(page.locator(".field-domain_name").first).to_have_text("aaashop.com")
    expect(page.locator("a.df-export")).to_have_count(2)
    screenshot("05-admin-results")

    # The transaction report: its table and two charts with data.
    page.goto(f"{base}/reports/transactions/?hours=1")
    expect(page.locator("#stats tbody tr").filter(has_text="generation.batch")).to_have_count(1)
    for canvas in ("durations-chart", "outcomes-chart"):
        page.wait_for_function(f"window.Chart && Chart.getChart(document.getElementById('{canvas}'))")
        size = page.evaluate(f"(() => {{ const c = document.getElementById('{canvas}'); return [c.width, c.height]; }})()")
        assert size[0] > 0 and size[1] > 0, canvas
        points = page.evaluate(
            f"Chart.getChart(document.getElementById('{canvas}')).data.datasets[0].data.reduce((a, b) => a + b, 0)"
        )
        assert points > 0, canvas
    screenshot("06-transactions-report")


def test_a_stale_changelist_action_shows_the_conflict(live_server, page, operator_login, screenshot):
    campaign = campaign_create(
        actor=operator_login, name="will be stale", campaign_type="domain_generation", params=generation_params()
    ).campaign
    page.goto(f"{live_server.url}/admin/campaigns/campaign/")
    expect(page.locator(f'input[name="_version_{campaign.pk}"]')).to_have_value("1")

    # Someone else edits the campaign after the page was rendered.
    campaign_update(campaign_id=campaign.pk, actor=operator_login, expected_version=1, name="renamed meanwhile")

    page.check(f'input[name="_selected_action"][value="{campaign.pk}"]')
    page.select_option('select[name="action"]', "start_selected")
    page.click('button[name="index"]')
    expect(page.locator("ul.messagelist")).to_contain_text("was changed by someone else")
    expect(page.locator("ul.messagelist")).to_contain_text("Nothing was changed.")
    screenshot("07-stale-action-conflict")
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.PENDING
