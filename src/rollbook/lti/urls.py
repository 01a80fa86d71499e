"""URLs of the LTI services (mounted at the root by rollbook.urls)."""

from __future__ import annotations

from django.urls import URLPattern, path

from rollbook.lti import rest

urlpatterns: list[URLPattern] = [
    path(
        "lti/nrps/v2/courses/<str:course_key>/memberships",
        rest.memberships,
        name="lti-nrps-memberships",
    ),
]
