"""Certificates in the admin: every list and record renders, with its filters and search,
and nothing can be added, changed or deleted there."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from rollbook.audit.data import Actor
from rollbook.certificates import api as certs
from rollbook.certificates.models import (
    AllowlistEntry,
    Certificate,
    CourseGrade,
    Credential,
    GenerationRun,
    Invalidation,
)
from rollbook.jobs import api as jobs
from rollbook.people.models import User
from tests.factories import Make

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
COURSE = "course-v1:UniX+Hist1+2026"
MODELS = {
    "certificate": Certificate,
    "coursegrade": CourseGrade,
    "allowlistentry": AllowlistEntry,
    "invalidation": Invalidation,
    "generationrun": GenerationRun,
}


@pytest.fixture
def admin_client() -> Client:
    Make.user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(username="root"))
    return client


@pytest.fixture(autouse=True)
def data() -> None:
    Make.course(COURSE, modes=["audit", "verified"], passing_grade=0.6)
    for name in ("ann", "bob"):
        Make.user(name)
        Make.enrollment(COURSE, name, mode="verified")
    certs.put_grades(
        COURSE, [certs.GradeRecord("ann", 0.9), certs.GradeRecord("bob", 0.2)], actor=ACTOR
    )
    certs.add_to_allowlist(COURSE, "bob", notes="excused", actor=ACTOR)
    job = certs.start_generation(
        COURSE, usernames=None, statuses_to_regenerate=None, actor=ACTOR, dispatch=False
    )
    jobs.run_job(job.uuid)
    certs.invalidate(COURSE, "bob", notes="plagiarism", actor=ACTOR)


@pytest.mark.parametrize("model", MODELS)
def test_every_list_and_record_renders_read_only(admin_client: Client, model: str) -> None:
    changelist = reverse(f"admin:certificates_{model}_changelist")
    response = admin_client.get(changelist)
    assert response.status_code == 200
    row = MODELS[model].objects.order_by("id").first()
    assert row is not None
    change = admin_client.get(reverse(f"admin:certificates_{model}_change", args=[row.pk]))
    assert change.status_code == 200
    assert b'name="_save"' not in change.content
    assert admin_client.get(reverse(f"admin:certificates_{model}_add")).status_code == 403
    delete = reverse(f"admin:certificates_{model}_delete", args=[row.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert MODELS[model].objects.filter(pk=row.pk).exists()


def test_certificates_filter_by_status_and_course_and_search_by_username(
    admin_client: Client,
) -> None:
    changelist = reverse("admin:certificates_certificate_changelist")
    downloadable = admin_client.get(changelist, {"status": "downloadable"})
    assert downloadable.context["cl"].result_count == 1
    unavailable = admin_client.get(changelist, {"status": "unavailable", "course_key": COURSE})
    assert [c.user.username for c in unavailable.context["cl"].result_list] == ["bob"]
    found = admin_client.get(changelist, {"q": "ANN"})
    assert [c.user.username for c in found.context["cl"].result_list] == ["ann"]
    ann = Certificate.objects.get(user__username="ann")
    page = admin_client.get(reverse("admin:certificates_certificate_change", args=[ann.pk]))
    assert f'href="/certificates/{ann.verify_uuid}"'.encode() in page.content


def test_generation_runs_search_by_job_id(admin_client: Client) -> None:
    run = GenerationRun.objects.get()
    changelist = reverse("admin:certificates_generationrun_changelist")
    assert admin_client.get(changelist, {"q": str(run.job_uuid)}).context["cl"].result_count == 1
    assert admin_client.get(changelist, {"q": "not-a-uuid"}).status_code == 200


@pytest.mark.usefixtures("credential_settings")
def test_credentials_are_listed_read_only_with_their_document(admin_client: Client) -> None:
    ann = Certificate.objects.get(user__username="ann")
    issued = certs.issue_credential(ann.verify_uuid, actor=ACTOR)
    assert issued is not None
    row = Credential.objects.get()
    changelist = reverse("admin:certificates_credential_changelist")
    assert admin_client.get(changelist).context["cl"].result_count == 1
    for search in (ann.verify_uuid, str(row.uuid), "ANN"):
        assert admin_client.get(changelist, {"q": search}).context["cl"].result_count == 1
    assert admin_client.get(changelist, {"q": "bob"}).context["cl"].result_count == 0
    page = admin_client.get(reverse("admin:certificates_credential_change", args=[row.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert issued.document["proof"]["proofValue"].encode() in page.content
    assert f'href="/certificates/{ann.verify_uuid}/credential.json"'.encode() in page.content
    assert admin_client.get(reverse("admin:certificates_credential_add")).status_code == 403
    delete = reverse("admin:certificates_credential_delete", args=[row.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Credential.objects.filter(pk=row.pk).exists()
