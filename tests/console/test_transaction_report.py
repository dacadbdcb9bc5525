"""The transaction report: operators read their own campaigns' metrics; failures stand out; a table backs each chart."""
from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from tests.console.live_data import arrange
from txmetrics.models import TransactionMetric

pytestmark = pytest.mark.django_db


@pytest.fixture
def metrics(operator, other_operator):
    mine = arrange(owner=operator, name="mine", campaign_type="domain_generation")
    theirs = arrange(owner=other_operator, name="theirs", campaign_type="domain_generation")
    TransactionMetric.objects.bulk_create([
        TransactionMetric(operation="generation.batch", campaign_id=mine.pk, duration_ms=5, success=True),
        TransactionMetric(operation="generation.batch", campaign_id=mine.pk, duration_ms=9, success=False, retry_count=2),
        TransactionMetric(operation="dns.batch", campaign_id=theirs.pk, duration_ms=7, success=True),
        TransactionMetric(operation="config.import", campaign_id=None, duration_ms=3, success=True),
        TransactionMetric(operation="operator.create", campaign_id=None, duration_ms=3, success=True),
        TransactionMetric(operation="ghost.op", campaign_id=uuid.uuid4(), duration_ms=3, success=True),
    ])


def operations(response) -> list[str]:
    return [s.operation for s in response.context["stats"]]


def test_an_operator_sees_only_the_metrics_of_their_own_campaigns(operator, metrics, client_for):
    response = client_for(operator).get(reverse("txmetrics:transactions"), {"hours": "1"})
    assert operations(response) == ["generation.batch"]
    assert sum(response.context["series"]["succeeded"]) == 1 and sum(response.context["series"]["failed"]) == 1
    assert "The operations of your own campaigns." in response.content.decode()


def test_staff_see_every_operation(staff, metrics, client_for):
    response = client_for(staff).get(reverse("txmetrics:transactions"), {"hours": "1"})
    assert operations(response) == ["config.import", "dns.batch", "generation.batch", "ghost.op", "operator.create"]


def test_failures_are_marked_and_the_series_has_a_table(operator, metrics, client_for):
    page = client_for(operator).get(reverse("txmetrics:transactions"), {"hours": "1"}).content.decode()
    assert '<tr class="df-row-failed"><th scope="row">generation.batch <span class="df-unit">(failures)</span></th>' in page
    assert '<table class="df-table" id="series-table">' in page
    assert page.count("(partial, still filling)") == 1
    assert 'role="img" aria-labelledby="outcomes-caption"' in page


@pytest.mark.parametrize(("hours", "bucket"), [(1, 60), (6, 300), (24, 1800), (72, 3600), (168, 10800)])
def test_each_window_has_readable_buckets(operator, client_for, hours, bucket):
    series = client_for(operator).get(reverse("txmetrics:transactions"), {"hours": hours}).context["series"]
    assert series["bucket_seconds"] == bucket
    assert 48 <= len(series["labels"]) <= 73
