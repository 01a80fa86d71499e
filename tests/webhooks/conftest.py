from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from rollbook.webhooks import sender
from tests.webhooks.receiver import Receiver

FAST = {
    "ALLOW_PRIVATE": True,
    "TIMEOUT": 5.0,
    "BACKOFF_BASE": 0.01,
    "BACKOFF_CAP": 0.05,
    "CONCURRENCY": 8,
    "BATCH": 500,
    "MAX_PENDING": 10_000,
}


@pytest.fixture(autouse=True)
def webhook_settings(settings: Any) -> Iterator[dict[str, Any]]:
    # The wake, retry and "any active" keys of a test must not hold up the next one's.
    cache.clear()
    sender.close_connections()
    settings.WEBHOOKS = dict(FAST)
    yield settings.WEBHOOKS
    cache.clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()
