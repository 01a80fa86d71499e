"""Plain Django views outside the API: health, metrics and the static files of the admin
and docs."""

from __future__ import annotations

import hmac
import mimetypes
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.db import connection
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from django.views.defaults import page_not_found

from rollbook.auth import BearerAuth
from rollbook.lib.errors import MSG_FORBIDDEN, MSG_NOT_AUTHENTICATED, CommonErrorCode
from rollbook.sis_import import api as sis


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Public: whether the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return JsonResponse({"status": "unavailable", "database": str(exc)}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics (text format 0.0.4) of the LMB feed. `Authorization: Bearer <token>`
    with ROLLBOOK_SIS_MONITOR_METRICS_TOKEN or an API token of global staff."""
    refused = _refuse_metrics(request)
    if refused is not None:
        return refused
    return HttpResponse(sis.metrics_text(), content_type=sis.METRICS_CONTENT_TYPE)


def _refuse_metrics(request: HttpRequest) -> JsonResponse | None:
    """None when the caller may read the metrics; else the 401 or 403 in the API's shape."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        configured = str(settings.SIS_MONITOR["METRICS_TOKEN"])
        if configured and hmac.compare_digest(token.encode(), configured.encode()):
            return None
        principal = BearerAuth().authenticate(request, token)
        if principal is not None:
            if principal.is_staff:
                return None
            return JsonResponse(
                {"code": CommonErrorCode.FORBIDDEN, "message": MSG_FORBIDDEN, "fields": {}},
                status=403,
            )
    response = JsonResponse(
        {"code": CommonErrorCode.NOT_AUTHENTICATED, "message": MSG_NOT_AUTHENTICATED, "fields": {}},
        status=401,
    )
    response["WWW-Authenticate"] = 'Bearer realm="rollbook"'
    return response


@require_GET
def static_file(request: HttpRequest, path: str) -> FileResponse:
    """Serve a static file found by the staticfiles finders (admin CSS, Swagger UI).

    One box needs no separate web server for these; behind a proxy, serve /static/ there.
    """
    if ".." in Path(path).parts:
        raise Http404
    found = finders.find(path)
    if not found or isinstance(found, list):
        raise Http404
    content_type, _ = mimetypes.guess_type(found)
    response = FileResponse(
        Path(found).open("rb"),  # noqa: SIM115 (FileResponse closes it)
        content_type=content_type or "application/octet-stream",
    )
    response["Cache-Control"] = "public, max-age=3600"
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 outside any route: the API's JSON error shape under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "not_found", "message": f"No endpoint at {request.path}.", "fields": {}},
            status=404,
        )
    return page_not_found(request, exception or Http404())
