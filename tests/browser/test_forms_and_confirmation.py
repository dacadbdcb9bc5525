"""Forms in a real browser: the as-you-type preview, every error at once, and Cancel's confirmation."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign, CampaignStatus
from campaigns.services.campaigns import campaign_create
from tests.factories import generation_params

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_generation_form_previews_names_and_names_every_bad_field(live_server, page, operator_login, screenshot):
    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.fill("#id_name", "typed live")
    page.select_option("#id_pattern", "prefix")
    page.fill("#id_prefix_length", "3")
    page.fill("#id_suffix_length", "0")
    page.fill("#id_charset", "ABCDEFGHIJ")
    page.fill("#id_tlds", "com, net")
    expect(page.locator("#generation-preview")).to_have_text("These settings can produce 2,000 names.")
    expect(page.locator("#note-charset")).to_have_text("Will be read as “abcdefghij” (lower case, each character once).")

    page.fill("#id_charset", "ab_")
    expect(page.locator("#generation-preview")).to_contain_text("charset: contains '_'")
    page.fill("#id_tlds", "com, b@d")
    page.fill("#id_count", "10")
    page.fill("#id_batch_size", "5")
    page.click("input[name=_save]")
    expect(page.locator(".field-charset .errorlist")).to_have_text("contains '_'; only a-z, 0-9 and '-' are allowed")
    expect(page.locator(".field-tlds .errorlist")).to_contain_text("'b@d' is not a valid TLD")
    screenshot("forms-01-every-error")
    assert not Campaign.objects.filter(name="typed live").exists()


def test_cancel_looks_destructive_and_asks_before_it_acts(live_server, page, operator_login, screenshot):
    campaign = campaign_create(
        actor=operator_login, name="to be cancelled", campaign_type="domain_generation", params=generation_params(), start=True
    ).campaign
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    cancel = page.locator("#transition-form button[value=cancel]")
    red, green, blue = page.evaluate(
        "(el) => getComputedStyle(el).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)", cancel.element_handle()
    )
    assert red > 150 and green < 80 and blue < 80, (red, green, blue)

    cancel.click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Cancel “to be cancelled”? This cannot be undone")
    screenshot("forms-02-cancel-dialog")
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.QUEUED

    cancel.click()
    dialog.get_by_role("button", name="Yes, cancel it").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Cancelled “to be cancelled”.")
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.CANCELLED
