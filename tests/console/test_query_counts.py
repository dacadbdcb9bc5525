"""Console pages make a bounded number of queries however many campaigns and results exist."""
from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from campaigns.console_queries import PROGRESS_MAX_IDS
from campaigns.models import Campaign, GeneratedDomain

CAMPAIGNS = 1_000
DOMAINS = 100_000
WITH_RESULTS = 20  # campaigns that carry the generated domains


def populate(owners) -> list[Campaign]:
    """1,000 campaigns split between the owners, 100,000 results on 20 of them (bulk_create + COPY)."""
    campaigns = Campaign.objects.bulk_create(
        [
            Campaign(
                name=f"bulk {n}",
                campaign_type="domain_generation",
                owner=owners[n % len(owners)],
                total_items=DOMAINS // WITH_RESULTS if n < WITH_RESULTS else 100,
                processed_items=DOMAINS // WITH_RESULTS if n < WITH_RESULTS else n % 100,
                successful_items=DOMAINS // WITH_RESULTS if n < WITH_RESULTS else n % 100,
            )
            for n in range(CAMPAIGNS)
        ],
        batch_size=1000,
    )
    per_campaign = DOMAINS // WITH_RESULTS
    table = GeneratedDomain._meta.db_table
    with connection.cursor() as cursor, cursor.cursor.copy(
        f"COPY {table} (campaign_id, offset_index, domain_name) FROM STDIN"
    ) as copy:
        for campaign in campaigns[:WITH_RESULTS]:
            copy.write("".join(f"{campaign.pk}\t{i}\td{i}-{campaign.pk.hex[:8]}.com\n" for i in range(per_campaign)))
    return campaigns


@pytest.fixture
def crowded(db, operator, other_operator):
    return populate([operator, other_operator])


@pytest.mark.django_db
@pytest.mark.slow
@pytest.mark.parametrize("who", ["operator", "staff"])
def test_query_counts_stay_bounded_with_many_campaigns_and_results(who, request, crowded, client_for, django_assert_max_num_queries):
    user = request.getfixturevalue(who)
    client = client_for(user)
    busy = crowded[0]
    if who == "operator":
        assert busy.owner == user
    pages = [
        (reverse("admin:campaigns_campaign_changelist"), 9),
        (reverse("admin:campaigns_campaign_changelist") + "?status=pending&campaign_type=domain_generation", 9),
        ("/", 8),  # session, user, count, a page of pipelines, their phases, jobs, state events, one level more
        (reverse("campaigns:live_json"), 8),
        (reverse("campaigns:live_json") + f"?campaign={busy.pk}", 16),
        (reverse("campaigns:progress_json"), 5),  # session, user, a page of campaigns, their jobs, their state events
        (reverse("admin:campaigns_generateddomain_changelist"), 9),
        (reverse("admin:campaigns_generateddomain_changelist") + f"?campaign={busy.pk}", 10),
        # the form and inlines, plus the live panel (pipeline walk, phases, jobs, events, history, chain, results)
        (reverse("admin:campaigns_campaign_change", args=[busy.pk]), 20),
    ]
    for url, bound in pages:
        with django_assert_max_num_queries(bound, info=url):
            response = client.get(url)
        assert response.status_code == 200, url
    # Every visible campaign (1,000 or 500) matches; a request reads the newest page of them.
    listed = client.get(reverse("campaigns:progress_json")).json()
    assert len(listed["campaigns"]) == PROGRESS_MAX_IDS and listed["more"] is True
