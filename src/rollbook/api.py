"""The NinjaAPI root: mounts every app's router under /api/v1 and shapes every error."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

import rollbook
from rollbook.audit.rest import router as audit_router
from rollbook.auth import AdminSessionAuth, BearerAuth
from rollbook.catalog.rest import router as catalog_router
from rollbook.certificates.rest import router as certificates_router
from rollbook.content_access.rest import router as content_router
from rollbook.enrollments.rest import router as enrollments_router
from rollbook.jobs.rest import router as jobs_router
from rollbook.lib.errors import (
    MSG_CSRF_FAILED,
    MSG_INVALID,
    MSG_NOT_AUTHENTICATED,
    MSG_NOT_FOUND,
    CommonErrorCode,
    RollbookError,
)
from rollbook.lib.middleware import body_limit_for, too_large_response
from rollbook.oneroster.rest import router as oneroster_router
from rollbook.people.rest import router as people_router
from rollbook.programs.rest import router as programs_router
from rollbook.roles.rest import router as roles_router
from rollbook.sis_import.rest import router as sis_router
from rollbook.webhooks.rest import router as webhooks_router

log = logging.getLogger(__name__)


class ObjectParser(Parser):
    """JSON bodies are objects: ninja's schemas would read a list or a string as `{}`."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise ValueError("The body must be a JSON object.")  # answered 422 invalid_json
        return data


class RollbookAPI(NinjaAPI):
    """The API, with the LMB endpoint's HTTP Basic scheme declared beside bearer tokens."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        schemes = schema["components"].setdefault("securitySchemes", {})
        schemes["LmbBasic"] = {
            "type": "http",
            "scheme": "basic",
            "description": "Luminis Message Broker: ROLLBOOK_LMB_USERNAME / ROLLBOOK_LMB_PASSWORD",
        }
        return schema


api = RollbookAPI(
    title="rollbook",
    version="1",
    description=(
        "Enrollment and access service. Authenticate with `Authorization: Bearer <token>` "
        "(`rollbook token create USERNAME`). Errors answer "
        '`{"code": ..., "message": ..., "fields": {...}}`; lists answer '
        '`{"items": [...], "count": N, "page": P, "page_size": S}`.'
    ),
    urls_namespace="api-v1",
    auth=[BearerAuth(), AdminSessionAuth()],
    parser=ObjectParser(),
)

for router in (
    people_router,
    catalog_router,
    roles_router,
    enrollments_router,
    content_router,
    jobs_router,
    audit_router,
    programs_router,
    certificates_router,
    sis_router,
    webhooks_router,
    oneroster_router,
):
    api.add_router("", router)


def _error(
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    fields: dict[str, object] | None = None,
) -> HttpResponse:
    body = {"code": code, "message": message, "fields": fields or {}}
    response = api.create_response(request, body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="rollbook"'
    return response


@api.exception_handler(RollbookError)
def on_rollbook_error(request: HttpRequest, exc: RollbookError) -> HttpResponse:
    return _error(request, exc.status, exc.code, exc.message, exc.fields)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields: dict[str, object] = {}
    for error in exc.errors:
        # ninja's loc: the source ("body", "query", "path"), the view's parameter name ("body",
        # "filters", "paging", ...), then the field's path. Dropped by position, not by value:
        # a parameter named "body" is not a second source.
        location = [str(part) for part in error.get("loc", ())][1:]
        name = ".".join(location[1:] if len(location) > 1 else location) or "body"
        fields[name] = error.get("msg", "invalid")
    message = MSG_INVALID + " " + "; ".join(f"{name}: {msg}" for name, msg in fields.items())
    return _error(request, 422, CommonErrorCode.INVALID, message.strip(), fields)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, CommonErrorCode.NOT_AUTHENTICATED, MSG_NOT_AUTHENTICATED)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and isinstance(exc.__cause__, RequestDataTooBig):
        return too_large_response("more than the limit", body_limit_for(request.path))
    if exc.status_code == 400:
        # Ninja's "Cannot parse request body": malformed JSON is invalid input.
        return _error(request, 422, "invalid_json", f"The body is not valid JSON: {exc}")
    if exc.status_code == 405:
        return _error(request, 405, CommonErrorCode.METHOD_NOT_ALLOWED, str(exc))
    if exc.status_code == 403 and "CSRF" in str(exc):
        # A signed-in admin session posting without its CSRF token.
        return _error(request, 403, CommonErrorCode.CSRF_FAILED, MSG_CSRF_FAILED)
    return _error(request, exc.status_code, f"http_{exc.status_code}", str(exc))


@api.exception_handler(Http404)
def on_404(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, CommonErrorCode.NOT_FOUND, MSG_NOT_FOUND)


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return too_large_response("more than the limit", body_limit_for(request.path))


class VersionOut(Schema):
    version: str
    api: str


@api.get("/version", response=VersionOut, tags=["service"])
def version(request: HttpRequest) -> dict[str, str]:
    """The service's version."""
    return {"version": rollbook.__version__, "api": "v1"}
