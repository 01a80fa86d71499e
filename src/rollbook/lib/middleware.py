"""Request middleware: the time the server spent (Server-Timing), body limits before anything
reads the body, and 405s in the API's error shape."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from rollbook.lib.errors import CommonErrorCode

MSG_METHOD_NOT_ALLOWED = "{method} is not allowed here; allowed: {allow}."
MSG_TOO_LARGE = "The request body is {size} bytes; the limit is {limit} bytes."

# Paths that set their own limits (later issues: structures 10 MiB+, LMB messages 1 MiB).
BODY_LIMITS: dict[str, int] = {}
# Limits by the end of the path (e.g. "/structure"), for routes with a key in the middle.
BODY_LIMIT_SUFFIXES: dict[str, int] = {}


def body_limit_for(path: str) -> int:
    for prefix, limit in BODY_LIMITS.items():
        if path.startswith(prefix):
            return limit
    for suffix, limit in BODY_LIMIT_SUFFIXES.items():
        if path.endswith(suffix):
            return limit
    return int(settings.MAX_BODY_BYTES)


def too_large_response(size: int | str, limit: int) -> HttpResponse:
    body = {
        "code": CommonErrorCode.BODY_TOO_LARGE.value,
        "message": MSG_TOO_LARGE.format(size=size, limit=limit),
        "fields": {"limit": limit},
    }
    return HttpResponse(json.dumps(body), status=413, content_type="application/json")


class ServerTimingMiddleware:
    """`Server-Timing: app;dur=<ms>` on every response: the time from the first middleware to
    the response, as the server measures it (W3C Server Timing; browsers' developer tools and
    load tools show it). Streaming responses are timed to their first byte."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.2f}"
        return response


class BodySizeLimitMiddleware:
    """413 with the JSON error shape when Content-Length says the body is over the limit.

    Bodies without a Content-Length (chunked) are bounded by Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE when read; the API turns that error into the same 413.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            size = int(raw)
        except ValueError:
            size = 0
        limit = body_limit_for(request.path)
        if size > limit:
            return too_large_response(size, limit)
        return self.get_response(request)


class ApiMethodNotAllowedMiddleware:
    """A method a route does not have answers 405 in the API's JSON error shape (with Allow).

    django-ninja builds that response itself, before any exception handler could shape it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 405
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            allow = response.get("Allow", "")
            body = {
                "code": CommonErrorCode.METHOD_NOT_ALLOWED.value,
                "message": MSG_METHOD_NOT_ALLOWED.format(method=request.method, allow=allow),
                "fields": {"allow": allow},
            }
            shaped = HttpResponse(json.dumps(body), status=405, content_type="application/json")
            shaped["Allow"] = allow
            return shaped
        return response
