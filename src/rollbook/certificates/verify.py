"""The public verify page: GET /certificates/{verify_uuid}, no login (docs/decisions/0010).

An HTML page for people (templates/certificates/verify.html), JSON for programs that ask with
`Accept: application/json`:

- 200 for a valid (downloadable) certificate: the name at issue, the course's title and org,
  the issue date, "valid";
- 410 for one invalidated or deleted: said so, with no name and no grade;
- 404 for an unknown id and for anything that is not a verify id, answered the same way;
- 429 with Retry-After past CERTIFICATES["VERIFY_RATE"] requests from one client address in
  a fixed window (counted in Django's cache, so shared by every process when Redis is set).

These are pages, not API answers: no `{"code", "message", "fields"}` shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.views.decorators.http import require_safe

from rollbook.certificates import api
from rollbook.lib import clock

RATE_VARIABLE = "ROLLBOOK_CERT_VERIFY_RATE"
MSG_BAD_RATE = (
    RATE_VARIABLE + ' must be "N/second", "N/minute" or "N/hour" (or a bare N, per minute; '
    "0 for no limit), not {value!r}."
)
MSG_VALID = "This certificate is valid."
MSG_INVALIDATED = "This certificate has been invalidated: it is no longer valid."
MSG_DELETED = "This certificate has been deleted: it is no longer valid."
MSG_UNKNOWN = "No certificate has this verification link."
MSG_RATE_LIMITED = "Too many requests. Try again in {seconds} seconds."

# Only these sources: the page has no scripts, images, fonts or forms, and is never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

_PERIODS = {"second": 1, "minute": 60, "hour": 3600}
_CACHE_KEY = "certificates:verify:{address}:{period}:{window}"


@dataclass(frozen=True, slots=True)
class Rate:
    limit: int  # 0: no limit
    period: int  # seconds


def parse_rate(value: object) -> Rate:
    """'60/minute' (also second, hour; a bare number is per minute)."""
    count, _, unit = str(value).strip().lower().partition("/")
    period = _PERIODS.get(unit.strip() or "minute")
    try:
        limit = int(count)
    except ValueError:
        limit = -1
    if period is None or limit < 0:
        raise ImproperlyConfigured(MSG_BAD_RATE.format(value=value))
    return Rate(limit, period)


def _retry_after(request: HttpRequest) -> int | None:
    """Count the request in its client's window; the seconds to wait when it is one too many.

    The address is REMOTE_ADDR: behind a reverse proxy every client shares the proxy's.
    """
    rate = parse_rate(settings.CERTIFICATES["VERIFY_RATE"])
    if rate.limit == 0:
        return None
    now = clock.now().timestamp()
    window = int(now // rate.period)
    key = _CACHE_KEY.format(
        address=request.META.get("REMOTE_ADDR") or "unknown", period=rate.period, window=window
    )
    cache.add(key, 0, timeout=rate.period + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        cache.add(key, 1, timeout=rate.period + 1)
        count = 1
    if count <= rate.limit:
        return None
    return max(1, math.ceil((window + 1) * rate.period - now))


def _wants_json(request: HttpRequest) -> bool:
    """JSON only when asked for over HTML (a browser's Accept prefers HTML; none means HTML)."""
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


def _answer(
    request: HttpRequest, status: int, data: dict[str, Any], *, title: str, **page: Any
) -> HttpResponse:
    """`data` as JSON, or the page: `data` with its `title` and what else `page` gives."""
    response: HttpResponse
    if _wants_json(request):
        response = JsonResponse(data, status=status)
    else:
        context = {**data, "title": title, **page}
        html = render_to_string("certificates/verify.html", context, request=request)
        response = HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    patch_vary_headers(response, ["Accept"])
    add_never_cache_headers(response)  # an invalidation shows at once
    return response


def _not_valid(state: str, message: str) -> dict[str, Any]:
    return {"valid": False, "state": state, "message": message}


@require_safe
def verify_certificate(request: HttpRequest, verify_uuid: str) -> HttpResponse:
    """Public: whether the certificate behind a verify link is valid (see the module)."""
    wait = _retry_after(request)
    if wait is not None:
        data = _not_valid("rate_limited", MSG_RATE_LIMITED.format(seconds=wait))
        data["valid"] = None  # not checked
        response = _answer(request, 429, data, title="Too many requests")
        response["Retry-After"] = str(wait)
        return response
    found = api.verification(verify_uuid)
    if found.state == "valid":
        data = {
            "valid": True,
            "state": found.state,
            "message": MSG_VALID,
            "verify_uuid": verify_uuid.lower(),
            "name": found.name,
            "course_title": found.course_title,
            "org": found.org,
            "course_key": found.course_key,
            "mode": found.mode,
            "issued_at": found.issued_at,  # as the API writes times
        }
        title = f"Valid certificate: {found.course_title}"
        return _answer(request, 200, data, title=title, issued_on=found.issued_at)
    if found.state in ("invalidated", "deleted"):
        message = MSG_INVALIDATED if found.state == "invalidated" else MSG_DELETED
        data = _not_valid(found.state, message)
        return _answer(request, 410, data, title="Certificate no longer valid")
    return _answer(request, 404, _not_valid("unknown", MSG_UNKNOWN), title="Certificate not found")
