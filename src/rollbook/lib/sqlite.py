"""SQLite connection set-up that Django's settings cannot express.

Django assumes SQLite's historical limit of 999 bound variables per statement and splits
every bulk insert into batches of `999 // fields` rows, so a bulk path on SQLite runs more
statements the more rows it writes. The SQLite this runs on reports its real limit (32,766
by default since 3.32); `use_real_variable_limit` gives that to Django, per connection.
"""

from __future__ import annotations

import sqlite3
from typing import Any

# Django's own assumption, and what older SQLite builds allow.
DJANGO_DEFAULT_LIMIT = 999


def use_real_variable_limit(sender: Any, connection: Any, **kwargs: Any) -> None:
    """`connection_created` receiver: on SQLite, let Django batch bulk statements by the
    connection's real SQLITE_LIMIT_VARIABLE_NUMBER."""
    if connection.vendor != "sqlite":
        return
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    if limit > DJANGO_DEFAULT_LIMIT:
        # An attribute of this connection's own features object, not of the class.
        connection.features.max_query_params = limit
