"""Arranging campaigns in a given state, with their events, jobs and DNS results, for console read tests."""
from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from django.utils import timezone

from campaigns.models import Campaign, CampaignJob, CampaignStateEvent, DnsResult


def arrange(
    *, owner, name="c", campaign_type="dns_validation", status="running", total=0, processed=0, successful=0,
    source=None, chain_next=False, events=(), jobs=None, dns=None, negative=None,
) -> Campaign:
    """A campaign row as workers would leave it. events: (to_status, seconds ago); jobs: {status: n}; dns: {status: n}.

    negative: of the failed items, the answers (workers count them as each batch commits);
    by default the unresolved rows of `dns`.
    """
    now = timezone.now()
    if negative is None:
        negative = (dns or {}).get("unresolved", 0)
    campaign = Campaign.objects.create(
        name=name, campaign_type=campaign_type, status=status, owner=owner, source_campaign=source,
        total_items=total, processed_items=processed, successful_items=successful, failed_items=processed - successful,
        negative_items=negative,
        chain_next=chain_next, started_at=now - timedelta(seconds=events[0][1]) if events else None,
        finished_at=now if status in ("completed", "failed", "cancelled") else None,
    )
    for sequence, (to_status, ago) in enumerate(events, start=1):
        event = CampaignStateEvent.objects.create(
            campaign=campaign, sequence=sequence, to_status=to_status, transition="t", campaign_version=sequence
        )
        CampaignStateEvent.objects.filter(pk=event.pk).update(created_at=now - timedelta(seconds=ago))
    batch = 0
    for job_status, n in (jobs or {}).items():
        for _ in range(n):
            batch += 1
            lease = {"lease_token": uuid4(), "lease_expires_at": now + timedelta(minutes=5)} if job_status == "running" else {}
            CampaignJob.objects.create(campaign=campaign, batch_number=batch, status=job_status, **lease)
    rows = [
        DnsResult(campaign=campaign, domain_name=f"d{status_}{i}.com", batch_number=1, status=status_)
        for status_, n in (dns or {}).items()
        for i in range(n)
    ]
    DnsResult.objects.bulk_create(rows)
    return campaign
