from __future__ import annotations

import pytest
from django.db import connection


@pytest.mark.django_db
def test_database_is_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("select current_setting('server_version_num')::int")
        assert cursor.fetchone()[0] >= 150000
