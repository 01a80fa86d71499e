"""Bulk writes are one statement however many rows, on SQLite as on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from django.db import connection

from rollbook.audit.models import AuditEvent
from rollbook.lib.sqlite import DJANGO_DEFAULT_LIMIT

pytestmark = pytest.mark.django_db


def test_a_bulk_insert_past_djangos_999_variables_is_one_statement(
    django_assert_num_queries,
) -> None:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = [
        AuditEvent(time=when, event="test", subject=f"s{i}", source="test") for i in range(1000)
    ]
    # 1,000 rows of 8 columns: 8,000 variables; Django's default would split it in 9.
    with django_assert_num_queries(1):
        AuditEvent.objects.bulk_create(rows)
    assert AuditEvent.objects.filter(event="test").count() == 1000


def test_sqlite_connections_use_the_real_variable_limit() -> None:
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        real = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        assert real > DJANGO_DEFAULT_LIMIT  # the SQLite this runs on is 3.32 or newer
        assert connection.features.max_query_params == real
        assert type(connection.features).max_query_params == DJANGO_DEFAULT_LIMIT
    else:
        assert connection.vendor == "postgresql"
