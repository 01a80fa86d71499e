"""The OpenAPI document, the docs page, /health and /api/v1/version."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

import rollbook
from tests.api.helpers import operations, resolve, response_schema, responses

EXPECTED_ROUTES = {
    ("put", "/users/{username}"),
    ("get", "/users/{username}"),
    ("get", "/users"),
    ("put", "/courses/{course_key}"),
    ("get", "/courses/{course_key}"),
    ("get", "/courses"),
    ("put", "/libraries/{library_key}"),
    ("get", "/libraries/{library_key}"),
    ("post", "/roles/grants"),
    ("post", "/roles/revokes"),
    ("get", "/roles/check"),
    ("get", "/users/{username}/roles"),
    ("get", "/courses/{course_key}/roles"),
    ("get", "/users/{username}/libraries"),
    ("put", "/courses/{course_key}/enrollments/{username}"),
    ("get", "/courses/{course_key}/enrollments/{username}"),
    ("get", "/courses/{course_key}/enrollments"),
    ("get", "/users/{username}/enrollments"),
    ("post", "/courses/{course_key}/bulk_enrollments"),
    ("get", "/jobs/{job_id}"),
    ("get", "/jobs"),
    ("post", "/jobs/{job_id}/approve"),
    ("post", "/jobs/{job_id}/cancel"),
    ("get", "/audit"),
    ("get", "/version"),
    ("put", "/programs/{program_uuid}"),
    ("get", "/programs/{program_uuid}"),
    ("get", "/programs/{program_uuid}/enrollments"),
    ("post", "/programs/{program_uuid}/enrollments"),
    ("patch", "/programs/{program_uuid}/enrollments"),
    ("put", "/programs/{program_uuid}/enrollments"),
    ("get", "/programs/{program_uuid}/courses/{course_key}/enrollments"),
    ("post", "/programs/{program_uuid}/courses/{course_key}/enrollments"),
    ("patch", "/programs/{program_uuid}/courses/{course_key}/enrollments"),
    ("put", "/programs/{program_uuid}/courses/{course_key}/enrollments"),
    ("post", "/programs/{program_uuid}/link"),
    ("post", "/programs/{program_uuid}/enrollments/upload"),
    ("post", "/programs/{program_uuid}/link/upload"),
    ("put", "/users/{username}/external-ids"),
    ("get", "/users/{username}/external-ids"),
    ("put", "/courses/{course_key}/grades"),
    ("put", "/courses/{course_key}/grades/{username}"),
    ("get", "/courses/{course_key}/certificates"),
    ("post", "/courses/{course_key}/certificates/generate"),
    ("get", "/courses/{course_key}/certificates/generation-runs"),
    ("put", "/courses/{course_key}/certificates/allowlist/{username}"),
    ("delete", "/courses/{course_key}/certificates/allowlist/{username}"),
    ("post", "/courses/{course_key}/certificates/{username}/invalidate"),
    ("delete", "/courses/{course_key}/certificates/{username}/invalidate"),
    ("get", "/courses/{course_key}/certificates/{username}"),
}
# Actions on a resource named by the path: no body to send.
BODYLESS_WRITES = {
    ("post", "/jobs/{job_id}/approve"),
    ("post", "/jobs/{job_id}/cancel"),
    ("post", "/sis/imports/{job_id}/approve"),
    ("post", "/sis/imports/{job_id}/discard"),
    ("post", "/sis/drop-holds/{term}/approve"),
    ("post", "/sis/drop-holds/{term}/discard"),
    ("put", "/courses/{course_key}/cohorts/{name}/members/{username}"),
    ("post", "/webhooks/{subscription_id}/dead-letters/{seq}/retry"),
}
# Uploads: a multipart body with a file field.
MULTIPART_WRITES = {
    ("post", "/sis/imports"): "file",
    ("post", "/programs/{program_uuid}/enrollments/upload"): "file",
    ("post", "/programs/{program_uuid}/link/upload"): "file",
}
# Open edX's program_enrollments v1 shapes: the body is an array of records...
_PROGRAM_WRITES = {
    (method, path)
    for method in ("post", "patch", "put")
    for path in (
        "/programs/{program_uuid}/enrollments",
        "/programs/{program_uuid}/courses/{course_key}/enrollments",
    )
}
_GRADES = ("put", "/courses/{course_key}/grades")
# Array bodies, with the fields each record requires.
ARRAY_WRITES = {
    **{route: {"student_key", "status"} for route in _PROGRAM_WRITES if route[0] != "patch"},
    _GRADES: {"username", "percent"},
}
# ...and the answer maps each record's key to its outcome (204 for no records).
KEYED_ANSWERS = _PROGRAM_WRITES | {_GRADES}
# Bodies that map keys of the caller's choosing to strings.
MAP_WRITES = {("post", "/programs/{program_uuid}/link"), ("put", "/users/{username}/external-ids")}
# Raw XML bodies (the LMB endpoint).
XML_WRITES = {("post", "/sis/lmb")}


@pytest.fixture
def document(db: None) -> dict[str, Any]:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_the_document_is_public_and_lists_every_route(document: dict[str, Any]) -> None:
    routes = {
        (method, path.removeprefix("/api/v1"))
        for path, methods in document["paths"].items()
        for method in methods
    }
    # A superset: routes added later are covered by the generic tests (auth, lists, schemas).
    assert routes >= EXPECTED_ROUTES
    assert document["info"]["title"] == "rollbook"


def test_the_document_declares_bearer_auth(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"} in schemes.values()
    for methods in document["paths"].values():
        for spec in methods.values():
            assert spec["security"], spec["operationId"]


@pytest.mark.parametrize("operation", operations(), ids=lambda op: op.id)
def test_every_operation_has_a_response_schema(operation: Any) -> None:
    success = [status for status in responses(operation) if status.startswith("2")]
    assert success, operation.id
    route = (operation.method, operation.path.removeprefix("/api/v1"))
    for status in success:
        if status == "204":  # no content
            assert route in KEYED_ANSWERS, operation.id
            assert "content" not in responses(operation)[status]
            continue
        content = responses(operation)[status]["content"]
        downloads = [kind for kind in ("text/csv", "application/zip") if kind in content]
        if downloads:  # a file download
            assert content[downloads[0]]["schema"]["format"] == "binary"
            continue
        schema = response_schema(operation, status)
        if route in KEYED_ANSWERS:
            assert schema["additionalProperties"] == {"type": "string"}, (operation.id, status)
            continue
        assert schema.get("properties"), (operation.id, status)


@pytest.mark.parametrize(
    "operation",
    [op for op in operations() if op.method in {"put", "post"}],
    ids=lambda op: op.id,
)
def test_every_write_has_a_request_schema(operation: Any) -> None:
    route = (operation.method, operation.path.removeprefix("/api/v1"))
    if route in BODYLESS_WRITES:
        assert "requestBody" not in operation.spec
        return
    body = operation.spec["requestBody"]
    assert body["required"] is True
    if route in XML_WRITES:
        assert body["content"]["application/xml"]["schema"]["type"] == "string"
        return
    if route in MULTIPART_WRITES:
        form = resolve(body["content"]["multipart/form-data"]["schema"])
        assert MULTIPART_WRITES[route] in form["properties"]
        return
    schema = resolve(body["content"]["application/json"]["schema"])
    if route in ARRAY_WRITES:
        assert schema["type"] == "array"
        assert ARRAY_WRITES[route] <= set(schema["items"]["required"])
        return
    assert schema["type"] == "object"
    if route in MAP_WRITES:
        assert schema["additionalProperties"] == {"type": "string"}
        return
    assert schema["properties"]


def test_the_schemas_name_their_fields(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert set(schemas["CourseOut"]["properties"]) == {
        "key",
        "org",
        "title",
        "start",
        "end",
        "modes",
        "default_mode",
        "sis_id",
        "enrollment_open",
        "days_early_for_beta",
        "passing_grade",
    }
    assert set(schemas["EnrollmentOut"]["properties"]) == {
        "course_key",
        "username",
        "mode",
        "is_active",
        "created",
        "modified",
    }
    assert set(schemas["GrantIn"]["required"]) == {"username", "role"}
    assert set(schemas["BulkEnrollmentIn"]["required"]) == {"usernames"}


def test_list_operations_document_their_paging(document: dict[str, Any]) -> None:
    parameters = {
        param["name"]
        for param in document["paths"]["/api/v1/users"]["get"]["parameters"]
        if param["in"] == "query"
    }
    assert {"page", "page_size", "search"} <= parameters


@pytest.mark.django_db
def test_the_docs_page_is_html() -> None:
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"openapi.json" in response.content


@pytest.mark.django_db
def test_health_is_public() -> None:
    response = Client().get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert Client().post("/health").status_code == 405


def test_the_version(staff_api: Any) -> None:
    response = staff_api.get("version")
    assert response.status_code == 200
    assert response.json() == {"version": rollbook.__version__, "api": "v1"}
