"""System checks of the database DomainFlow runs on: `manage.py check --database default`, and every
`manage.py migrate` (`up` included).

Workers update each job row several times per batch and deleting a campaign deletes its result
rows: millions of dead rows a day at the rates DomainFlow runs. Only autovacuum reclaims them, and
only it refreshes the statistics the console's and the exports' plans rely on. With it off, every
table grows with every campaign ever run, and writes into them cost more (docs/DEPLOYMENT.md).
"""
from __future__ import annotations

from django.apps import apps
from django.core import checks
from django.db import connections

_TABLES_WITHOUT_AUTOVACUUM_SQL = """
SELECT c.relname FROM pg_class c, unnest(c.reloptions) AS option
WHERE c.relname = ANY(%s) AND c.relkind = 'r' AND c.relnamespace = to_regnamespace(current_schema())
  AND split_part(option, '=', 1) = 'autovacuum_enabled' AND NOT split_part(option, '=', 2)::bool
ORDER BY c.relname
"""
_SHOWN_TABLES = 5  # a message names at most these many; the count says how many in all


@checks.register(checks.Tags.database)
def autovacuum_on(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """A warning when PostgreSQL's autovacuum is off, on the server or on any of DomainFlow's tables."""
    messages: list[checks.CheckMessage] = []
    tables = sorted({model._meta.db_table for model in apps.get_models() if model._meta.managed})
    for alias in databases or ():
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT current_setting('autovacuum')::bool")
            server_on = cursor.fetchone()[0]
            cursor.execute(_TABLES_WITHOUT_AUTOVACUUM_SQL, [tables])
            off = [row[0] for row in cursor.fetchall()]
        if not server_on:
            messages.append(checks.Warning(
                f"PostgreSQL's autovacuum is off on the server of database {alias!r}: the rows of finished jobs "
                "and deleted campaigns are never reclaimed, so its tables grow with every campaign run",
                hint="Set autovacuum = on in postgresql.conf and reload the server (docs/DEPLOYMENT.md).",
                id="campaigns.W001",
            ))
        if off:
            shown = ", ".join(off[:_SHOWN_TABLES]) + (f" and {len(off) - _SHOWN_TABLES} more" if len(off) > _SHOWN_TABLES else "")
            messages.append(checks.Warning(
                f"autovacuum is disabled on {len(off)} of DomainFlow's tables in database {alias!r}: {shown}",
                hint="ALTER TABLE … RESET (autovacuum_enabled) on each of them (docs/DEPLOYMENT.md).",
                id="campaigns.W002",
            ))
    return messages
