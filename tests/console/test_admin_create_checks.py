"""The add forms say everything at once: every bad field, how input is read, what settings produce, disabled proxies."""
from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from campaigns.models import Campaign, Proxy
from tests.console.create_data import config, http_form, sources  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

ADD = reverse("admin:campaigns_campaign_add")
GOOD = {
    "name": "typed", "pattern": "prefix", "prefix_length": "2", "suffix_length": "0", "charset": "abc",
    "constant": "shop", "tlds": "com", "count": "9", "batch_size": "3",
}


def test_a_bad_charset_tld_and_length_are_all_named_in_one_submit(operator, client_for):
    response = client_for(operator).post(ADD, {**GOOD, "charset": "ab_", "tlds": "com, b@d", "suffix_length": "2"})
    errors = response.context["form"].errors
    assert errors["charset"] == ["contains '_'; only a-z, 0-9 and '-' are allowed"]
    assert errors["tlds"][0].startswith("'b@d' is not a valid TLD")
    assert errors["suffix_length"] == ["must be 0 for the prefix pattern"]
    assert not Campaign.objects.exists()


def test_a_count_above_the_space_names_the_space_with_separators(operator, client_for):
    response = client_for(operator).post(ADD, {**GOOD, "count": "100000"})
    assert response.context["form"].errors["count"] == ["must be at most 9, what these settings can produce"]


def test_upper_case_input_is_accepted_and_the_reading_is_shown(operator, client_for):
    response = client_for(operator).post(ADD, {**GOOD, "charset": "ABCa", "tlds": "COM"}, follow=True)
    shown = [m.message for m in get_messages(response.wsgi_request)]
    assert "Charset read as “abc” (lower case, each character once)." in shown
    assert "TLDs read as .com." in shown
    assert Campaign.objects.get().generation_params.charset == "abc"


def test_the_preview_counts_names_as_settings_are_typed(operator, client_for):
    url = reverse("admin:campaigns_campaign_generation_preview")
    data = client_for(operator).get(url, {**GOOD, "prefix_length": "3", "charset": "ABCDEFGHIJ", "tlds": "com net"}).json()
    assert data["space"] == 2000 and data["summary"] == "These settings can produce 2,000 names."
    assert data["notes"]["charset"] == "read as “abcdefghij” (lower case, each character once)"
    bad = client_for(operator).get(url, {**GOOD, "charset": "", "tlds": "x..y"}).json()
    assert set(bad["errors"]) == {"charset", "tlds"} and bad["space"] is None


def test_a_disabled_proxy_is_refused_with_the_reason(operator, client_for, config, sources):  # noqa: F811
    Proxy.objects.filter(name="p1").update(enabled=False)
    response = client_for(operator).post(f"{ADD}?type=http_keyword_validation", http_form(sources["my_dns"]))
    assert response.context["form"].errors["proxies"] == [
        "Disabled, so no request would go through: “p1”. Enable under Proxies, or leave out."
    ]
    assert not Campaign.objects.filter(name="fetch them").exists()
