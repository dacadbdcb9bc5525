"""A persona's rate limit holds for every worker together: reserved windows, real threads and processes."""
from __future__ import annotations

import pytest

from campaigns.dns import DnsPersonaConfig, parse_resolver, resolve_batch
from campaigns.models import Campaign, DnsPersona, DnsResult, RateLimitWindow
from campaigns.services.campaigns import campaign_create
from campaigns.services.ratelimit import SharedRateLimits, rate_reserve
from tests.factories import UserFactory
from tests.support.engine import run_jobs_here
from tests.support.processes import start_worker
from tests.support.threads import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)


def rate_of(server) -> float:
    times = sorted(q.received for q in server.queries)
    return (len(times) - 1) / (times[-1] - times[0])


def limited(server, *, name: str = "polite", qps: float = 100) -> DnsPersonaConfig:
    return DnsPersonaConfig(
        name=name, resolvers=(parse_resolver(server.address),), rate_limit_qps=qps, record_types=("A",)
    )


def test_reservations_follow_one_another_on_one_timeline():
    delays = [rate_reserve(key="dns:timeline", count=10, rate=100) for _ in range(4)]
    # Each grant owns 0.1 s; the next one starts where it ends (less the time the calls took).
    for before, after in zip(delays, delays[1:]):
        assert 0.07 <= after - before <= 0.1
    assert delays[0] == pytest.approx(0, abs=0.02)
    assert RateLimitWindow.objects.filter(key="dns:timeline").count() == 1


def test_a_bad_reservation_is_refused():
    with pytest.raises(ValueError, match="count >= 1 and a positive rate"):
        rate_reserve(key="dns:bad", count=0, rate=10)
    assert not RateLimitWindow.objects.filter(key="dns:bad").exists()


def resolve_in_threads(server, personas: list[DnsPersonaConfig], *, shared: bool) -> None:
    def batch(persona: DnsPersonaConfig, first: int):
        def run():
            names = [f"d{first + i}.test" for i in range(100)]
            if shared:
                with SharedRateLimits() as limits:
                    resolve_batch(names, personas=[persona], rate_reserver=limits)
            else:
                resolve_batch(names, personas=[persona])

        return run

    run_in_threads([batch(persona, 1000 * n) for n, persona in enumerate(personas)])


def test_two_batches_sharing_a_persona_stay_at_its_rate_together(dns_server):
    dns_server.set_default(a=["192.0.2.1"])
    persona = limited(dns_server, qps=100)

    resolve_in_threads(dns_server, [persona, persona], shared=True)

    assert len(dns_server.queries) == 200
    assert 90 <= rate_of(dns_server) <= 110


def test_without_sharing_each_batch_would_take_the_whole_rate(dns_server):
    # What the shared limit prevents: two batches alone would send at twice the persona's rate.
    dns_server.set_default(a=["192.0.2.1"])
    persona = limited(dns_server, qps=100)

    resolve_in_threads(dns_server, [persona, persona], shared=False)

    assert len(dns_server.queries) == 200
    assert rate_of(dns_server) > 150


def test_personas_do_not_share_each_others_rate(dns_server):
    dns_server.set_default(a=["192.0.2.1"])

    resolve_in_threads(dns_server, [limited(dns_server, name="one"), limited(dns_server, name="two")], shared=True)

    assert rate_of(dns_server) > 150


@pytest.mark.slow
def test_two_worker_processes_on_one_dns_campaign_keep_the_personas_rate(dns_server, settings):
    settings.DOMAINFLOW_RETRY_BACKOFF_S = 0.01
    dns_server.set_default(a=["192.0.2.7"])
    DnsPersona.objects.create(
        name="polite", resolvers=[dns_server.address], rate_limit_qps=40, record_types=["A"], timeout_s=1
    )
    owner = UserFactory()
    generation = campaign_create(
        actor=owner,
        name="names",
        campaign_type="domain_generation",
        params={"pattern": "prefix", "prefix_length": 2, "charset": "abcdefghijklmnop", "constant": "x",
                "tlds": ["df.test"], "count": 160, "batch_size": 160},
        chain_next=True,
        chain_params={"dns_validation": {"personas": ["polite"], "batch_size": 10}},
        start=True,
    ).campaign
    run_jobs_here(until=lambda: Campaign.objects.get(pk=generation.pk).status == "completed", limit=1)
    dns = Campaign.objects.get(source_campaign=generation)

    workers = [start_worker("--burst", "--concurrency", "2") for _ in range(2)]
    for worker in workers:
        _, errors = worker.communicate(timeout=120)
        assert worker.returncode == 0, errors

    done = Campaign.objects.get(pk=dns.pk)
    assert (done.status, done.processed_items) == ("completed", 160)
    assert DnsResult.objects.filter(campaign=dns, status="resolved").count() == 160
    assert len(dns_server.queries) == 160
    # Four claiming loops in two processes, one persona at 40 queries/s: together, 40/s.
    assert 36 <= rate_of(dns_server) <= 44
    assert len({job.locked_by.split("/")[0] for job in dns.jobs.all() if job.locked_by}) >= 1
