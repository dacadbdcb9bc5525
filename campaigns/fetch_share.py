"""A worker's share of each HTTP campaign: one of its batches handing out sites at a time.

Each lane of a worker claims a batch whenever it has none, so when a campaign's batches are queued
together, one worker's lanes could claim most of them in the few milliseconds before the other
workers' lanes wake. A worker's pages are analysed on one core, so the batches it holds are fetched
one after another in effect, while a worker that got fewer runs out and waits: a 20,000-site phase
of ten batches split 3/7 between two workers ran with one of them for half its time. A worker
therefore claims a batch of an HTTP campaign only while none of its batches of that campaign has
sites left to hand out; its other lanes lend their fetchers to that batch
(campaigns/http/lending.py), so as many pages are in flight as before, and the campaign's other
batches stay queued for whichever worker is ready first. A batch stops counting once its last site
went to a fetcher, not when its last page arrives: a slow server at the end of a batch does not hold
back the next claim (docs/DECISIONS.md, "One HTTP batch per campaign hands out sites in a worker").
"""
from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from campaigns.models import CampaignType
from campaigns.services.jobs import ClaimedJob


class FetchShare:
    """The HTTP campaigns of which this worker has a batch still handing out sites (loop's thread
    only; the worker's claims, one at a time, skip them, so it never holds two such batches of one)."""

    def __init__(self, *, on_release: Callable[[], None]) -> None:
        self.campaigns: set[UUID] = set()
        self._on_release = on_release

    def full(self) -> list[UUID]:
        """The campaigns of which this worker should claim no batch for now."""
        return list(self.campaigns)

    def hold(self, job: ClaimedJob) -> Callable[[], None]:
        """Count a just-claimed job; the returned call stops counting it (once, however often called)."""
        if job.campaign_type != CampaignType.HTTP_KEYWORD_VALIDATION:
            return _nothing
        self.campaigns.add(job.campaign_id)
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                self.campaigns.discard(job.campaign_id)
                self._on_release()

        return release


def _nothing() -> None:
    pass
