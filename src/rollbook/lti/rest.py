"""HTTP of the Names and Role Provisioning Services: a plain Django view (the container's own
media type, `Link` headers and OAuth 2 bearer tokens, as in oneroster/rest.py); errors are
lib.errors' JSON body. Logic lives in api.py."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict

from rollbook.lib.errors import BadRequest, Forbidden, NotAuthenticated, RollbookError
from rollbook.lti import api
from rollbook.lti.data import MEDIA_TYPE, Member, MembershipPage
from rollbook.lti.errors import LtiErrorCode
from rollbook.oneroster import api as oauth
from rollbook.oneroster.data import SCOPE_NRPS

log = logging.getLogger(__name__)

PATH = "/lti/nrps/v2/courses/{course_key}/memberships"
REALM = "rollbook"

MSG_NO_TOKEN = "A bearer access token is required (POST /oauth/token)."  # noqa: S105
MSG_BAD_TOKEN = "The access token is unknown, expired or revoked."  # noqa: S105
MSG_SCOPE = f"The access token's scope does not include {SCOPE_NRPS}."
MSG_NUMBER = "'{name}' must be a whole number of at least {minimum}, not {value!r}."
MSG_METHOD = "Only GET is allowed here."
MSG_SERVER_ERROR = "The request failed; it was logged."


def container_url(course_key: str) -> str:
    """The membership container's id: its URL under ROLLBOOK_PUBLIC_URL, without a query."""
    return str(settings.PUBLIC_URL).rstrip("/") + PATH.format(
        course_key=quote(course_key, safe=":+~")
    )


def _challenge(exc: RollbookError) -> str:
    """RFC 6750 section 3: the WWW-Authenticate value of a 401 or 403."""
    if exc.code == LtiErrorCode.INVALID_TOKEN:
        return f'Bearer realm="{REALM}", error="invalid_token"'
    if exc.code == LtiErrorCode.INSUFFICIENT_SCOPE:
        return f'Bearer realm="{REALM}", error="insufficient_scope", scope="{SCOPE_NRPS}"'
    return f'Bearer realm="{REALM}"'


def _error(exc: RollbookError) -> JsonResponse:
    response = JsonResponse(exc.as_dict(), status=exc.status)
    if exc.status in (401, 403):
        response["WWW-Authenticate"] = _challenge(exc)
    return response


def _authorize(request: HttpRequest) -> None:
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise NotAuthenticated(LtiErrorCode.NOT_AUTHENTICATED, MSG_NO_TOKEN)
    grant = oauth.authenticate(raw.strip())
    if grant is None:
        raise NotAuthenticated(LtiErrorCode.INVALID_TOKEN, MSG_BAD_TOKEN)
    if SCOPE_NRPS not in grant.scopes:
        raise Forbidden(LtiErrorCode.INSUFFICIENT_SCOPE, MSG_SCOPE)


View = Callable[..., HttpResponse]


def nrps_view(view: View) -> View:
    """GET only, a bearer token with the contextmembership.readonly scope, JSON errors."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "GET":
            response = JsonResponse(
                {"code": LtiErrorCode.METHOD_NOT_ALLOWED, "message": MSG_METHOD, "fields": {}},
                status=405,
            )
            response["Allow"] = "GET"
            return response
        try:
            _authorize(request)
            return view(request, *args, **kwargs)
        except RollbookError as exc:
            return _error(exc)
        except Exception:
            log.exception("NRPS request failed: %s", request.path)
            return JsonResponse(
                {"code": "server_error", "message": MSG_SERVER_ERROR, "fields": {}}, status=500
            )

    return wrapped


def _whole(params: QueryDict, name: str, code: LtiErrorCode, *, minimum: int) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    digits = raw.strip()
    if not (digits.isascii() and digits.isdigit()) or int(digits) < minimum:
        raise BadRequest(
            code, MSG_NUMBER.format(name=name, minimum=minimum, value=raw), fields={name: raw}
        )
    return int(digits)


def _member(member: Member) -> dict[str, Any]:
    """One entry of `members` (NRPS 2.0 sections 2.2 and 2.3): optional fields only when known."""
    body: dict[str, Any] = {"status": member.status.value}
    for name in ("name", "given_name", "family_name", "email"):
        if value := getattr(member, name):
            body[name] = value
    body["user_id"] = member.user_id
    if member.lis_person_sourcedid:
        body["lis_person_sourcedid"] = member.lis_person_sourcedid
    body["roles"] = list(member.roles)
    return body


def _link(url: str, params: dict[str, str], rel: str) -> str:
    return f'<{url}?{urlencode(params)}>; rel="{rel}"'


def _respond(page: MembershipPage, url: str, kept: dict[str, str]) -> HttpResponse:
    body = {
        "id": url,
        "context": {
            "id": page.context.id,
            "label": page.context.label,
            "title": page.context.title,
        },
        "members": [_member(member) for member in page.members],
    }
    response = JsonResponse(body, content_type=MEDIA_TYPE)
    links = []
    if page.next_after is not None:
        cursor = (
            {"at": str(page.position)}
            if page.since is None
            else {"since": str(page.since), "until": str(page.position)}
        )
        links.append(_link(url, {**kept, **cursor, "after": page.next_after}, "next"))
    links.append(_link(url, {**kept, "since": str(page.position)}, "differences"))
    response["Link"] = ", ".join(links)
    return response


@nrps_view
def memberships(request: HttpRequest, course_key: str) -> HttpResponse:
    """`GET /lti/nrps/v2/courses/{course_key}/memberships?role=&limit=`: the membership
    container (NRPS 2.0); with `since=`, the differences after that outbox position."""
    params = request.GET
    raw_role = params.get("role", "").strip()
    role = api.parse_role(raw_role) if raw_role else None
    limit = _whole(params, "limit", LtiErrorCode.INVALID_LIMIT, minimum=1)
    since = _whole(params, "since", LtiErrorCode.INVALID_SINCE, minimum=0)
    at = _whole(params, "at", LtiErrorCode.INVALID_CURSOR, minimum=0)
    until = _whole(params, "until", LtiErrorCode.INVALID_CURSOR, minimum=0)
    after = params.get("after")
    kept = {"role": raw_role} if raw_role else {}
    kept["limit"] = str(min(limit or api.DEFAULT_LIMIT, api.MAX_LIMIT))
    if since is None:
        page = api.memberships(
            course_key, role=role, limit=limit or api.DEFAULT_LIMIT, after=after, at=at
        )
    else:
        page = api.differences(
            course_key,
            since=since,
            until=until,
            role=role,
            limit=limit or api.DEFAULT_LIMIT,
            after=after,
        )
    return _respond(page, container_url(course_key), kept)
