from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

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
def webhook_settings(settings: Any) -> dict[str, Any]:
    settings.WEBHOOKS = dict(FAST)
    return settings.WEBHOOKS


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()
