from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path

from rollbook import views
from rollbook.api import api
from rollbook.certificates import issuer, verify
from rollbook.sis_import import rest as sis_rest

admin.site.site_header = "rollbook administration"
admin.site.site_title = "rollbook"
handler404 = "rollbook.views.not_found"

urlpatterns: list[URLPattern | URLResolver] = [
    path("health", views.health, name="health"),
    path("metrics", views.metrics, name="metrics"),
    # The LMB endpoint, the busiest URL, served ahead of the API's other routes (same view,
    # same answers; the API documents it): sis_import/rest.py `lmb_view`.
    path("api/v1/sis/lmb", sis_rest.lmb_view, name="sis-lmb"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    # OneRoster 1.2 rostering (/ims/oneroster/rostering/v1p2/...) and its OAuth token endpoint.
    path("", include("rollbook.oneroster.urls")),
    # LTI Advantage Names and Role Provisioning Services 2.0 (/lti/nrps/v2/...), ADR 0017.
    path("", include("rollbook.lti.urls")),
    # The credentials' issuer profile with its public key; before the verify page's catch-all.
    path("certificates/issuer", issuer.issuer_profile_view, name="certificate-issuer"),
    # The issuer's revocation list (a signed BitstringStatusListCredential).
    path("certificates/status/revocation", verify.status_list, name="certificate-status-list"),
    # A certificate's signed credential and its PDF (an id that is not a verify id: 404).
    re_path(
        r"^certificates/(?P<verify_uuid>[^/]+)/credential\.json$",
        verify.certificate_credential,
        name="certificate-credential",
    ),
    re_path(
        r"^certificates/(?P<verify_uuid>[^/]+)/pdf$",
        verify.certificate_pdf,
        name="certificate-pdf",
    ),
    # The public verify page: everything under /certificates/ is a verify id, and whatever is
    # not a valid one answers the page's own 404 (never the API's JSON shape).
    re_path(
        r"^certificates/(?P<verify_uuid>.*)$", verify.verify_certificate, name="certificate-verify"
    ),
]

if settings.SERVE_STATIC:
    urlpatterns.append(re_path(r"^static/(?P<path>.+)$", views.static_file, name="static"))
