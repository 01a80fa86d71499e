"""The public verify page: GET /certificates/{verify_uuid}, no login (docs/decisions/0010).

An HTML page for people (templates/certificates/verify.html), JSON for programs that ask with
`Accept: application/json`:

- 200 for a valid (downloadable) certificate: the name at issue, the course's title and org,
  the issue date, "valid", and links: "Add to LinkedIn" (LinkedIn's add-to-profile URL),
  the PDF and the credential (JSON: `pdf_url`, `credential_url`);
- 410 for one invalidated or deleted: said so, with no name and no grade;
- 404 for an unknown id and for anything that is not a verify id, answered the same way;
- 429 with Retry-After past CERTIFICATES["VERIFY_RATE"] requests from one client address in
  a fixed window (counted in Django's cache, so shared by every process when Redis is set).

The same rate limit, 404 and 410 answer the certificate's other public resources:

- GET /certificates/{verify_uuid}/credential.json: its signed Open Badges 3.0 credential
  (credentials.py), issued on the first request and the same bytes ever after; an
  attachment with `?download=1`;
- GET /certificates/{verify_uuid}/pdf: the printable certificate with a QR code to the page.

GET /certificates/status/revocation, the issuer's signed revocation list, is public too, not
rate-limited and cacheable for a minute.

These are pages, not API answers: no `{"code", "message", "fields"}` shape. The page has a
strict Content-Security-Policy: no scripts; its LinkedIn and download links are plain links.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control, patch_vary_headers
from django.views.decorators.http import require_safe

from rollbook.audit.data import Actor
from rollbook.certificates import api
from rollbook.lib import clock

RATE_VARIABLE = "ROLLBOOK_CERT_VERIFY_RATE"
CREDENTIAL_SUFFIX = "/credential.json"
PDF_SUFFIX = "/pdf"
LD_JSON = "application/ld+json"
VC_LD_JSON = "application/vc+ld+json"
JSON = "application/json"
STATUS_LIST_MAX_AGE = 60  # seconds a verifier may cache the revocation list
LINKEDIN_ADD_TO_PROFILE = "https://www.linkedin.com/profile/add"
# Who issues a credential on its first download: nobody signed in, through the public URL.
PUBLIC_ACTOR = Actor.system("public")
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
    request: HttpRequest,
    status: int,
    data: dict[str, Any],
    *,
    title: str,
    as_json: bool | None = None,
    **page: Any,
) -> HttpResponse:
    """`data` as JSON, or the page: `data` with its `title` and what else `page` gives.
    JSON when `as_json`, or when left out and the client asks for it."""
    response: HttpResponse
    wants_json = _wants_json(request) if as_json is None else as_json
    if wants_json:
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


def _rate_limited(request: HttpRequest, *, as_json: bool | None = None) -> HttpResponse | None:
    """429 with Retry-After once the client is past the rate (every view here counts)."""
    wait = _retry_after(request)
    if wait is None:
        return None
    data = _not_valid("rate_limited", MSG_RATE_LIMITED.format(seconds=wait))
    data["valid"] = None  # not checked
    response = _answer(request, 429, data, title="Too many requests", as_json=as_json)
    response["Retry-After"] = str(wait)
    return response


def _no_certificate(
    request: HttpRequest, found: api.Verification, *, as_json: bool | None = None
) -> HttpResponse:
    """410 for an invalidated or deleted certificate, 404 for anything else."""
    if found.state in ("invalidated", "deleted"):
        message = MSG_INVALIDATED if found.state == "invalidated" else MSG_DELETED
        data = _not_valid(found.state, message)
        return _answer(request, 410, data, title="Certificate no longer valid", as_json=as_json)
    data = _not_valid("unknown", MSG_UNKNOWN)
    return _answer(request, 404, data, title="Certificate not found", as_json=as_json)


def linkedin_url(found: api.Verification, verify_uuid: str) -> str:
    """LinkedIn's add-to-profile link for a valid certificate: a certification named as its
    credential is, by the course's org, issued in the month of its issue date (TIME_ZONE)."""
    issued = timezone.localtime(found.issued_at) if found.issued_at else None
    params = {
        "startTask": "CERTIFICATION_NAME",
        "name": api.certificate_title(found.course_title),
        "organizationName": found.org or str(settings.ISSUER_NAME),
        "issueYear": str(issued.year) if issued else "",
        "issueMonth": str(issued.month) if issued else "",
        "certUrl": api.verify_url(verify_uuid),
        "certId": verify_uuid,
    }
    return LINKEDIN_ADD_TO_PROFILE + "?" + urlencode(params, quote_via=quote)


@require_safe
def verify_certificate(request: HttpRequest, verify_uuid: str) -> HttpResponse:
    """Public: whether the certificate behind a verify link is valid (see the module)."""
    limited = _rate_limited(request)
    if limited is not None:
        return limited
    found = api.verification(verify_uuid)
    if found.state != "valid":
        return _no_certificate(request, found)
    verify_id = verify_uuid.lower()
    base = api.verify_url(verify_id)
    data = {
        "valid": True,
        "state": found.state,
        "message": MSG_VALID,
        "verify_uuid": verify_id,
        "name": found.name,
        "course_title": found.course_title,
        "org": found.org,
        "course_key": found.course_key,
        "mode": found.mode,
        "issued_at": found.issued_at,  # as the API writes times
        "credential_url": base + CREDENTIAL_SUFFIX,
        "pdf_url": base + PDF_SUFFIX,
    }
    title = f"Valid certificate: {found.course_title}"
    return _answer(
        request,
        200,
        data,
        title=title,
        issued_on=found.issued_at,
        linkedin_url=linkedin_url(found, verify_id),
        pdf_path=f"/certificates/{verify_id}{PDF_SUFFIX}",
        credential_path=f"/certificates/{verify_id}{CREDENTIAL_SUFFIX}?download=1",
        credential_filename=_credential_filename(verify_id),
    )


def _credential_filename(verify_uuid: str) -> str:
    return f"certificate-{verify_uuid}.credential.json"


@require_safe
def certificate_credential(request: HttpRequest, verify_uuid: str) -> HttpResponse:
    """Public: GET /certificates/{verify_uuid}/credential.json, the certificate's signed Open
    Badges 3.0 credential (issued on the first request, the same bytes ever after).

    `application/ld+json` unless the client prefers `application/json`; an attachment with
    `?download=1`. 404 and 410 as the verify page (always JSON), and its rate limit.
    """
    limited = _rate_limited(request, as_json=True)
    if limited is not None:
        return limited
    issued = api.issue_credential(verify_uuid, actor=PUBLIC_ACTOR)
    if issued is None:
        return _no_certificate(request, api.verification(verify_uuid), as_json=True)
    preferred = request.get_preferred_type([LD_JSON, JSON])
    content_type = JSON if preferred == JSON else LD_JSON
    response = HttpResponse(issued.as_json(), content_type=content_type)
    if request.GET.get("download") == "1":
        filename = _credential_filename(issued.verify_uuid)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    patch_vary_headers(response, ["Accept"])
    add_never_cache_headers(response)  # a superseded credential must not linger
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def certificate_pdf(request: HttpRequest, verify_uuid: str) -> HttpResponse:
    """Public: GET /certificates/{verify_uuid}/pdf, the printable certificate (inline), with a
    QR code to the verify page. 404 and 410 as the verify page (HTML or JSON by Accept), and
    its rate limit."""
    limited = _rate_limited(request)
    if limited is not None:
        return limited
    content = api.certificate_pdf(verify_uuid)
    if content is None:
        return _no_certificate(request, api.verification(verify_uuid))
    response = HttpResponse(content, content_type="application/pdf")
    filename = f"certificate-{verify_uuid.lower()}.pdf"
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    add_never_cache_headers(response)
    return response


@require_safe
def status_list(request: HttpRequest) -> HttpResponse:
    """Public: GET /certificates/status/revocation, the issuer's signed revocation list
    (`BitstringStatusListCredential`), built from the database at each request.

    `application/vc+ld+json` unless the client prefers `application/json`; cacheable for
    STATUS_LIST_MAX_AGE seconds, by anyone, from any origin.
    """
    document = api.status_list_credential()
    preferred = request.get_preferred_type([VC_LD_JSON, JSON])
    content_type = JSON if preferred == JSON else VC_LD_JSON
    body = json.dumps(document, sort_keys=True, ensure_ascii=False).encode()
    response = HttpResponse(body, content_type=content_type)
    patch_cache_control(response, public=True, max_age=STATUS_LIST_MAX_AGE)
    patch_vary_headers(response, ["Accept"])
    response["Access-Control-Allow-Origin"] = "*"
    return response
