"""The campaign admin reads through the console's shared pieces: the live queryset's annotation, the vocabulary."""
from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns import vocabulary as words
from campaigns.admin.campaign_columns import LiveColumns
from tests.console.live_data import arrange

pytestmark = pytest.mark.django_db


def test_the_changelist_shows_a_phase_waiting_for_its_running_source(operator, client_for):
    source = arrange(owner=operator, name="gen", campaign_type="domain_generation", status="running", total=100,
                     processed=10, successful=10, events=[("running", 30)], jobs={"running": 1})
    arrange(owner=operator, name="dns", source=source, status="running", total=10, processed=10, successful=10,
            events=[("running", 20)])
    page = client_for(operator).get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    # The source's status comes from the admin's own queryset (live.with_source_status), not one query per row.
    assert '<span class="df-badge df-badge-waiting_for_input">Waiting for input (running source)</span>' in page


def test_the_admin_keeps_no_annotation_of_its_own():
    # One definition of the source-status annotation (campaigns.live): the admin had a copy that could drift.
    assert not hasattr(LiveColumns, "annotate_source_status")


def test_the_add_pages_type_tabs_use_the_vocabulary(operator, client_for, monkeypatch):
    monkeypatch.setitem(words.TYPE_LABELS, "dns_validation", "DNS check")
    page = client_for(operator).get(reverse("admin:campaigns_campaign_add")).content.decode()
    assert '<a href="/admin/campaigns/campaign/add/?type=dns_validation">DNS check</a>' in page
