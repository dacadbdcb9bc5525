"""A streaming pipeline's world: generated names, their DNS answers and pages, and the personas that reach them."""
from __future__ import annotations

import itertools
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field

import pytest
from django.db import connection

from campaigns import generation
from campaigns.models import (
    Campaign,
    CampaignJob,
    DnsPersona,
    DnsResult,
    DomainGenerationParams,
    GeneratedDomain,
    HttpPersona,
    HttpResult,
)
from campaigns.outage import Outage
from campaigns.services.campaigns import campaign_create
from campaigns.workers import Engine, LeaseKeeper, WorkerStats
from tests.servers.http_server import Page, html
from tests.support.engine import run_jobs_here

# Each world gets its own constant: the web site is shared by the whole session, so no two
# tests may script pages (and their delays) for the same host.
_worlds = itertools.count(1)


@dataclass
class World:
    """Names generation will produce, in order; which of them resolve and which serve a page."""

    constant: str
    names: list[str]
    resolved: set[str]
    pages: set[str]  # resolved names answering 200; the other resolved names answer 500
    http_port: int
    generation_params: dict = field(default_factory=dict)

    def chain_params(self, *, dns_batch: int, http_batch: int) -> dict:
        return {
            "dns_validation": {"personas": ["stream-dns"], "batch_size": dns_batch},
            "http_keyword_validation": {
                "persona": "stream-browser", "adhoc_keywords": ["widget"], "target_ports": [self.http_port],
                "batch_size": http_batch, "retries": 0,
            },
        }

    def generated(self, owner) -> Campaign:
        """A generation campaign of this world's names, run to completion in the test's process."""
        gen = campaign_create(actor=owner, name=f"gen {self.constant}", campaign_type="domain_generation",
                              params=self.generation_params, start=True).campaign
        run_jobs_here(worker_id="generating-here")
        gen = Campaign.objects.get(pk=gen.pk)  # a fresh instance: the status field is protected
        assert gen.status == "completed"
        return gen

    def pipeline(self, owner, *, dns_batch: int = 5, http_batch: int = 5, start: bool = True) -> list[Campaign]:
        """Create (and start) generation → DNS → HTTP; returns the three phases in order."""
        outcome = campaign_create(
            actor=owner, name=f"stream {self.constant}", campaign_type="domain_generation",
            params=self.generation_params, chain_next=True,
            chain_params=self.chain_params(dns_batch=dns_batch, http_batch=http_batch), start=start,
        )
        assert not outcome.warnings, outcome.warnings
        return [outcome.campaign, *outcome.phases]


@pytest.fixture
def make_world(dns_server, http_server, web_site):
    """make_world(count=, batch_size=, dns_delay_s=, http_delay_s=, resolve_every=): every
    resolve_every-th name resolves (the others are NXDOMAIN); of those, the names at positions
    divisible by 3 answer 500 (a negative), the others a page with a keyword."""

    def make(*, count: int, batch_size: int, dns_delay_s: float = 0.0, http_delay_s: float = 0.0,
             resolve_every: int = 2) -> World:
        constant = f"st{next(_worlds)}"
        length = 1
        while 10**length < count:
            length += 1
        params = {"pattern": "prefix", "prefix_length": length, "charset": "0123456789", "constant": constant,
                  "tlds": ["df.test"], "count": count, "batch_size": batch_size}
        model = DomainGenerationParams(**params)
        model.clean()
        names = generation.generate(model.spec(), start_offset=0, want=count).names
        assert len(names) == count
        resolved, pages = set(), set()
        for i, name in enumerate(names):
            if i % resolve_every:
                continue  # NXDOMAIN, the server's default
            resolved.add(name)
            dns_server.set(name, a=["127.0.0.1"], delay_s=dns_delay_s)
            ok = i % 3 != 0
            if ok:
                pages.add(name)
            web_site.add(name, "/", Page(body=html(name, "<p>a widget</p>"), status=200 if ok else 500, delay_s=http_delay_s))
        DnsPersona.objects.get_or_create(
            name="stream-dns",
            defaults={"resolvers": [dns_server.address], "timeout_s": 2.0, "retries": 0, "record_types": ["A"]},
        )
        HttpPersona.objects.get_or_create(name="stream-browser", defaults={"user_agent": "DomainFlowTest/1.0", "timeout_s": 5})
        return World(constant=constant, names=names, resolved=resolved, pages=pages, http_port=http_server.port,
                     generation_params=params)

    return make


def run_engine(*, lanes: int = 2, worker_id: str = "engine-here") -> WorkerStats:
    """The worker's own engine, in this process, with --burst: returns when no work is left."""
    outage = Outage(logging.getLogger("domainflow.worker"))
    keeper = LeaseKeeper(lease_s=30, outage=outage)
    keeper.start()
    stats = WorkerStats()
    try:
        Engine(worker_id=worker_id, lanes=lanes, keeper=keeper, outage=outage, stats=stats,
               stopping=threading.Event(), burst=True, idle_sleep=0.05).run()
    finally:
        keeper.stop()
        connection.close()
    return stats


def assert_pipeline_exact(world: World, phases: list[Campaign]) -> None:
    """Every phase completed; each name generated once, resolved once, fetched once; counters = rows."""
    gen, dns, http = (Campaign.objects.get(pk=p.pk) for p in phases)
    assert [c.status for c in (gen, dns, http)] == ["completed"] * 3
    generated = list(GeneratedDomain.objects.filter(campaign=gen).values_list("domain_name", flat=True))
    assert sorted(generated) == sorted(world.names)
    dns_rows = list(DnsResult.objects.filter(campaign=dns).values_list("domain_name", "status"))
    assert _dupes(name for name, _ in dns_rows) == []
    assert {name for name, _ in dns_rows} == set(world.names)
    assert {name for name, status in dns_rows if status == "resolved"} == world.resolved
    http_rows = list(HttpResult.objects.filter(campaign=http).values_list("domain_name", "status"))
    assert _dupes(name for name, _ in http_rows) == []
    assert {name for name, _ in http_rows} == world.resolved
    assert {name for name, status in http_rows if status == "success"} == world.pages
    count = len(world.names)
    assert (gen.total_items, gen.processed_items, gen.successful_items) == (count, count, count)
    assert (dns.total_items, dns.processed_items, dns.successful_items, dns.negative_items, dns.failed_items) == (
        count, count, len(world.resolved), count - len(world.resolved), count - len(world.resolved),
    )
    bad = len(world.resolved) - len(world.pages)
    assert (http.total_items, http.processed_items, http.successful_items, http.negative_items, http.failed_items) == (
        len(world.resolved), len(world.resolved), len(world.pages), bad, bad,
    )
    assert not CampaignJob.objects.filter(status__in=["queued", "running", "failed"]).exists()


def _dupes(names) -> list[str]:
    return sorted(name for name, n in Counter(names).items() if n > 1)
