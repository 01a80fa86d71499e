"""Programs in the admin: every page renders, nothing is edited there, and the one action
(cancel) goes through programs.api and leaves audit rows."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.lib.pagination import PageRequest
from rollbook.people.models import User
from rollbook.programs import api as programs
from rollbook.programs.models import (
    PendingCourseRole,
    Program,
    ProgramCourseEnrollment,
    ProgramEnrollment,
)
from tests.factories import Make

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
C1 = "course-v1:UniX+M101+2026"


@pytest.fixture
def admin_client() -> Client:
    Make.user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(username="root"))
    return client


@pytest.fixture
def program() -> uuid.UUID:
    """A program with a waiting key (with pending course staff) and a linked one."""
    Make.course(C1, modes=["audit", "masters"], default_mode="audit")
    Make.user("ann")
    program_uuid, curriculum = uuid.uuid4(), uuid.uuid4()
    programs.put_program(
        program_uuid,
        title="MSc Data",
        org="UniX",
        type="Masters",
        curricula=[programs.CurriculumSpec(curriculum, (C1,))],
        actor=ACTOR,
    )
    records = [programs.EnrollmentRequest(key, "enrolled", curriculum) for key in ("Wait-1", "L-1")]
    programs.write_program_enrollments(
        program_uuid, records, create=True, update=False, actor=ACTOR
    )
    programs.write_course_enrollments(
        program_uuid,
        C1,
        [
            programs.CourseEnrollmentRequest("Wait-1", "active", course_staff=True),
            programs.CourseEnrollmentRequest("L-1", "active"),
        ],
        create=True,
        update=False,
        actor=ACTOR,
    )
    assert programs.link_program_enrollments(program_uuid, {"L-1": "ann"}, actor=ACTOR).errors == {}
    return program_uuid


MODELS = {
    "programs_program": Program,
    "programs_programenrollment": ProgramEnrollment,
    "programs_programcourseenrollment": ProgramCourseEnrollment,
    "programs_pendingcourserole": PendingCourseRole,
}


@pytest.mark.parametrize("model", MODELS)
def test_every_page_renders_and_nothing_is_editable(
    admin_client: Client, program: uuid.UUID, model: str
) -> None:
    listing = admin_client.get(reverse(f"admin:{model}_changelist"))
    assert listing.status_code == 200
    row = MODELS[model].objects.order_by("id").first()
    assert row is not None
    page = admin_client.get(reverse(f"admin:{model}_change", args=[row.pk]))
    assert page.status_code == 200
    assert b'type="submit" value="Save"' not in page.content
    assert admin_client.get(reverse(f"admin:{model}_add")).status_code == 403
    assert admin_client.get(reverse(f"admin:{model}_delete", args=[row.pk])).status_code == 403


def test_the_program_page_shows_its_curricula(admin_client: Client, program: uuid.UUID) -> None:
    row = Program.objects.get(uuid=program)
    page = admin_client.get(reverse("admin:programs_program_change", args=[row.pk]))
    assert C1.encode() in page.content


def test_program_enrollments_search_by_key_in_any_case_and_filter(
    admin_client: Client, program: uuid.UUID
) -> None:
    url = reverse("admin:programs_programenrollment_changelist")
    found = admin_client.get(url, {"q": "wait-1"})
    assert found.context["cl"].result_count == 1
    assert admin_client.get(url, {"q": "WAIT"}).context["cl"].result_count == 0  # whole keys
    assert admin_client.get(url, {"linked": "no"}).context["cl"].result_count == 1
    linked = admin_client.get(url, {"linked": "yes"}).context["cl"]
    assert [row.external_user_key for row in linked.result_list] == ["L-1"]
    assert admin_client.get(url, {"status": "enrolled"}).context["cl"].result_count == 2


def test_cancelling_in_the_admin_goes_through_the_api(
    admin_client: Client, program: uuid.UUID
) -> None:
    ids = list(ProgramEnrollment.objects.values_list("id", flat=True))
    response = admin_client.post(
        reverse("admin:programs_programenrollment_changelist"),
        {"action": "cancel", "_selected_action": ids},
        follow=True,
    )
    assert response.status_code == 200
    assert b"2 program enrollment(s) cancelled." in response.content
    assert set(ProgramEnrollment.objects.values_list("status", flat=True)) == {"canceled"}
    events = audit.list_events(subject=f"program:{program}:Wait-1", page=PageRequest()).items
    assert (events[0].event, events[0].source, events[0].actor_username) == (
        "program_enrollment.updated",
        "admin",
        "root",
    )
    assert ProgramEnrollment.objects.count() == 2  # cancelled, not deleted
