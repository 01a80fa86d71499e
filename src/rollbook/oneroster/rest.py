"""HTTP of the OneRoster provider: plain Django views (OneRoster's own error body and
headers), the OAuth token endpoint, and bearer-token checks. Logic lives in api.py."""

from __future__ import annotations

import base64
import binascii
import functools
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from django.http import (
    HttpRequest,
    HttpResponse,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from ninja import Router

from rollbook.lib.rest import require_staff
from rollbook.oneroster import api
from rollbook.oneroster.data import SCOPES_FOR_ROSTERING
from rollbook.oneroster.errors import CodeMinor, OAuthError, OneRosterError

log = logging.getLogger(__name__)

BASE_PATH = "/ims/oneroster/rostering/v1p2"

MSG_NO_TOKEN = "A bearer access token is required (POST /oauth/token)."  # noqa: S105
MSG_BAD_TOKEN = "The access token is unknown, expired or revoked."  # noqa: S105
MSG_SCOPE = "The access token's scope does not cover the rostering service."
MSG_BAD_PAGING = "'{name}' must be a whole number, not {value!r}."
MSG_UNKNOWN_ENDPOINT = "There is no OneRoster endpoint {path!r}."
MSG_SERVER_ERROR = "The request failed; it was logged."


def status_info(status: int, code: CodeMinor, message: str) -> JsonResponse:
    """OneRoster's `imsx_StatusInfo` error body."""
    body = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": message,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {
                    "imsx_codeMinorFieldName": "TargetEndSystem",
                    "imsx_codeMinorFieldValue": code.value,
                }
            ]
        },
    }
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="oneroster"'
    return response


def _bearer(request: HttpRequest) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise OneRosterError(401, CodeMinor.UNAUTHORISED_REQUEST, MSG_NO_TOKEN)
    grant = api.authenticate(raw.strip())
    if grant is None:
        raise OneRosterError(401, CodeMinor.UNAUTHORISED_REQUEST, MSG_BAD_TOKEN)
    if not grant.scopes & SCOPES_FOR_ROSTERING:
        raise OneRosterError(403, CodeMinor.FORBIDDEN, MSG_SCOPE)


def _number(params: QueryDict, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise OneRosterError(
            400, CodeMinor.INVALID_DATA, MSG_BAD_PAGING.format(name=name, value=raw)
        ) from None


def _query(request: HttpRequest) -> api.Query:
    params = request.GET
    return api.Query(
        filter=params.get("filter"),
        sort=params.get("sort"),
        order_by=params.get("orderBy"),
        fields=params.get("fields"),
        limit=_number(params, "limit", api.DEFAULT_LIMIT),
        offset=_number(params, "offset", 0),
    )


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri(BASE_PATH)


def _link(request: HttpRequest, query: api.Query, total: int) -> str:
    """RFC 8288 links to the first, previous, next and last pages, other parameters kept."""
    limit, offset = query.limit, query.offset
    last = max((total - 1) // limit * limit, 0)
    pages = {"first": 0, "last": last}
    if offset > 0:
        pages["prev"] = max(offset - limit, 0)
    if offset + limit < total:
        pages["next"] = offset + limit
    links = []
    for rel in ("first", "prev", "next", "last"):
        if rel not in pages:
            continue
        params = request.GET.copy()
        params.pop("limit", None)
        params.pop("offset", None)
        params["limit"] = str(limit)
        params["offset"] = str(pages[rel])
        url = request.build_absolute_uri(request.path) + "?" + params.urlencode(safe="'")
        links.append(f'<{url}>; rel="{rel}"')
    return ", ".join(links)


View = Callable[..., HttpResponse]


def oneroster_view(view: View) -> View:
    """GET only, a bearer token whose scope covers rostering, errors as imsx_StatusInfo."""

    @functools.wraps(view)
    @require_GET
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            _bearer(request)
            return view(request, *args, **kwargs)
        except OneRosterError as exc:
            return status_info(exc.status, exc.code, exc.message)
        except Exception:
            log.exception("OneRoster request failed: %s", request.path)
            return status_info(500, CodeMinor.INTERNAL_SERVER_ERROR, MSG_SERVER_ERROR)

    return wrapped


def _page(
    request: HttpRequest, key: str, run: Callable[[api.Query, str], api.ResultPage]
) -> HttpResponse:
    query = _query(request)
    page = run(query, _base(request))
    response = JsonResponse({key: page.objects})
    response["X-Total-Count"] = str(page.total)
    response["Link"] = _link(request, query, page.total)
    return response


@oneroster_view
def collection(request: HttpRequest, resource: str) -> HttpResponse:
    return _page(
        request, resource, lambda query, base: api.list_objects(resource, query, base=base)
    )


@oneroster_view
def single(request: HttpRequest, resource: str, sourced_id: str) -> HttpResponse:
    key = api.RESOURCES[resource].single
    # The path is already percent-decoded by Django: decoding it again would mangle a '%'.
    obj = api.get_object(
        resource, sourced_id, base=_base(request), fields=request.GET.get("fields")
    )
    return JsonResponse({key: obj})


@oneroster_view
def class_students(request: HttpRequest, sourced_id: str) -> HttpResponse:
    return _page(request, "users", lambda q, base: api.class_students(sourced_id, q, base=base))


@oneroster_view
def class_teachers(request: HttpRequest, sourced_id: str) -> HttpResponse:
    return _page(request, "users", lambda q, base: api.class_teachers(sourced_id, q, base=base))


@oneroster_view
def user_classes(request: HttpRequest, sourced_id: str) -> HttpResponse:
    return _page(request, "classes", lambda q, base: api.user_classes(sourced_id, q, base=base))


@oneroster_view
def unknown(request: HttpRequest, rest: str) -> HttpResponse:
    raise OneRosterError(404, CodeMinor.UNKNOWN_OBJECT, MSG_UNKNOWN_ENDPOINT.format(path=rest))


def _oauth_error(exc: OAuthError) -> JsonResponse:
    response = JsonResponse(
        {"error": exc.code.value, "error_description": exc.message}, status=exc.status
    )
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Basic realm="oneroster"'
    response["Cache-Control"] = "no-store"
    return response


def _basic(request: HttpRequest) -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, sep, secret = decoded.partition(":")
    return (unquote(client_id), unquote(secret)) if sep else (None, None)


@csrf_exempt
@require_POST
def token(request: HttpRequest) -> HttpResponse:
    """RFC 6749 client credentials: form `grant_type=client_credentials` and `scope`, the
    client authenticated by HTTP Basic or by `client_id`/`client_secret` in the form."""
    client_id, secret = _basic(request)
    if client_id is None:
        client_id, secret = request.POST.get("client_id"), request.POST.get("client_secret")
    try:
        issued = api.issue_token(
            request.POST.get("grant_type", ""), client_id, secret, request.POST.get("scope")
        )
    except OAuthError as exc:
        return _oauth_error(exc)
    response = JsonResponse(
        {
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }
    )
    response["Cache-Control"] = "no-store"
    return response


# -- the CSV export (rollbook's own API: a staff bearer token, not a OneRoster client) --------

router = Router(tags=["oneroster"])
EXPORT_FILENAME = "oneroster-bulk.zip"


@router.get(
    "/oneroster/export.zip",
    response={200: None},
    openapi_extra={
        "responses": {
            200: {
                "description": "OneRoster 1.2 CSV bulk zip",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def export_zip(request: HttpRequest) -> StreamingHttpResponse:
    """The roster as a OneRoster 1.2 CSV bulk zip (global staff), streamed as it is written:
    manifest.csv and a file per collection (ADR 0016)."""
    require_staff(request)
    response = StreamingHttpResponse(api.iter_zip(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{EXPORT_FILENAME}"'
    return response
