"""Setup shared by the credential tests: a course with downloadable certificates."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from rollbook.audit.data import Actor
from rollbook.certificates import api as certs
from rollbook.certificates.models import Certificate
from rollbook.jobs import api as jobs
from tests.factories import Make

ACTOR = Actor.system("test")
COURSE = "course-v1:UniX+Hist1+2026"
TITLE = "Medieval History & Sources"


def course() -> None:
    Make.course(COURSE, title=TITLE, modes=["audit", "verified"], passing_grade=0.6)


def issue(username: str = "ann", name: str = "Ann Lee", *, email: str | None = None) -> str:
    """A downloadable certificate of `username` in COURSE (made, with the course, when
    missing); its verify id."""
    course()
    fields: dict[str, Any] = {"name": name}
    if email is not None:
        fields["email"] = email
    Make.user(username, **fields)
    Make.enrollment(COURSE, username, mode="verified")
    certs.put_grades(COURSE, [certs.GradeRecord(username, 0.9)], actor=ACTOR)
    certs.generate_certificate(COURSE, username, actor=ACTOR)
    cert = Certificate.objects.get(user__username=username, course_key=COURSE)
    assert cert.status == "downloadable"
    return cert.verify_uuid


def regenerate(username: str = "ann") -> None:
    """Generate the learner's certificate again (downloadable ones too)."""
    job = certs.start_generation(
        COURSE,
        usernames=[username],
        statuses_to_regenerate=["downloadable"],
        actor=ACTOR,
        dispatch=False,
    )
    jobs.run_job(job.uuid)


def fetch_credential(verify_uuid: str, **headers: str) -> Any:
    return Client().get(f"/certificates/{verify_uuid}/credential.json", headers=headers)


def credential(verify_uuid: str) -> dict[str, Any]:
    """The certificate's credential, as GET .../credential.json answers it."""
    response = fetch_credential(verify_uuid)
    assert response.status_code == 200, response.content
    return json.loads(response.content)
