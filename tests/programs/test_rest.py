"""Programs over HTTP: Open edX's program_enrollments v1 shapes and statuses, permissions,
cursor pages, linking, external ids and the CSV upload jobs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.test import override_settings

from rollbook.enrollments import api as enrollments
from rollbook.jobs import api as jobs
from rollbook.people import api as people
from rollbook.programs import api as programs_api
from rollbook.programs.models import PendingCourseRole, ProgramCourseEnrollment, ProgramEnrollment
from rollbook.roles import api as roles
from tests.api.helpers import assert_error
from tests.factories import Make

pytestmark = pytest.mark.django_db

C1 = "course-v1:UniX+M101+2026"
C2 = "course-v1:UniX+M102+2026"
OUTSIDE = "course-v1:UniX+X999+2026"
MODES = ["audit", "verified", "masters"]


@dataclass(frozen=True)
class World:
    program: uuid.UUID
    curriculum: uuid.UUID

    def url(self, suffix: str = "", program: uuid.UUID | None = None) -> str:
        return f"programs/{program or self.program}{suffix}"

    @property
    def enrollments(self) -> str:
        return self.url("/enrollments")

    def course(self, course_key: str = C1) -> str:
        return self.url(f"/courses/{course_key}/enrollments")


def put_program(
    client: Any, *courses: str, org: str = "UniX", program: uuid.UUID | None = None
) -> tuple[uuid.UUID, uuid.UUID]:
    program = program or uuid.uuid4()
    curriculum = uuid.uuid4()
    body = {
        "title": "MSc Data",
        "org": org,
        "type": "Masters",
        "curricula": [{"uuid": str(curriculum), "courses": list(courses)}],
    }
    response = client.put(f"programs/{program}", body)
    assert response.status_code == 201, response.content
    return program, curriculum


@pytest.fixture
def world(staff_api: Any) -> World:
    Make.course(C1, modes=MODES, default_mode="audit")
    Make.course(C2, modes=MODES, default_mode="audit")
    Make.user("ann")
    Make.user("bob")
    return World(*put_program(staff_api, C1, C2))


def patch(client: Any, path: str, body: Any) -> Any:
    return client.call("patch", path, body)


def record(world: World, key: str, status: str = "enrolled") -> dict[str, str]:
    return {"student_key": key, "status": status, "curriculum_uuid": str(world.curriculum)}


def enroll(client: Any, world: World, *keys: str) -> None:
    response = client.post(world.enrollments, [record(world, key) for key in keys])
    assert response.status_code == 200, response.content


@pytest.fixture
def org_staff(api_as: Callable[..., Any]) -> Any:
    client = api_as("dean")
    Make.grant("dean", "staff", org="UniX")
    return client


@pytest.fixture
def other_org_staff(api_as: Callable[..., Any]) -> Any:
    client = api_as("stranger")
    Make.grant("stranger", "staff", org="OtherU")
    return client


# ---------------------------------------------------------------- programs


def test_put_program_creates_201_then_updates_200(staff_api: Any) -> None:
    Make.course(C1)
    program, curriculum = put_program(staff_api, C1)
    body = staff_api.get(f"programs/{program}").json()
    assert body["uuid"] == str(program)
    assert (body["title"], body["org"], body["type"]) == ("MSc Data", "UniX", "Masters")
    assert body["curricula"] == [{"uuid": str(curriculum), "courses": [C1]}]
    again = staff_api.put(
        f"programs/{program}",
        {"title": "MSc Data Science", "org": "UniX", "curricula": [{"uuid": str(curriculum)}]},
    )
    assert again.status_code == 200, again.content
    assert again.json()["title"] == "MSc Data Science"
    assert again.json()["curricula"] == [{"uuid": str(curriculum), "courses": []}]


def test_put_program_refuses_a_malformed_org_or_course_key(staff_api: Any) -> None:
    program = uuid.uuid4()
    body = {"title": "T", "org": "Uni X", "curricula": []}
    assert_error(staff_api.put(f"programs/{program}", body), 422, "invalid_org")
    body = {
        "title": "T",
        "org": "UniX",
        "curricula": [{"uuid": str(uuid.uuid4()), "courses": ["x"]}],
    }
    assert_error(staff_api.put(f"programs/{program}", body), 422, "invalid_course_key")
    assert_error(staff_api.get(f"programs/{program}"), 404, "program_does_not_exist")


def test_org_staff_manage_their_orgs_programs_only(
    staff_api: Any, org_staff: Any, other_org_staff: Any
) -> None:
    program, _curriculum = put_program(org_staff, C1)  # org staff may create in their org
    assert org_staff.get(f"programs/{program}").status_code == 200
    assert_error(other_org_staff.get(f"programs/{program}"), 403, "forbidden")
    # Nor may they move it to another org, or create one there.
    moved = {"title": "T", "org": "OtherU", "curricula": []}
    assert_error(org_staff.put(f"programs/{program}", moved), 403, "forbidden")
    assert_error(other_org_staff.put(f"programs/{program}", moved), 403, "forbidden")
    assert_error(org_staff.put(f"programs/{uuid.uuid4()}", moved), 403, "forbidden")
    assert staff_api.get(f"programs/{program}").json()["org"] == "UniX"


# ---------------------------------------------------------------- statuses of the writes


def test_post_all_fine_is_200_with_each_keys_status(world: World, staff_api: Any) -> None:
    response = staff_api.post(
        world.enrollments, [record(world, "STU-1"), record(world, "STU-2", "pending")]
    )
    assert response.status_code == 200
    assert response.json() == {"STU-1": "enrolled", "STU-2": "pending"}
    rows = ProgramEnrollment.objects.order_by("external_user_key")
    assert [(r.external_user_key, r.status, r.user_id) for r in rows] == [
        ("STU-1", "enrolled", None),
        ("STU-2", "pending", None),
    ]


def test_put_mixed_is_207(world: World, staff_api: Any) -> None:
    enroll(staff_api, world, "STU-1")
    response = staff_api.put(
        world.enrollments,
        [record(world, "STU-1", "suspended"), record(world, "STU-2"), record(world, "X", "nope")],
    )
    assert response.status_code == 207
    assert response.json() == {"STU-1": "suspended", "STU-2": "enrolled", "X": "invalid-status"}


def test_none_fine_is_422_with_the_map(world: World, staff_api: Any) -> None:
    enroll(staff_api, world, "STU-1")
    response = staff_api.post(world.enrollments, [record(world, "STU-1"), record(world, "A", "?")])
    assert response.status_code == 422
    assert response.json() == {"STU-1": "conflict", "A": "invalid-status"}


def test_an_empty_list_is_204(world: World, staff_api: Any) -> None:
    for method in ("post", "put"):
        response = getattr(staff_api, method)(world.enrollments, [])
        assert response.status_code == 204
        assert response.content == b""
    assert patch(staff_api, world.enrollments, []).status_code == 204
    assert staff_api.post(world.course(), []).status_code == 204


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        ('{"student_key": "A", "status": "enrolled"}', {}),  # an object, not a list
        ('["A", "B"]', {}),
        ("not json", {}),
        ("", {}),
        ('[{"status": "enrolled", "curriculum_uuid": "%(c)s"}]', {"0.student_key"}),
        (
            '[{"student_key": 7, "status": "enrolled", "curriculum_uuid": "%(c)s"}]',
            {"0.student_key"},
        ),
        ('[{"student_key": "A", "status": true, "curriculum_uuid": "%(c)s"}]', {"0.status"}),
        (
            '[{"student_key": "", "status": "enrolled", "curriculum_uuid": "%(c)s"}]',
            {"0.student_key"},
        ),
        ('[{"student_key": "A", "status": "enrolled"}]', {"0.curriculum_uuid"}),
        (
            '[{"student_key": "A", "status": "enrolled", "curriculum_uuid": "x"}]',
            {"0.curriculum_uuid"},
        ),
    ],
)
def test_a_malformed_body_is_400(world: World, staff_api: Any, raw: str, fields: set[str]) -> None:
    response = staff_api.client.post(
        f"/api/v1/{world.enrollments}",
        data=raw % {"c": world.curriculum} if "%(c)s" in raw else raw,
        content_type="application/json",
        headers={"Authorization": f"Bearer {staff_api.token}"},
    )
    body = assert_error(response, 400, "malformed_request")
    assert set(body["fields"]) == set(fields)
    assert not ProgramEnrollment.objects.exists()


def test_patch_needs_no_curriculum_but_course_records_need_strings(
    world: World, staff_api: Any
) -> None:
    enroll(staff_api, world, "STU-1")
    response = patch(staff_api, world.enrollments, [{"student_key": "STU-1", "status": "ended"}])
    assert response.status_code == 200
    assert response.json() == {"STU-1": "ended"}
    bad = [{"student_key": "STU-1", "status": "active", "course_staff": "yes"}]
    body = assert_error(staff_api.post(world.course(), bad), 400, "malformed_request")
    assert set(body["fields"]) == {"0.course_staff"}


def test_more_records_than_the_limit_is_413(world: World, staff_api: Any) -> None:
    assert settings.PROGRAMS["MAX_RECORDS"] == 25
    records = [record(world, f"K{n}") for n in range(26)]
    body = assert_error(staff_api.post(world.enrollments, records), 413, "too_many_records")
    assert body["fields"] == {"limit": 25, "count": 26}
    assert staff_api.post(world.enrollments, records[:25]).status_code == 200
    with override_settings(PROGRAMS={**settings.PROGRAMS, "MAX_RECORDS": 2}):
        course = [{"student_key": f"K{n}", "status": "active"} for n in range(3)]
        assert_error(staff_api.put(world.course(), course), 413, "too_many_records")
        assert staff_api.put(world.course(), course[:2]).status_code == 200


def test_an_unknown_program_is_404(world: World, staff_api: Any) -> None:
    missing = uuid.uuid4()
    for response in (
        staff_api.get(world.url("", missing)),
        staff_api.get(world.url("/enrollments", missing)),
        staff_api.post(world.url("/enrollments", missing), [record(world, "A")]),
        staff_api.post(world.url("/enrollments", missing), []),
        staff_api.get(world.url(f"/courses/{C1}/enrollments", missing)),
        staff_api.post(world.url("/link", missing), {"A": "ann"}),
    ):
        assert_error(response, 404, "program_does_not_exist")


def test_a_course_outside_the_program_is_404(world: World, staff_api: Any) -> None:
    enroll(staff_api, world, "STU-1")
    records = [{"student_key": "STU-1", "status": "active"}]
    for response in (
        staff_api.get(world.course(OUTSIDE)),
        staff_api.post(world.course(OUTSIDE), records),
        patch(staff_api, world.course(OUTSIDE), records),
        staff_api.put(world.course(OUTSIDE), []),
    ):
        assert_error(response, 404, "course_not_in_program")


# ---------------------------------------------------------------- who may call


def test_anonymous_is_401_and_a_plain_user_403(
    world: World, anon_api: Any, api_as: Callable[..., Any]
) -> None:
    mary = api_as("mary")
    calls: list[tuple[str, str, Any]] = [
        ("get", world.url(), None),
        ("put", world.url(), {"title": "T", "org": "UniX"}),
        ("get", world.enrollments, None),
        ("post", world.enrollments, [record(world, "A")]),
        ("put", world.enrollments, [record(world, "A")]),
        ("patch", world.enrollments, [record(world, "A")]),
        ("get", world.course(), None),
        ("post", world.course(), [{"student_key": "A", "status": "active"}]),
        ("post", world.url("/link"), {"A": "ann"}),
        ("put", "users/ann/external-ids", {"UniX": "A"}),
        ("get", "users/ann/external-ids", None),
    ]
    for method, path, body in calls:
        response = anon_api.get(path) if body is None else anon_api.call(method, path, body)
        assert_error(response, 401, "not_authenticated")
        response = mary.get(path) if body is None else mary.call(method, path, body)
        assert_error(response, 403, "forbidden")
    assert not ProgramEnrollment.objects.exists()


def test_org_staff_may_write_staff_of_another_org_may_not(
    world: World, org_staff: Any, other_org_staff: Any
) -> None:
    response = org_staff.post(world.enrollments, [record(world, "STU-1")])
    assert response.status_code == 200, response.content
    assert org_staff.get(world.enrollments).json()["results"][0]["student_key"] == "STU-1"
    course = [{"student_key": "STU-1", "status": "active"}]
    assert org_staff.post(world.course(), course).status_code == 200
    for response in (
        other_org_staff.get(world.enrollments),
        other_org_staff.post(world.enrollments, [record(world, "STU-2")]),
        other_org_staff.put(world.course(), course),
        other_org_staff.post(world.url("/link"), {"STU-1": "ann"}),
    ):
        assert_error(response, 403, "forbidden")
    # Whether a program exists is not told to those who may not see it.
    assert_error(org_staff.get(world.url("/enrollments", uuid.uuid4())), 403, "forbidden")
    assert ProgramEnrollment.objects.count() == 1


def test_org_instructor_or_course_staff_is_not_enough(
    world: World, api_as: Callable[..., Any]
) -> None:
    client = api_as("helper")
    Make.grant("helper", "instructor", org="UniX")
    Make.grant("helper", "staff", course_key=C1)
    assert_error(client.get(world.enrollments), 403, "forbidden")
    assert_error(client.get(world.course()), 403, "forbidden")


# ---------------------------------------------------------------- per-record errors


def test_duplicated_drops_every_copy(world: World, staff_api: Any) -> None:
    response = staff_api.post(
        world.enrollments,
        [record(world, "DUP"), record(world, "dup", "pending"), record(world, "OK")],
    )
    assert response.status_code == 207
    assert response.json() == {"DUP": "duplicated", "dup": "duplicated", "OK": "enrolled"}
    assert list(ProgramEnrollment.objects.values_list("external_user_key", flat=True)) == ["OK"]
    course = [{"student_key": "OK", "status": "active"}] * 2
    response = staff_api.post(world.course(), course)
    assert response.status_code == 422
    assert response.json() == {"OK": "duplicated"}
    assert not ProgramCourseEnrollment.objects.exists()


def test_invalid_status_conflict_not_in_program_and_invalid_curriculum(
    world: World, staff_api: Any
) -> None:
    enroll(staff_api, world, "STU-1")
    elsewhere = {"student_key": "NEW", "status": "enrolled", "curriculum_uuid": str(uuid.uuid4())}
    response = staff_api.post(
        world.enrollments, [record(world, "STU-1"), record(world, "B", "graduated"), elsewhere]
    )
    assert response.json() == {
        "STU-1": "conflict",
        "B": "invalid-status",
        "NEW": "invalid-curriculum",
    }
    response = patch(staff_api, world.enrollments, [{"student_key": "NOPE", "status": "ended"}])
    assert response.status_code == 422
    assert response.json() == {"NOPE": "not-in-program"}


def test_a_record_that_fails_to_write_is_an_internal_error_alone(
    world: World, staff_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    enroll(staff_api, world, "OK", "BOOM")
    real = programs_api._set_status

    def failing(row: Any, status: str, *args: Any) -> None:
        if row.external_user_key == "BOOM":
            raise IntegrityError("simulated")
        real(row, status, *args)

    monkeypatch.setattr(programs_api, "_set_status", failing)
    response = patch(
        staff_api,
        world.enrollments,
        [{"student_key": "OK", "status": "ended"}, {"student_key": "BOOM", "status": "ended"}],
    )
    assert response.status_code == 207
    assert response.json() == {"OK": "ended", "BOOM": "internal-error"}
    statuses = dict(ProgramEnrollment.objects.values_list("external_user_key", "status"))
    assert statuses == {"OK": "ended", "BOOM": "enrolled"}


def test_course_writes_not_in_program_not_found_conflict(world: World, staff_api: Any) -> None:
    enroll(staff_api, world, "STU-1", "STU-2")
    response = staff_api.post(
        world.course(),
        [
            {"student_key": "STU-1", "status": "active"},
            {"student_key": "GHOST", "status": "active"},
            {"student_key": "STU-2", "status": "enrolled"},
        ],
    )
    assert response.status_code == 207
    assert response.json() == {
        "STU-1": "active",
        "GHOST": "not-in-program",
        "STU-2": "invalid-status",
    }
    again = staff_api.post(world.course(), [{"student_key": "stu-1", "status": "inactive"}])
    assert again.json() == {"stu-1": "conflict"}  # already in the course (any case)
    missing = patch(staff_api, world.course(), [{"student_key": "STU-2", "status": "active"}])
    assert missing.status_code == 422
    assert missing.json() == {"STU-2": "not-found"}
    updated = patch(staff_api, world.course(), [{"student_key": "STU-1", "status": "inactive"}])
    assert updated.json() == {"STU-1": "inactive"}


def test_activating_a_learner_active_through_another_program_is_a_conflict(
    world: World, staff_api: Any
) -> None:
    other, other_curriculum = put_program(staff_api, C1)
    first = World(other, other_curriculum)
    enroll(staff_api, first, "STU-1")
    enroll(staff_api, world, "STU-1", "STU-2")
    active = {"student_key": "STU-1", "status": "active"}
    assert staff_api.post(first.course(), [active]).json() == {"STU-1": "active"}
    response = staff_api.post(
        world.course(), [active, {"student_key": "STU-2", "status": "active"}]
    )
    assert response.status_code == 207
    assert response.json() == {"STU-1": "conflict", "STU-2": "active"}
    # Inactive is no conflict; nor is activating once the other program's is inactive.
    inactive = {"student_key": "STU-1", "status": "inactive"}
    assert staff_api.post(world.course(), [inactive]).json() == {"STU-1": "inactive"}
    assert patch(staff_api, first.course(), [inactive]).json() == {"STU-1": "inactive"}
    assert patch(staff_api, world.course(), [active]).json() == {"STU-1": "active"}


def test_course_staff_waits_pending_until_linked(world: World, staff_api: Any) -> None:
    enroll(staff_api, world, "STU-1")
    body = [{"student_key": "STU-1", "status": "active", "course_staff": True}]
    assert staff_api.post(world.course(), body).json() == {"STU-1": "active"}
    assert PendingCourseRole.objects.count() == 1
    assert staff_api.post(world.url("/link"), {"STU-1": "ann"}).json() == {"errors": {}}
    ann = people.get_user_ref("ann")
    assert roles.check_role(ann, "staff", course_key=C1, strict=True)
    assert enrollments.get_enrollment(C1, "ann").mode == "masters"
    assert not PendingCourseRole.objects.exists()


# ---------------------------------------------------------------- lists (cursor pages)


def _cursor_of(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    assert parts.scheme == "http"
    assert parts.netloc == "testserver"
    query = parse_qs(parts.query)
    assert query["page_size"] == ["3"]
    return query["cursor"][0]


def test_cursor_pages_walk_next_and_previous(world: World, staff_api: Any) -> None:
    keys = [f"STU-{n}" for n in range(1, 8)]
    enroll(staff_api, world, *keys)

    def page(url: str) -> tuple[list[str], str | None, str | None]:
        parts = urlsplit(url)  # next and previous are absolute URLs
        response = staff_api.get(f"{parts.path}?{parts.query}" if parts.scheme else url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"next", "previous", "results"}
        return [row["student_key"] for row in body["results"]], body["next"], body["previous"]

    first, following, previous = page(f"{world.enrollments}?page_size=3")
    assert (first, previous) == (keys[0:3], None)
    second, following2, previous2 = page(following or "")
    assert second == keys[3:6]
    third, following3, previous3 = page(following2 or "")
    assert (third, following3) == (keys[6:7], None)
    back, _next, _previous = page(previous3 or "")
    assert back == keys[3:6]
    start, _next, before = page(previous2 or "")
    assert (start, before) == (keys[0:3], None)
    assert all(_cursor_of(url) for url in (following, following2, previous2, previous3))
    row = staff_api.get(f"{world.enrollments}?page_size=1").json()["results"][0]
    assert row == {
        "student_key": "STU-1",
        "status": "enrolled",
        "account_exists": False,
        "curriculum_uuid": str(world.curriculum),
    }


def test_course_enrollment_list_shows_linked_accounts(world: World, staff_api: Any) -> None:
    enroll(staff_api, world, "STU-1", "STU-2")
    staff_api.post(
        world.course(),
        [
            {"student_key": "STU-1", "status": "active"},
            {"student_key": "STU-2", "status": "inactive"},
        ],
    )
    staff_api.post(world.url("/link"), {"STU-2": "bob"})
    body = staff_api.get(world.course()).json()
    assert body["next"] is None
    assert body["previous"] is None
    assert [(r["student_key"], r["status"], r["account_exists"]) for r in body["results"]] == [
        ("STU-1", "active", False),
        ("STU-2", "inactive", True),
    ]
    assert staff_api.get(world.course(C2)).json()["results"] == []


def test_bad_cursor_and_page_size_are_refused(world: World, staff_api: Any) -> None:
    assert_error(staff_api.get(f"{world.enrollments}?cursor=%25%25"), 422, "malformed_request")
    body = assert_error(staff_api.get(f"{world.enrollments}?page_size=0"), 422, "invalid")
    assert list(body["fields"]) == ["page_size"]


# ---------------------------------------------------------------- linking


def test_link_answers_the_errors_by_key(world: World, staff_api: Any) -> None:
    enroll(staff_api, world, "STU-1", "STU-2")
    response = staff_api.post(world.url("/link"), {"STU-1": "ann", "STU-2": "nobody", "X": "bob"})
    assert response.status_code == 200
    assert response.json() == {
        "errors": {
            "STU-2": "No user found with username nobody",
            "X": f"No program enrollment found for program uuid={world.program} and external "
            "student key=X",
        }
    }
    assert ProgramEnrollment.objects.get(external_user_key="STU-1").user_id is not None
    again = staff_api.post(world.url("/link"), {"STU-1": "ann"})
    assert again.json() == {
        "errors": {
            "STU-1": "Program enrollment with external_student_key=STU-1 is already linked to "
            "target account username=ann"
        }
    }
    assert staff_api.post(world.url("/link"), {}).json() == {"errors": {}}


def test_link_bodies_malformed_400_and_past_their_limit_413(world: World, staff_api: Any) -> None:
    for body in ([{"STU-1": "ann"}], {"STU-1": 5}, {"STU-1": ""}, {"": "ann"}):
        assert_error(staff_api.post(world.url("/link"), body), 400, "malformed_request")
    assert settings.PROGRAMS["LINK_MAX_RECORDS"] == 1000
    with override_settings(PROGRAMS={**settings.PROGRAMS, "LINK_MAX_RECORDS": 2}):
        body = {"A": "ann", "B": "bob", "C": "cy"}
        answer = assert_error(staff_api.post(world.url("/link"), body), 413, "too_many_records")
        assert answer["fields"] == {"limit": 2, "count": 3}
    # More than MAX_RECORDS is fine here.
    many = {f"K{n}": "nobody" for n in range(30)}
    assert len(staff_api.post(world.url("/link"), many).json()["errors"]) == 30


# ---------------------------------------------------------------- external ids


def test_putting_an_external_id_links_the_orgs_waiting_enrollments(
    world: World, staff_api: Any
) -> None:
    enroll(staff_api, world, "stu-77")
    staff_api.post(world.course(), [{"student_key": "stu-77", "status": "active"}])
    other, other_curriculum = put_program(staff_api, C2, org="OtherU")
    enroll(staff_api, World(other, other_curriculum), "STU-77")
    response = staff_api.put("users/ann/external-ids", {"UniX": "STU-77", "Legacy": "L-1"})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "external_ids": {"UniX": "STU-77", "Legacy": "L-1"},
        "linked_errors": {},
    }
    linked = dict(ProgramEnrollment.objects.values_list("program__uuid", "user_id"))
    assert linked == {world.program: people.get_user_ref("ann").id, other: None}
    assert enrollments.get_enrollment(C1, "ann").mode == "masters"
    assert staff_api.get("users/ann/external-ids").json() == {
        "external_ids": {"UniX": "STU-77", "Legacy": "L-1"}
    }
    removed = staff_api.put("users/ann/external-ids", {"Legacy": ""})
    assert removed.json() == {"external_ids": {"UniX": "STU-77"}, "linked_errors": {}}


def test_external_id_linking_errors_are_reported(world: World, staff_api: Any) -> None:
    enroll(staff_api, world, "STU-1", "STU-2")
    staff_api.post(world.url("/link"), {"STU-1": "ann"})
    response = staff_api.put("users/ann/external-ids", {"UniX": "STU-2"})
    assert response.status_code == 200
    (key,) = response.json()["linked_errors"]
    assert key == f"{world.program}:STU-2"
    assert response.json()["linked_errors"][key].startswith("UserAlreadyInProgramError: ")
    assert response.json()["external_ids"] == {"UniX": "STU-2"}


def test_external_ids_permissions(
    world: World, org_staff: Any, api_as: Callable[..., Any], staff_api: Any
) -> None:
    assert org_staff.put("users/ann/external-ids", {"UniX": "K1"}).status_code == 200
    for body in ({"UniX": "K1", "OtherU": "K2"}, {"OtherU": "K2"}, {}):
        assert_error(org_staff.put("users/ann/external-ids", body), 403, "forbidden")
    assert_error(org_staff.get("users/ann/external-ids"), 403, "forbidden")
    ann = api_as("ann")
    assert ann.get("users/ann/external-ids").json() == {"external_ids": {"UniX": "K1"}}
    assert_error(ann.put("users/ann/external-ids", {"UniX": "K9"}), 403, "forbidden")
    assert_error(staff_api.put("users/nobody/external-ids", {"UniX": "K"}), 404, "user_not_found")
    body = assert_error(staff_api.put("users/ann/external-ids", {"UniX": 5}), 422, "invalid")
    assert body["fields"] == {"UniX": "invalid"}
    assert_error(staff_api.put("users/ann/external-ids", ["UniX"]), 422, "invalid")
    body = assert_error(staff_api.put("users/ann/external-ids", {"Uni X": "K"}), 422, "invalid_org")
    assert body["fields"] == {"org": "Uni X"}
    taken = staff_api.put("users/bob/external-ids", {"UniX": "k1"})
    assert_error(taken, 409, "external_id_taken")


# ---------------------------------------------------------------- CSV uploads (jobs)


def upload(client: Any, path: str, content: str, name: str = "rows.csv") -> Any:
    return client.client.post(
        f"/api/v1/{path}",
        {"file": SimpleUploadedFile(name, content.encode(), content_type="text/csv")},
        headers={"Authorization": f"Bearer {client.token}"},
    )


def run(client: Any, response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.content
    job_id = response.json()["job_id"]
    jobs.run_job(job_id)  # on_commit never fires inside a test's transaction: run it here
    job = client.get(f"jobs/{job_id}")
    assert job.status_code == 200
    return dict(job.json())


def test_enroll_upload_runs_as_a_job_with_per_row_outcomes(world: World, org_staff: Any) -> None:
    enroll(org_staff, world, "STU-1")
    content = (
        "student_key,status,curriculum_uuid,ignored\n"
        f"STU-1,suspended,{world.curriculum},x\n"
        f"STU-2,enrolled,{world.curriculum},\n"
        f"STU-3,graduated,{world.curriculum},\n"
    )
    job = run(org_staff, upload(org_staff, world.url("/enrollments/upload"), content))
    assert job["kind"] == "programs.enroll"
    assert job["state"] == "succeeded"
    assert job["progress"] == 100
    assert job["counts"] == {"suspended": 1, "enrolled": 1, "errors": 1}
    assert [(e["record"], e["code"]) for e in job["errors"]] == [("STU-3", "invalid-status")]
    assert job["actor"] == "dean"
    statuses = dict(ProgramEnrollment.objects.values_list("external_user_key", "status"))
    assert statuses == {"STU-1": "suspended", "STU-2": "enrolled"}


def test_link_upload_runs_as_a_job(world: World, staff_api: Any) -> None:
    enroll(staff_api, world, "STU-1", "STU-2")
    content = "external_user_key,username\nSTU-1,ann\nSTU-2,nobody\n"
    job = run(staff_api, upload(staff_api, world.url("/link/upload"), content))
    assert job["kind"] == "programs.link"
    assert job["state"] == "succeeded"
    assert job["counts"] == {"linked": 1, "errors": 1}
    assert job["errors"] == [
        {
            "record": "STU-2",
            "code": "not_linked",
            "message": "No user found with username nobody",
        }
    ]


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("student_key,status\nA,enrolled\n", "1"),  # a column missing from the header
        ("student_key,status,curriculum_uuid\nA,enrolled,{c}\nB,,{c}\n", "3"),
        ("student_key,status,curriculum_uuid\nA,enrolled,{c}\nB,enrolled,nope\n", "3"),
    ],
)
def test_a_bad_csv_is_422_naming_the_line_and_nothing_runs(
    world: World, staff_api: Any, content: str, line: str
) -> None:
    response = upload(
        staff_api, world.url("/enrollments/upload"), content.format(c=world.curriculum)
    )
    body = assert_error(response, 422, "invalid_csv")
    assert body["fields"]["line"] == line
    assert f"line {line}" in body["message"] or line == "1"
    assert staff_api.get("jobs").json()["count"] == 0


def test_a_csv_that_is_not_utf8_is_422(world: World, staff_api: Any) -> None:
    response = staff_api.client.post(
        f"/api/v1/{world.url('/link/upload')}",
        {"file": SimpleUploadedFile("keys.csv", b"external_user_key,username\n\xff\xfe,x\n")},
        headers={"Authorization": f"Bearer {staff_api.token}"},
    )
    body = assert_error(response, 422, "invalid_csv")
    assert "keys.csv" in body["message"]


def test_uploads_are_refused_to_other_orgs_staff(world: World, other_org_staff: Any) -> None:
    content = "external_user_key,username\nSTU-1,ann\n"
    assert_error(upload(other_org_staff, world.url("/link/upload"), content), 403, "forbidden")


@pytest.mark.django_db(transaction=True)
def test_an_upload_runs_on_the_embedded_runner(staff_api: Any) -> None:
    Make.course(C1, modes=MODES, default_mode="audit")
    program, curriculum = put_program(staff_api, C1)
    content = "student_key,status,curriculum_uuid\n" + "".join(
        f"K{n},enrolled,{curriculum}\n" for n in range(40)
    )
    response = upload(staff_api, f"programs/{program}/enrollments/upload", content)
    assert response.status_code == 202, response.content
    assert jobs.wait_for_embedded_jobs(timeout=30)
    job = staff_api.get(f"jobs/{response.json()['job_id']}").json()
    assert job["state"] == "succeeded", job
    assert job["counts"] == {"enrolled": 40}
    assert ProgramEnrollment.objects.count() == 40


def test_the_job_params_keep_the_rows(world: World, staff_api: Any) -> None:
    content = f"student_key,status,curriculum_uuid\nA,enrolled,{world.curriculum}\n"
    response = upload(staff_api, world.url("/enrollments/upload"), content)
    job = jobs.get_job(response.json()["job_id"])
    assert job.params == {
        "program_uuid": str(world.program),
        "rows": [
            {"student_key": "A", "status": "enrolled", "curriculum_uuid": str(world.curriculum)}
        ],
    }
    assert job.state == "queued"  # dispatched only once the request's transaction commits
