"""Helpers for REST tests: the error shape, the OpenAPI operations and raw calls."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

from django.test import Client

from rollbook.api import api

API_PREFIX = "/api/v1"
COURSE = "course-v1:edX+toy+2012"
OTHER_COURSE = "course-v1:MITx+6.002x+2026"
LIBRARY = "lib:edX:lib1"
PAGE_KEYS = {"items", "count", "page", "page_size"}

# Plausible values for path parameters, by name; unknown names fall back on the schema type.
PATH_VALUES = {
    "username": "mary",
    "course_key": COURSE,
    "library_key": LIBRARY,
    "job_id": "6b1f3a52-6a8e-4f4b-9d27-0b8d7c7b1a10",
    "subscription_id": "5d0c8a36-2b7e-4c1d-9f3a-7e6b5a4c3d21",
}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the error shape with this status and code; answers its body."""
    assert response.status_code == status, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "fields"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["fields"], dict)
    return body


def assert_page(body: dict[str, Any], *, count: int, page: int = 1, page_size: int = 100) -> list:
    assert set(body) == PAGE_KEYS, body
    assert body["count"] == count, body
    assert body["page"] == page
    assert body["page_size"] == page_size
    return body["items"]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the template, with /api/v1
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.path}"

    def url(self, **values: str) -> str:
        """The path with every parameter filled: `values` first, then plausible defaults."""
        url = self.path
        for param in self.spec.get("parameters", []):
            if param["in"] != "path":
                continue
            name = param["name"]
            value = values.get(name) or PATH_VALUES.get(name) or _fallback(param)
            url = url.replace("{" + name + "}", quote(value, safe=""))
        assert "{" not in url, url
        return url

    @property
    def has_body(self) -> bool:
        return "requestBody" in self.spec


def _fallback(param: dict[str, Any]) -> str:
    schema = param.get("schema", {})
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("type") == "integer":
        return "1"
    return "x"


@cache
def openapi() -> dict[str, Any]:
    """The schema object, built once (do not change it)."""
    return api.get_openapi_schema()


def operations() -> list[Operation]:
    found: list[Operation] = []
    for path, methods in openapi()["paths"].items():
        for method, spec in methods.items():
            if method in {"get", "put", "post", "patch", "delete"}:
                found.append(Operation(method, path, spec))
    return found


def _schema_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def responses(operation: Operation) -> dict[str, Any]:
    """The operation's responses by status as a string (the schema object keys them by int)."""
    return {str(status): spec for status, spec in operation.spec["responses"].items()}


def response_schema(operation: Operation, status: str = "200") -> dict[str, Any]:
    """The resolved JSON schema of a response."""
    content = responses(operation)[status]["content"]["application/json"]["schema"]
    return resolve(content)


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return openapi()["components"]["schemas"][_schema_name(schema["$ref"])]
    return schema


def list_operations() -> list[Operation]:
    """GET operations answering a page: {"items", "count", "page", "page_size"}."""
    pages = []
    for operation in operations():
        if operation.method != "get" or "200" not in responses(operation):
            continue
        if "application/json" not in responses(operation)["200"].get("content", {}):
            continue  # a file (CSV), not a page
        properties = response_schema(operation).get("properties", {})
        if set(properties) >= PAGE_KEYS:
            pages.append(operation)
    return pages


def call(
    client: Client,
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Any:
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    if method in {"get", "delete"} and body is None:
        return getattr(client, method)(url, headers=all_headers)
    return getattr(client, method)(
        url,
        data=json.dumps(body if body is not None else {}),
        content_type="application/json",
        headers=all_headers,
    )


def query(path: str, **params: object) -> str:
    """`path?params`, URL-encoded (a course key's '+' would otherwise read as a space)."""
    return f"{path}?{urlencode(params)}"
