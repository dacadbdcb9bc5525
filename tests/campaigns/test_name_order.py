"""Domain names compare byte by byte in every table that holds them, whatever the server's locale
(docs/DECISIONS.md, "Names in byte order").

A database created under a language's locale (en_US.UTF-8, the usual default, and what the embedded
server takes from its environment) would otherwise order names by that language's rules, which set
dots and hyphens aside at first: "abc.example" before "ab.example". The suite's own database may sort
like bytes by chance, so the columns and their indexes are read from the catalog as well.
"""
from __future__ import annotations

import random

import pytest
from django.db import connection

from campaigns.exports import export_rows
from campaigns.models import DnsResult, GeneratedDomain, HttpResult
from tests.console.live_data import arrange
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NAME_TABLES = [GeneratedDomain, DnsResult, HttpResult]
# Byte order, which a language's collation does not keep.
IN_ORDER = ["a-b.example", "a.example", "ab.example", "abc.example", "abc1.example", "b.example"]

_COLLATIONS_SQL = """
SELECT 'column', coll.collname
FROM pg_attribute a JOIN pg_collation coll ON coll.oid = a.attcollation
WHERE a.attrelid = %(table)s::regclass AND a.attname = 'domain_name'
UNION ALL
SELECT index.relname, coll.collname
FROM pg_index i
JOIN pg_class index ON index.oid = i.indexrelid
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attname = 'domain_name'
CROSS JOIN LATERAL generate_subscripts(i.indkey, 1) AS key
JOIN pg_collation coll ON coll.oid = i.indcollation[key]
WHERE i.indrelid = %(table)s::regclass AND i.indkey[key] = a.attnum
"""


@pytest.mark.parametrize("model", NAME_TABLES, ids=lambda model: model.__name__)
def test_names_and_every_index_on_them_compare_bytes(model):
    with connection.cursor() as cursor:
        cursor.execute(_COLLATIONS_SQL, {"table": model._meta.db_table})
        found = dict(cursor.fetchall())

    assert found.pop("column") == "C"
    assert found, "the unique (campaign, domain_name) index"
    assert set(found.values()) == {"C"}, found


def test_results_are_exported_in_byte_order():
    campaign = arrange(owner=UserFactory(), name="dns", campaign_type="dns_validation", status="completed")
    shuffled = random.Random(7).sample(IN_ORDER, len(IN_ORDER))
    DnsResult.objects.bulk_create([
        DnsResult(campaign=campaign, domain_name=name, batch_number=0, status="unresolved") for name in shuffled
    ])

    lines = "".join(export_rows(campaign, "csv")).splitlines()

    assert [line.split(",")[0] for line in lines[1:]] == IN_ORDER
