"""PostgreSQL session-level advisory locks, for "one worker at a time" sections (the LMB
processor, a webhook subscription's dispatcher); `jobs.api.try_advisory_lock`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def try_advisory_lock(*key: int) -> Iterator[bool]:
    """Take the session advisory lock `key` (one bigint, or two ints) without waiting: yields
    True when this session holds it, False when another does; released on the way out.
    PostgreSQL only (the caller picks its SQLite fallback)."""
    placeholders = ", ".join(["%s"] * len(key))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_try_advisory_lock({placeholders})", list(key))
        got = bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT pg_advisory_unlock({placeholders})", list(key))
