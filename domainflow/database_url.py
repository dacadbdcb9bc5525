"""DATABASE_URL → Django's DATABASES entry, refusing what is not a PostgreSQL URL in one line."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

SCHEMES = ("postgres", "postgresql", "pgsql", "psql")


def database_from_url(url: str) -> dict[str, object]:
    """The DATABASES entry of a postgres://USER:PASSWORD@HOST:PORT/NAME URL."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid URL ({exc}); expected postgres://USER@HOST:PORT/NAME") from None
    if parts.scheme not in SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a PostgreSQL URL like postgres://USER@HOST:PORT/NAME; got {_shown(url)!r}"
        )
    if not parts.path.strip("/"):
        raise ImproperlyConfigured("DATABASE_URL names no database: add /NAME, e.g. postgres://USER@HOST:5432/domainflow")
    config = environ.Env.db_url_config(url)
    # A Unix-socket directory is written percent-encoded in the URL's host
    # (postgres://user@%2Fvar%2Frun%2Fpostgresql/db); libpq wants the path.
    config["HOST"] = unquote(str(config.get("HOST") or ""))
    return config


def _shown(url: str) -> str:
    """The URL without its password, for an error message."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url
