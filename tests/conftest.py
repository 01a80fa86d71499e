"""Shared fixtures: factories, an API client with bearer tokens, and query-count helpers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from rollbook.audit.data import Actor
from tests import factories


@pytest.fixture
def actor() -> Actor:
    return Actor.system("test")


@pytest.fixture
def make() -> type[factories.Make]:
    return factories.Make


class ApiClient:
    """JSON calls to /api/v1 with an optional bearer token."""

    def __init__(self, token: str | None = None) -> None:
        self.client = Client()
        self.token = token

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        url = path if path.startswith("/") else f"/api/v1/{path}"
        data = json.dumps(body) if body is not None else None
        return getattr(self.client, method)(
            url,
            data=data,
            content_type="application/json",
            headers=self._headers(kwargs.pop("headers", None)),
            **kwargs,
        )

    def get(self, path: str, **kwargs: Any) -> Any:
        url = path if path.startswith("/") else f"/api/v1/{path}"
        return self.client.get(url, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.call("put", path, body if body is not None else {}, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.call("post", path, body if body is not None else {}, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.call("delete", path, None, **kwargs)


@pytest.fixture
def api_as(db: None) -> Callable[..., ApiClient]:
    """`api_as("mary")`: a client with a token of that user (created when missing);
    `api_as("admin", staff=True)` for global staff; `api_as(None)` for no token."""

    def build(username: str | None, *, staff: bool = False) -> ApiClient:
        if username is None:
            return ApiClient()
        return ApiClient(factories.Make.token(username, staff=staff))

    return build


@pytest.fixture
def staff_api(api_as: Callable[..., ApiClient]) -> ApiClient:
    return api_as("admin", staff=True)


@pytest.fixture
def anon_api() -> ApiClient:
    return ApiClient()
