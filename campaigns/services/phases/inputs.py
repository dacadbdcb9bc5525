"""Reading a job's input over its source's committed output (no transaction: plain reads)."""
from __future__ import annotations

from typing import Any

from django.db import connection

from campaigns.models import DnsResult, GeneratedDomain
from campaigns.services.errors import CampaignError
from campaigns.services.jobs import ClaimedJob

_NAMES_SQL = (
    f"SELECT domain_name FROM {GeneratedDomain._meta.db_table}"
    " WHERE campaign_id = %s AND offset_index >= %s AND offset_index < %s ORDER BY offset_index"
)
# A DNS batch's resolved rows never change once committed, so positions among them are stable.
_RESOLVED_SQL = (
    f"SELECT domain_name, ips FROM {DnsResult._meta.db_table}"
    " WHERE campaign_id = %s AND batch_number = %s AND status = 'resolved' ORDER BY id OFFSET %s LIMIT %s"
)


def source_names(job: ClaimedJob) -> list[str]:
    """The generated names a DNS job resolves."""
    with connection.cursor() as cursor:
        cursor.execute(_NAMES_SQL, [job.source_campaign_id, job.range_lo, job.range_hi])
        return [row[0] for row in cursor.fetchall()]


def source_resolved(job: ClaimedJob) -> list[tuple[str, list[str]]]:
    """The resolved names, with their addresses, an HTTP job fetches."""
    with connection.cursor() as cursor:
        cursor.execute(_RESOLVED_SQL, [job.source_campaign_id, job.source_batch, job.range_lo, job.range_hi - job.range_lo])
        return cursor.fetchall()


def in_order(model, ids: list[int]) -> list[Any]:
    """Config rows by id, in the given order; refuse naming what is gone and what to do."""
    found = model.objects.in_bulk(ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise CampaignError(
            f"the {model._meta.verbose_name} with id {missing[0]} that this campaign uses was deleted;"
            " create a campaign with an existing one"
        )
    return [found[i] for i in ids]
