"""OneRoster 1.2 CSV zips through the SIS pipeline: bulk and delta, drops and their threshold,
dry runs, idempotence, and every kind of bad zip failing before anything is written."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from rollbook.audit.data import Actor
from rollbook.audit.models import AuditEvent
from rollbook.catalog import api as catalog
from rollbook.enrollments import api as enrollments
from rollbook.jobs import api as jobs
from rollbook.lib.pagination import PageRequest
from rollbook.people import api as people
from rollbook.roles import api as roles
from rollbook.sis_import import api as sis
from rollbook.sis_import.models import StagedGroup, StagedMembership, StagedPerson
from tests.oneroster.csvzips import build, table
from tests.oneroster.csvzips import import_feed as run

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
COURSE = "course-v1:SIS+ALG1+T1"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path) -> Iterator[Path]:
    with override_settings(DATA_DIR=tmp_path):
        yield tmp_path


def student(n: int, **extra: str) -> dict[str, str]:
    return {
        "sourcedId": f"u{n}",
        "enabledUser": "true",
        "username": f"Stu{n}",
        "givenName": "Stu",
        "familyName": f"Dent{n}",
        "email": f"stu{n}@example.edu",
        **extra,
    }


def enrollment(user: str, role: str = "student", cls: str = "K1", **extra: str) -> dict[str, str]:
    return {
        "sourcedId": f"e-{cls}-{user}-{role}",
        "classSourcedId": cls,
        "schoolSourcedId": "S1",
        "userSourcedId": user,
        "role": role,
        **extra,
    }


STAFF = [
    {
        "sourcedId": "t1",
        "enabledUser": "true",
        "username": "tina",
        "givenName": "Tina",
        "familyName": "Teach",
        "identifier": "T-100",
        "userIds": "{SIS:900100},{LDAP:tt}",
    },
    {
        "sourcedId": "t2",
        "enabledUser": "true",
        "username": "tom",
        "givenName": "Tom",
        "familyName": "Two",
    },
    {
        "sourcedId": "a1",
        "enabledUser": "true",
        "username": "ada",
        "givenName": "Ada",
        "familyName": "Aide",
    },
]


def roster(students: range = range(1, 11), **overrides: str) -> dict[str, str]:
    files = {
        "academicSessions": table(
            "academicSessions",
            {
                "sourcedId": "T1",
                "title": "Fall",
                "type": "term",
                "startDate": "2026-09-01",
                "endDate": "2026-12-20",
                "schoolYear": "2027",
            },
        ),
        "orgs": table("orgs", {"sourcedId": "S1", "name": "North High", "type": "school"}),
        "courses": table("courses", {"sourcedId": "C1", "title": "Algebra", "orgSourcedId": "S1"}),
        "classes": table(
            "classes",
            {
                "sourcedId": "K1",
                "title": "Algebra 1",
                "courseSourcedId": "C1",
                "classCode": "ALG1",
                "classType": "scheduled",
                "schoolSourcedId": "S1",
                "termSourcedIds": "T1",
            },
        ),
        "users": table("users", *[student(n) for n in students], *STAFF),
        "enrollments": table(
            "enrollments",
            *[enrollment(f"u{n}") for n in students],
            enrollment("t1", "teacher", primary="true"),
            enrollment("t2", "teacher", primary="false"),
            enrollment("a1", "aide"),
        ),
    }
    files.update(overrides)
    return files


def enrolled(username: str, course: str = COURSE) -> bool:
    try:
        return enrollments.get_enrollment(course, username).is_active
    except Exception:
        return False


def grants() -> set[tuple[str, str]]:
    page = roles.list_context_grants(COURSE, page=PageRequest(page_size=100))
    return {(grant.username, grant.role) for grant in page.items}


def counts() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "persons": StagedPerson.objects.count(),
        "groups": StagedGroup.objects.count(),
        "memberships": StagedMembership.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


# -- bulk ----------------------------------------------------------------------------------


def test_a_bulk_zip_makes_users_a_course_run_enrollments_and_roles() -> None:
    job = run(build(roster()))
    assert job.state == "succeeded", job.message
    assert job.result["summary"]["format"] == "oneroster_csv"
    tina = people.get_user("tina")
    assert (tina.name, tina.idnumber, tina.sis_sourcedid) == ("Tina Teach", "T-100", "900100")
    stu = people.get_user("stu1")  # the username column, lower-cased
    assert (stu.email, stu.sis_sourcedid, stu.is_active) == ("stu1@example.edu", "u1", True)
    course = catalog.get_course(COURSE)
    assert (course.title, course.sis_id) == ("Algebra 1", "ALG1")
    assert course.start is not None
    assert course.start.date().isoformat() == "2026-09-01"  # the term's dates
    assert all(enrolled(f"stu{n}") for n in range(1, 11))
    assert enrollments.get_enrollment(COURSE, "stu1").sources == ("sis:K1/student",)
    assert grants() == {("tina", "instructor"), ("tom", "staff"), ("ada", "staff")}
    assert StagedGroup.objects.get(sourcedid="K1").term == "T1"


def test_the_oneroster_role_map_is_configurable() -> None:
    from django.conf import settings

    with override_settings(
        SIS={**settings.SIS, "ONEROSTER_ROLE_MAP": "student:learner,teacher:staff"}
    ):
        job = run(build(roster()))
    assert job.state == "succeeded"
    assert {role for _user, role in grants()} == {"staff"}
    skipped = StagedMembership.objects.get(person_sourcedid="a1")
    assert (skipped.state, skipped.reason) == ("skipped", "roletype aide is unmapped")


def test_a_zip_is_known_by_its_content_not_its_name() -> None:
    job = run(build(roster()), name="roster.xml")
    assert job.state == "succeeded", job.message
    assert enrolled("stu1")


def test_importing_the_same_zip_again_writes_nothing() -> None:
    data = build(roster())
    assert run(data).state == "succeeded"
    before = counts()
    with CaptureQueriesContext(connection) as queries:
        again = run(data, force=True)
    assert again.state == "succeeded", again.message
    summary = again.result["summary"]
    assert summary["changes"] == 0
    assert all(kind["created"] == kind["updated"] == 0 for kind in summary["staged"].values())
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}
        and not any(t in q["sql"] for t in ("jobs_job", "sis_import_feed", "audit_auditevent"))
    ]
    assert writes == []
    # The only audit rows are the job's own.
    assert (
        not AuditEvent.objects.filter(source=f"job:{again.uuid}")
        .exclude(subject=f"job:{again.uuid}")
        .exists()
    )
    assert {k: v for k, v in counts().items() if k != "audit"} == {
        k: v for k, v in before.items() if k != "audit"
    }


def test_bulk_enrollments_drop_what_is_missing_under_the_threshold() -> None:
    assert run(build(roster(range(1, 21)))).state == "succeeded"  # 20 learners
    job = run(build(roster(range(1, 20))))  # one missing: 5%
    assert job.state == "succeeded", job.message
    assert not enrolled("stu20")
    assert enrolled("stu19")


def test_bulk_drops_over_the_threshold_are_held_until_approved() -> None:
    assert run(build(roster(range(1, 11)))).state == "succeeded"
    job = run(build(roster(range(1, 6))))  # 5 of 10 learners missing
    assert job.state == "held", job.message
    assert "T1" in job.message
    assert all(enrolled(f"stu{n}") for n in range(1, 11))  # nothing dropped yet
    assert len(job.result["held"]["T1"]["drops"]) == 5
    assert job.result["held"]["users.csv"]["gone"] == ["u10", "u6", "u7", "u8", "u9"]
    assert people.get_user("stu6").is_active
    sis.approve_import(str(job.uuid), actor=ACTOR)
    assert jobs.run_job(job.uuid).state == "succeeded"
    assert not any(enrolled(f"stu{n}") for n in range(6, 11))
    assert all(enrolled(f"stu{n}") for n in range(1, 6))
    assert not people.get_user("stu6").is_active  # users.csv was bulk too


def test_bulk_users_and_classes_drop_what_is_missing() -> None:
    from django.conf import settings

    second = {
        "sourcedId": "K2", "title": "Geometry", "courseSourcedId": "C1", "classCode": "GEO",
        "classType": "scheduled", "schoolSourcedId": "S1", "termSourcedIds": "T1",
    }  # fmt: skip
    first = roster(range(1, 11))
    first["classes"] += table("classes", second).split("\r\n", 1)[1]
    first["enrollments"] += table("enrollments", enrollment("u1", cls="K2")).split("\r\n", 1)[1]
    assert run(build(first)).state == "succeeded"
    geometry = "course-v1:SIS+GEO+T1"
    assert enrolled("stu1", geometry)
    with override_settings(SIS={**settings.SIS, "DROP_THRESHOLD": 0.6}):
        job = run(build(roster(range(1, 10))))  # no K2, no u10
    assert job.state == "succeeded", job.message
    assert not people.get_user("stu10").is_active  # ROLLBOOK_SIS_PERSON_DELETE=deactivate
    assert people.get_user("stu9").is_active
    assert catalog.get_course(geometry).enrollment_open is False  # the class is closed
    assert not enrolled("stu1", geometry)  # and its memberships ended with the enrollments file
    assert catalog.get_course(COURSE).enrollment_open is True


def test_a_dry_run_writes_nothing_and_previews_the_drops(data_dir: Path) -> None:
    assert run(build(roster(range(1, 11)))).state == "succeeded"
    before = {k: v for k, v in counts().items() if k != "audit"}
    users = table("users", student(1, givenName="Sue"), *[student(n) for n in range(2, 11)], *STAFF)
    changed = roster(range(1, 10), users=users)
    job = run(build(changed), dry_run=True)
    assert job.state == "succeeded", job.message
    assert {k: v for k, v in counts().items() if k != "audit"} == before
    assert (
        not AuditEvent.objects.filter(source=f"job:{job.uuid}")
        .exclude(subject=f"job:{job.uuid}")
        .exists()
    )
    assert enrolled("stu10")
    assert people.get_user("stu1").name == "Stu Dent1"
    preview = (data_dir / "sis" / "reports" / f"{job.uuid}.preview.csv").read_text()
    assert f"enrollment,drop,{COURSE}:stu10" in preview


# -- delta ---------------------------------------------------------------------------------


def test_a_delta_updates_adds_and_deletes_by_status() -> None:
    assert run(build(roster(range(1, 6)))).state == "succeeded"
    stamp = {"status": "active", "dateLastModified": "2026-10-01T08:00:00.000Z"}
    gone = {"status": "tobedeleted", "dateLastModified": "2026-10-01T08:00:00.000Z"}
    delta = build(
        {
            "users": table(
                "users",
                {**student(1, givenName="Sue"), **stamp},
                {**student(6), **stamp},
                {**student(5), **gone},
            ),
            "enrollments": table(
                "enrollments",
                {**enrollment("u6"), **stamp},
                {**enrollment("u2"), **gone},
                {**enrollment("t2", "teacher", primary="false"), **gone},
            ),
        },
        mode="delta",
    )
    job = run(delta)
    assert job.state == "succeeded", job.message
    assert people.get_user("stu1").name == "Sue Dent1"
    assert enrolled("stu6")  # the class is known from the earlier import
    assert not enrolled("stu2")
    assert enrolled("stu3")  # a delta drops nothing it does not name
    assert people.get_user("stu5").is_active is False  # tobedeleted: deactivated
    assert {user for user, _role in grants()} == {"tina", "ada"}


def test_a_delta_row_needs_its_status_and_time() -> None:
    job = run(build({"users": table("users", student(1))}, mode="delta"))
    assert job.state == "failed"
    assert "users.csv" in job.message
    assert "line 2, column 2" in job.message
    assert counts()["users"] == 0


def test_enabled_user_false_makes_an_inactive_account() -> None:
    users = table("users", student(1, enabledUser="false"))
    assert run(build({"users": users})).state == "succeeded"
    assert people.get_user("stu1").is_active is False


# -- bad zips ------------------------------------------------------------------------------


def _zip(members: dict[str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _bad_header() -> bytes:
    files = roster()
    files["users"] = files["users"].replace("givenName,familyName", "familyName,givenName", 1)
    return build(files)


def _unknown_user() -> bytes:
    return build(roster(enrollments=table("enrollments", enrollment("u1"), enrollment("nobody"))))


BAD = {
    "not_a_zip": (b"PK\x03\x04 this is no zip", "not_a_zip", ""),
    "unsafe_name": (
        _zip({"manifest.csv": "propertyName,value\n", "../users.csv": "x"}),
        "unsafe_zip",
        "../users.csv",
    ),
    "too_many_members": (
        _zip({f"f{i}.csv": "x" for i in range(70)}),
        "unsafe_zip",
        "70 members",
    ),
    "no_manifest": (_zip({"users.csv": table("users", student(1))}), "no_manifest", "manifest"),
    "wrong_version": (
        _zip({"manifest.csv": "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\n"}),
        "bad_manifest",
        "oneroster.version",
    ),
    "named_file_missing": (
        _zip(
            {
                "manifest.csv": "propertyName,value\nmanifest.version,1.0\n"
                "oneroster.version,1.2\nfile.orgs,bulk\n"
            }
        ),
        "bad_manifest",
        "orgs.csv",
    ),
    "wrong_header": (_bad_header(), "bad_header", "users.csv at line 1, column 7"),
    "bad_value": (
        build(roster(users=table("users", student(1), student(2, enabledUser="yes")))),
        "bad_row",
        "users.csv at line 3, column 4",
    ),
    "bad_date": (
        build(roster(enrollments=table("enrollments", enrollment("u1", beginDate="01/02/2026")))),
        "bad_row",
        "enrollments.csv at line 2, column 9",
    ),
    "ragged_row": (
        build(
            roster(
                orgs="sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId"
                "\r\nS1,,,North,school\r\n"
            )
        ),
        "bad_row",
        "orgs.csv at line 2",
    ),
    "unknown_reference": (_unknown_user(), "unknown_reference", "enrollments.csv at line 3"),
    "not_utf8": (
        _zip(
            {
                "manifest.csv": "propertyName,value\nmanifest.version,1.0\n"
                "oneroster.version,1.2\nfile.users,bulk\n",
                "users.csv": table("users", student(1)).encode().replace(b"Dent1", b"D\xff"),
            }
        ),
        "encoding",
        "users.csv",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_zip_fails_before_anything_is_written(case: str) -> None:
    data, code, where = BAD[case]
    job = run(data)
    assert job.state == "failed"
    assert job.message.startswith(f"ImportFailed: {code}"), job.message
    assert where in job.message, job.message
    assert {k: v for k, v in counts().items() if k != "audit"} == dict.fromkeys(
        ("users", "persons", "groups", "memberships"), 0
    )
    assert set(AuditEvent.objects.values_list("subject", flat=True)) == {f"job:{job.uuid}"}


def test_a_zip_that_unpacks_past_the_limit_is_refused() -> None:
    from django.conf import settings

    data = build(roster())
    with override_settings(SIS={**settings.SIS, "ZIP_MAX_UNZIPPED_BYTES": 2000}):
        job = run(data)
    assert job.state == "failed"
    assert job.message.startswith("ImportFailed: too_large"), job.message
    assert counts()["users"] == 0


def test_a_zip_bomb_is_stopped_while_reading_whatever_its_directory_says() -> None:
    """A member whose directory entry claims a small size is cut off at the limit."""
    from rollbook.lib import onerostercsv as spec

    big = table("users") + ("u1,,,true,stu1,,Stu,Dent,,,,,,,,,,,,,,,\r\n" * 50_000)
    data = _zip({"manifest.csv": "propertyName,value\n", "users.csv": big})
    archive = spec.CsvZip(io.BytesIO(data), limits=spec.ZipLimits(max_unzipped_bytes=10**9))
    archive._budget[0] = 10_000  # as if the directory had lied about the size
    with pytest.raises(spec.CsvZipError) as caught:
        list(archive.rows(spec.USERS))
    assert caught.value.problem is spec.ZipProblem.TOO_LARGE
    assert caught.value.member == "users.csv"


# -- the REST upload -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_upload_endpoint_takes_a_zip(staff_api: Any) -> None:
    upload = SimpleUploadedFile("roster.zip", build(roster()), content_type="application/zip")
    response = staff_api.client.post(
        "/api/v1/sis/imports",
        {"file": upload, "dry_run": "false"},
        headers={"Authorization": f"Bearer {staff_api.token}"},
    )
    assert response.status_code == 202, response.content
    assert jobs.wait_for_embedded_jobs(timeout=60)
    body = staff_api.get(f"jobs/{response.json()['job_id']}").json()
    assert body["state"] == "succeeded", body
    assert body["counts"]["person.created"] == 13
