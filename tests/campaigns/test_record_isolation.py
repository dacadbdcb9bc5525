"""A value PostgreSQL refuses costs only its own row: the batch is written again row by row."""
from __future__ import annotations

import pytest
from django.db import DataError

from campaigns.models import Campaign, HttpResult
from campaigns.services.phases.http import http_load, http_record_batch
from campaigns.services.phases.rows import record_or_isolate
from campaigns.http import fetch_batch
from tests.factories import UserFactory
from tests.support.engine import claim_http_jobs

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def private_targets(settings):
    settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS = True


def test_a_refused_value_becomes_that_domains_error_and_the_rest_of_the_batch_commits(make_world):
    world = make_world(count=6, batch_size=6)
    owner = UserFactory()
    _, dns_phase, http_phase = world.pipeline(owner, dns_batch=6, http_batch=6)
    # Everything before the HTTP phase runs here; its batch is run step by step below.
    [job] = claim_http_jobs(dns_phase, http_phase, worker_id="here")
    work = http_load(job=job)
    outcomes = fetch_batch(work.targets, **work.options)
    assert len(outcomes) == len(world.resolved) > 1
    # A status code no smallint holds: what no cleaning of text can make storable.
    bad = outcomes[0].domain
    outcomes[0] = outcomes[0]._replace(status_code=70_000)

    with pytest.raises(DataError):
        http_record_batch(job=job, worker_id="here", work=work, outcomes=outcomes)
    assert not HttpResult.objects.exists()  # the refused batch wrote nothing

    assert record_or_isolate(http_record_batch, job=job, worker_id="here", work=work, outcomes=outcomes) == len(outcomes)
    rows = {r.domain_name: r for r in HttpResult.objects.filter(campaign=http_phase)}
    assert set(rows) == world.resolved
    assert (rows[bad].status, rows[bad].status_code) == ("error", None)
    assert rows[bad].error.startswith("result could not be stored: ")
    assert all(r.status != "error" for name, r in rows.items() if name != bad)
    after = Campaign.objects.get(pk=http_phase.pk)
    assert (after.processed_items, after.status) == (len(outcomes), "completed")
