"""The database's system checks (campaigns/checks.py), run as `manage.py check --database` runs them."""
from __future__ import annotations

import pytest
from django.apps import apps
from django.core import checks
from django.db import connection

pytestmark = pytest.mark.django_db


def database_warnings() -> dict[str, str]:
    return {m.id: m.msg for m in checks.run_checks(tags=[checks.Tags.database], databases=["default"])}


def alter(*statements: str) -> None:
    with connection.cursor() as cursor:  # in the test's transaction: rolled back after it
        for statement in statements:
            cursor.execute(statement)


def test_tables_with_autovacuum_disabled_are_named_until_it_is_enabled_again():
    assert "campaigns.W002" not in database_warnings()
    alter(
        "ALTER TABLE campaigns_dnsresult SET (autovacuum_enabled = off, fillfactor = 90)",
        "ALTER TABLE campaigns_campaignjob SET (autovacuum_enabled = false)",
        "ALTER TABLE campaigns_httpresult SET (autovacuum_enabled = true)",
        "CREATE TABLE not_domainflows (id int) WITH (autovacuum_enabled = off)",
    )
    assert database_warnings()["campaigns.W002"] == (
        "autovacuum is disabled on 2 of DomainFlow's tables in database 'default': campaigns_campaignjob, campaigns_dnsresult"
    )
    alter("ALTER TABLE campaigns_campaignjob RESET (autovacuum_enabled)", "ALTER TABLE campaigns_dnsresult SET (autovacuum_enabled = on)")
    assert "campaigns.W002" not in database_warnings()


def test_a_long_list_of_tables_is_cut_and_counted():
    tables = sorted(model._meta.db_table for model in apps.get_models() if model._meta.managed)[:7]
    alter(*(f"ALTER TABLE {table} SET (autovacuum_enabled = 0)" for table in tables))
    assert database_warnings()["campaigns.W002"].endswith(f": {', '.join(tables[:5])} and 2 more")


def test_the_servers_own_setting_is_reported_as_the_server_has_it():
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        server_on = cursor.fetchone()[0] == "on"
    assert ("campaigns.W001" in database_warnings()) is not server_on
