"""One worker at a time: `jobs.api.try_advisory_lock` (PostgreSQL) and the sections built on
it, which fall back to their own lock on SQLite. A second caller, on its own connection,
is refused while the first holds the section, and gets it once it is let go."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.db import connection

from rollbook.jobs import api as jobs
from rollbook.sis_import import inbox

pytestmark = pytest.mark.django_db(transaction=True)


def other_thread_gets(section: Callable[[], AbstractContextManager[bool]]) -> bool:
    """Whether a caller in another thread (another database connection) gets the section."""
    got: list[bool] = []

    def run() -> None:
        try:
            with section() as held:
                got.append(held)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return got[0]


def test_the_inbox_processor_section_admits_one_caller_at_a_time() -> None:
    with inbox._single_processor() as held:
        assert held
        assert not other_thread_gets(inbox._single_processor)
    assert other_thread_gets(inbox._single_processor)


def test_an_advisory_lock_is_held_by_one_session_and_released_on_exit() -> None:
    if connection.vendor != "postgresql":
        # SQLite has no advisory locks; callers use their own fallback (tested above).
        assert connection.vendor == "sqlite"
        return
    for key in ((424242,), (7, 11)):  # one bigint key, and a two-part key
        with jobs.try_advisory_lock(*key) as held:
            assert held
            assert not other_thread_gets(lambda key=key: jobs.try_advisory_lock(*key))
        assert other_thread_gets(lambda key=key: jobs.try_advisory_lock(*key))
