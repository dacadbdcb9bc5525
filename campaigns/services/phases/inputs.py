"""Reading a job's input over its source's committed output (plain reads, outside any batch's transaction).

Each read walks one index in its order and reads exactly the rows it returns: the names at the
job's offsets, or the resolved rows of one DNS batch at the job's positions. PostgreSQL would
choose that index on its own, except for the rows a campaign wrote after the table's last ANALYZE
(and rows are written faster than they are analyzed, or never when autovacuum is off): it then
estimates a row or two for the campaign, every index leading with campaign_id looks as cheap, and
it may pick one that reads the whole campaign and sorts, for every batch. So each read is planned
with sorting disabled (SET LOCAL, in a short transaction of its own): only the index that
gives the rows in the query's order with the job's bounds on its prefix remains cheap.
"""
from __future__ import annotations

from typing import Any

from django.db import connection, transaction

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


def read_in_index_order(sql: str, params: list[Any] | None) -> list[tuple]:
    """Rows of a read over one campaign's rows, planned with sorting off (see above)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(sql, params)
        return cursor.fetchall()


def source_names(job: ClaimedJob) -> list[str]:
    """The generated names a DNS job resolves."""
    rows = read_in_index_order(_NAMES_SQL, [job.source_campaign_id, job.range_lo, job.range_hi])
    return [row[0] for row in rows]


def source_resolved(job: ClaimedJob) -> list[tuple[str, list[str]]]:
    """The resolved names, with their addresses, an HTTP job fetches."""
    return read_in_index_order(
        _RESOLVED_SQL, [job.source_campaign_id, job.source_batch, job.range_lo, job.range_hi - job.range_lo])


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
