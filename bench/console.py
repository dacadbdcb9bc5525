"""Console page times with 1,000 campaigns and 1,000,000 result rows (goal: < 300 ms each).

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/domainflow .venv/bin/python bench/console.py [--keep]
Loads the data with bulk_create and COPY (once; reused while it exists), then
times each page through Django's test Client as a staff user and as a
non-staff operator who owns half the campaigns: the median of several
requests, after one warm-up. Rows are removed at the end unless --keep.
"""
from __future__ import annotations

import statistics
import sys
import time

import _django  # noqa: F401  (sets Django up)
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse

from campaigns.models import Campaign, GeneratedDomain

PREFIX = "bench-console"
CAMPAIGNS = 1_000
DOMAINS = 1_000_000
WITH_RESULTS = 100  # campaigns carrying the domains: 10,000 each
REPEAT = 7
OPERATOR_PERMISSIONS = ("add_campaign", "change_campaign", "view_campaign", "view_domaingenerationparams", "view_generateddomain")


def users():
    User = get_user_model()
    staff, _ = User.objects.get_or_create(username=f"{PREFIX}-staff", defaults={"is_staff": True, "is_superuser": True})
    operator, _ = User.objects.get_or_create(username=f"{PREFIX}-operator")
    operator.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="campaigns", codename__in=OPERATOR_PERMISSIONS)
    )
    return staff, operator


def load(staff, operator) -> list[Campaign]:
    existing = list(Campaign.objects.filter(name__startswith=PREFIX).order_by("name"))
    if len(existing) == CAMPAIGNS and GeneratedDomain.objects.filter(campaign__name__startswith=PREFIX).count() == DOMAINS:
        print("reusing the data loaded earlier")
        return existing
    cleanup()
    started = time.perf_counter()
    per = DOMAINS // WITH_RESULTS
    campaigns = Campaign.objects.bulk_create(
        [
            Campaign(
                name=f"{PREFIX} {n:04d}",
                campaign_type="domain_generation",
                owner=operator if n % 2 == 0 else staff,
                total_items=per if n < WITH_RESULTS else 1000,
                processed_items=per if n < WITH_RESULTS else n % 1000,
                successful_items=per if n < WITH_RESULTS else n % 1000,
            )
            for n in range(CAMPAIGNS)
        ],
        batch_size=1000,
    )
    table = GeneratedDomain._meta.db_table
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} (campaign_id, offset_index, domain_name) FROM STDIN") as copy:
            for campaign in campaigns[:WITH_RESULTS]:
                tag = campaign.pk.hex[:8]
                copy.write("".join(f"{campaign.pk}\t{i}\tn{i}-{tag}.com\n" for i in range(per)))
        cursor.execute(f"ANALYZE {table}")
        cursor.execute(f"ANALYZE {Campaign._meta.db_table}")
    print(f"loaded {CAMPAIGNS:,} campaigns and {DOMAINS:,} domains in {time.perf_counter() - started:.1f} s")
    return campaigns


def cleanup() -> None:
    Campaign.objects.filter(name__startswith=PREFIX).delete()


def median_ms(client: Client, url: str) -> float:
    response = client.get(url)  # warm-up (and a check)
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    keep = "--keep" in sys.argv[1:]
    setup_test_environment()  # lets the test Client's host through ALLOWED_HOSTS
    staff, operator = users()
    campaigns = load(staff, operator)
    busy = next(c for c in campaigns if c.owner_id == operator.pk and c.name < f"{PREFIX} {WITH_RESULTS:04d}")
    page_ids = ",".join(str(c.pk) for c in campaigns if c.owner_id == operator.pk)[: 37 * 50 - 1]
    pages = [
        ("admin campaign list", reverse("admin:campaigns_campaign_changelist")),
        ("admin campaign list, filtered", reverse("admin:campaigns_campaign_changelist") + "?status=pending&q=bench"),
        ("dashboard", "/"),
        ("admin results list", reverse("admin:campaigns_generateddomain_changelist")),
        ("admin results of one campaign", reverse("admin:campaigns_generateddomain_changelist") + f"?campaign={busy.pk}"),
        ("progress JSON, all visible", reverse("campaigns:progress_json")),
        ("progress JSON, one page (50 ids)", reverse("campaigns:progress_json") + f"?ids={page_ids}"),
        ("campaign page", reverse("campaigns:detail", args=[busy.pk])),
    ]
    try:
        print(f"{'page':34} {'staff ms':>9} {'operator ms':>12}   (median of {REPEAT}; goal < 300 ms)")
        for label, url in pages:
            figures = []
            for user in (staff, operator):
                client = Client()
                client.force_login(user)
                figures.append(median_ms(client, url))
            print(f"{label:34} {figures[0]:9.1f} {figures[1]:12.1f}")
    finally:
        if not keep:
            cleanup()


if __name__ == "__main__":
    main()
