from __future__ import annotations

import threading

import pytest
from django.db import connection

from campaigns.models import AuditLog, Campaign, CampaignJob, CampaignStateEvent
from campaigns.models.campaign import TRANSITIONS
from campaigns.services.errors import StaleCampaign, TransitionNotAllowed
from campaigns.services.transitions import campaign_transition
from tests.factories import UserFactory

# How to reach each status from a new campaign, through the service.
PATHS = {
    "pending": [],
    "queued": ["start"],
    "running": ["start", "begin"],
    "paused": ["start", "begin", "pause"],
    "completed": ["start", "begin", "complete"],
    "failed": ["start", "begin", "fail"],
    "cancelled": ["cancel"],
    "archived": ["cancel", "archive"],
}

ALLOWED = {
    ("pending", "start"): "queued",
    ("queued", "begin"): "running",
    ("queued", "pause"): "paused",
    ("running", "pause"): "paused",
    ("paused", "resume"): "queued",
    ("running", "complete"): "completed",
    ("running", "fail"): "failed",
    ("failed", "retry"): "queued",
    ("pending", "cancel"): "cancelled",
    ("queued", "cancel"): "cancelled",
    ("running", "cancel"): "cancelled",
    ("paused", "cancel"): "cancelled",
    ("completed", "reopen"): "queued",
    ("completed", "archive"): "archived",
    ("failed", "archive"): "archived",
    ("cancelled", "archive"): "archived",
}
FORBIDDEN = [(status, t) for status in PATHS for t in TRANSITIONS if (status, t) not in ALLOWED]


def campaign_in(status: str, *, actor, make_campaign) -> Campaign:
    campaign = make_campaign(actor=actor)
    for transition in PATHS[status]:
        campaign = campaign_transition(campaign_id=campaign.pk, transition=transition, actor=actor)
    assert campaign.status == status
    return campaign


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "transition"), sorted(ALLOWED))
def test_allowed_transition_moves_status_bumps_version_and_records_event_and_audit(status, transition, user, make_campaign):
    campaign = campaign_in(status, actor=user, make_campaign=make_campaign)
    version = campaign.version

    campaign_transition(campaign_id=campaign.pk, transition=transition, actor=user, expected_version=version, reason="why")

    after = Campaign.objects.get(pk=campaign.pk)
    assert after.status == ALLOWED[(status, transition)]
    assert after.version == version + 1
    event = after.state_events.order_by("-sequence").first()
    assert (event.from_status, event.to_status, event.transition, event.actor, event.reason, event.campaign_version) == (
        status,
        after.status,
        transition,
        user,
        "why",
        version + 1,
    )
    assert event.sequence == after.state_events.count()
    assert AuditLog.objects.filter(
        action=f"campaign.{transition}", entity_id=str(campaign.pk), actor=user, decision="allowed"
    ).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "transition"), FORBIDDEN)
def test_forbidden_transition_raises_a_clear_error_and_writes_nothing(status, transition, user, make_campaign):
    campaign = campaign_in(status, actor=user, make_campaign=make_campaign)
    events = CampaignStateEvent.objects.count()
    audits = AuditLog.objects.count()

    with pytest.raises(TransitionNotAllowed, match=f"^Cannot {transition} a campaign that is {status}.$"):
        campaign_transition(campaign_id=campaign.pk, transition=transition, actor=user)

    after = Campaign.objects.get(pk=campaign.pk)
    assert (after.status, after.version) == (status, campaign.version)
    assert (CampaignStateEvent.objects.count(), AuditLog.objects.count()) == (events, audits)


@pytest.mark.django_db
def test_start_rejects_stale_version_and_writes_nothing(user, make_campaign):
    campaign = make_campaign(actor=user)
    campaign_transition(campaign_id=campaign.pk, transition="cancel", actor=user, expected_version=1)

    with pytest.raises(StaleCampaign, match="was changed by someone else \\(you saw version 1, it is now version 2\\)"):
        campaign_transition(campaign_id=campaign.pk, transition="archive", actor=user, expected_version=1)

    after = Campaign.objects.get(pk=campaign.pk)
    assert (after.status, after.version, after.state_events.count()) == ("cancelled", 2, 2)


@pytest.mark.django_db
def test_start_queues_the_first_batch_only_and_sets_total_items(user, make_campaign):
    campaign = make_campaign(actor=user, count=7, batch_size=3)

    started = campaign_transition(campaign_id=campaign.pk, transition="start", actor=user)

    assert started.total_items == 7
    # Each generation batch queues the next when it commits: starting is bounded whatever the count.
    assert list(CampaignJob.objects.filter(campaign=campaign).values_list("batch_number", "status")) == [(0, "queued")]


@pytest.mark.django_db
def test_cancel_cancels_unfinished_jobs_and_retry_requeues_failed_ones(user, make_campaign):
    campaign = make_campaign(actor=user, start=True)
    campaign_transition(campaign_id=campaign.pk, transition="cancel", actor=user)
    assert set(CampaignJob.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"cancelled"}

    failing = campaign_in("running", actor=user, make_campaign=make_campaign)
    CampaignJob.objects.filter(campaign=failing, batch_number=0).update(status="failed", attempts=5)
    campaign_transition(campaign_id=failing.pk, transition="fail", actor=None, reason="batch 0 failed")
    assert Campaign.objects.get(pk=failing.pk).error_message == "batch 0 failed"

    campaign_transition(campaign_id=failing.pk, transition="retry", actor=user)

    job = CampaignJob.objects.get(campaign=failing, batch_number=0)
    assert (job.status, job.attempts) == ("queued", 0)
    assert Campaign.objects.get(pk=failing.pk).error_message == ""


@pytest.mark.django_db(transaction=True)
def test_fifty_threads_racing_one_version_exactly_one_wins(make_campaign):
    owner = UserFactory(is_staff=True)
    campaign = make_campaign(actor=owner)
    barrier = threading.Barrier(50, timeout=30)
    outcomes: list[str] = []
    lock = threading.Lock()

    def race(n: int):
        transition = "start" if n % 2 else "cancel"
        try:
            barrier.wait()
            campaign_transition(campaign_id=campaign.pk, transition=transition, actor=owner, expected_version=1)
            result = "won"
        except StaleCampaign:
            result = "stale"
        except TransitionNotAllowed:
            result = "not_allowed"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert outcomes.count("won") == 1
    assert outcomes.count("stale") == 49
    after = Campaign.objects.get(pk=campaign.pk)
    sequences = list(after.state_events.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == [1, 2]
    assert after.version == len(sequences) == 2
    assert after.status == after.state_events.get(sequence=2).to_status
