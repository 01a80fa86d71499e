"""URLs of the OneRoster provider (mounted at the root by rollbook.urls)."""

from __future__ import annotations

from django.urls import URLPattern, path, re_path

from rollbook.oneroster import rest

_RESOURCES = "orgs|academicSessions|courses|classes|users|enrollments"
_BASE = rest.BASE_PATH.lstrip("/")

urlpatterns: list[URLPattern] = [
    path("oauth/token", rest.token, name="oneroster-token"),
    re_path(rf"^{_BASE}/(?P<resource>{_RESOURCES})$", rest.collection, name="oneroster-collection"),
    re_path(
        rf"^{_BASE}/(?P<resource>{_RESOURCES})/(?P<sourced_id>[^/]+)$",
        rest.single,
        name="oneroster-single",
    ),
    re_path(rf"^{_BASE}/classes/(?P<sourced_id>[^/]+)/students$", rest.class_students),
    re_path(rf"^{_BASE}/classes/(?P<sourced_id>[^/]+)/teachers$", rest.class_teachers),
    re_path(rf"^{_BASE}/users/(?P<sourced_id>[^/]+)/classes$", rest.user_classes),
    re_path(rf"^{_BASE}/(?P<rest>.*)$", rest.unknown),
]
