"""A phase's chain (what it consumes, what it feeds) comes from its pipeline's one walk (campaigns.pipelines)."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.console_pipelines import campaign_view
from tests.console.live_data import arrange

pytestmark = pytest.mark.django_db


@pytest.fixture
def branching(operator, other_operator):
    """gen feeds two DNS phases (one another owner's), the first DNS phase feeds an HTTP phase."""
    gen = arrange(owner=operator, name="gen", campaign_type="domain_generation", status="completed")
    dns = arrange(owner=operator, name="dns", source=gen, status="running")
    hidden = arrange(owner=other_operator, name="not yours", source=gen)
    later = arrange(owner=operator, name="dns again", source=gen)
    http = arrange(owner=operator, name="http", campaign_type="http_keyword_validation", source=dns)
    return gen, dns, hidden, later, http


def test_the_chain_is_the_phases_around_this_one_that_the_viewer_may_see(operator, branching):
    gen, dns, _hidden, later, http = branching
    gen_chain = campaign_view(actor=operator, campaign=gen)["chain"]
    assert gen_chain.source is None and [p.name for p in gen_chain.fed] == ["dns", "dns again"]
    dns_chain = campaign_view(actor=operator, campaign=dns)["chain"]
    assert (dns_chain.source.name, [p.name for p in dns_chain.fed]) == ("gen", ["http"])
    assert campaign_view(actor=operator, campaign=later)["chain"].fed == []


def test_no_query_looks_up_one_phases_fed_campaigns_again(operator, branching):
    _gen, dns, *_ = branching
    with CaptureQueriesContext(connection) as queries:
        campaign_view(actor=operator, campaign=dns)
    sql = [query["sql"] for query in queries.captured_queries]
    # The walk reads the fed phases level by level (source_campaign_id IN ...); a walk of the
    # chain's own asked for this phase's fed campaigns again.
    assert [q for q in sql if f"\"source_campaign_id\" = '{dns.pk.hex}'" in q] == []


def test_the_admin_change_page_shows_the_same_chain(operator, branching, client_for):
    gen, dns, _hidden, _later, http = branching
    page = client_for(operator).get(reverse("admin:campaigns_campaign_change", args=[dns.pk])).content.decode()
    chain = page[page.index('id="phase-chain"'):]
    assert f'<a href="/admin/campaigns/campaign/{gen.pk}/change/">gen</a> (Completed)' in chain
    assert f'<a href="/admin/campaigns/campaign/{http.pk}/change/">http</a> (Running)' in chain
    assert "not yours" not in page
