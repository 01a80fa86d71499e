"""Fixtures of the credential tests: a fixed issuer key and public URL, a cache of the test's
own (the verify page's rate limit counts from zero), and no network."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from rollbook.certificates import issuer
from rollbook.certificates import multibase as mb

PUBLIC_URL = "https://rollbook.example"
ISSUER_KEY = mb.secret_key_to_multibase(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


@pytest.fixture
def credential_settings(settings: Any) -> Iterator[Any]:
    """The issuer at PUBLIC_URL with the fixed key ISSUER_KEY (no key file written)."""
    settings.PUBLIC_URL = PUBLIC_URL
    settings.ISSUER_KEY = ISSUER_KEY
    settings.ISSUER_NAME = "University of Examples"
    settings.ISSUER_URL = "https://university.example"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"credentials-{uuid.uuid4()}",
        }
    }
    issuer.clear_key_cache()
    yield settings
    issuer.clear_key_cache()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any outbound socket connection fails the test: checking is offline."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
