"""The import pipeline end to end on small hand-written Banner feeds: stage, apply, report."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from rollbook.audit.data import Actor
from rollbook.audit.models import AuditEvent
from rollbook.catalog import api as catalog
from rollbook.enrollments import api as enrollments
from rollbook.jobs import api as jobs
from rollbook.jobs.data import JobData
from rollbook.lib.pagination import PageRequest
from rollbook.people import api as people
from rollbook.roles import api as roles
from rollbook.sis_import import api as sis
from rollbook.sis_import.models import StagedMembership, StagedPerson
from tests.factories import Make

ACTOR = Actor.system("test")
TERM = "201740"
SECTION = f"10001.{TERM}"
COURSE = f"course-v1:SIS+10001+{TERM}"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path) -> Iterator[Path]:
    with override_settings(DATA_DIR=tmp_path):
        yield tmp_path


def person(
    sourcedid: str,
    *,
    email: str = "",
    logon: str = "",
    sctid: str = "",
    emailid: str = "",
    given: str = "Ann",
    family: str = "Lee",
    recstatus: int | None = None,
) -> str:
    status = f' recstatus="{recstatus}"' if recstatus else ""
    ids = ""
    if logon:
        ids += f'<userid useridtype="Logon ID" password="s3cret!">{logon}</userid>'
    if sctid:
        ids += f'<userid useridtype="SCTID">{sctid}</userid>'
    if emailid:
        ids += f'<userid useridtype="Email ID">{emailid}</userid>'
    mail = f"<email>{email}</email>" if email else ""
    return (
        f"<person{status}><sourcedid><source>Banner</source><id>{sourcedid}</id></sourcedid>"
        f"{ids}<name><fn>{given} {family}</fn><n><family>{family}</family>"
        f"<given>{given}</given></n></name>{mail}</person>"
    )


def section(
    sourcedid: str = SECTION,
    *,
    long: str = "ENG-101-001",
    full: str = "Introduction to Writing",
    recstatus: int | None = None,
    begin: str = "2017-08-28",
    end: str = "2017-12-15",
) -> str:
    status = f' recstatus="{recstatus}"' if recstatus else ""
    term = sourcedid.split(".")[1]
    return (
        f"<group{status}><sourcedid><source>Banner</source><id>{sourcedid}</id></sourcedid>"
        '<grouptype><scheme>Luminis</scheme><typevalue level="1">CourseSection</typevalue>'
        f"</grouptype><description><short>{sourcedid.split('.')[0]}</short><long>{long}</long>"
        f"<full>{full}</full></description><org><orgunit>English</orgunit></org>"
        f'<timeframe><begin restrict="0">{begin}</begin><end restrict="1">{end}</end></timeframe>'
        f'<relationship relation="1"><sourcedid><source>Banner</source><id>{term}</id>'
        "</sourcedid><label>Term</label></relationship></group>"
    )


def member(
    sourcedid: str,
    roletype: str = "01",
    *,
    status: int = 1,
    recstatus: int | None = None,
    as_element: bool = False,
) -> str:
    rec = f' recstatus="{recstatus}"' if recstatus else ""
    if as_element:
        role = f"<role{rec}><roletype>{roletype}</roletype><status>{status}</status></role>"
    else:
        role = f'<role roletype="{roletype}"{rec}><status>{status}</status></role>'
    return (
        f"<member><sourcedid><source>Banner</source><id>{sourcedid}</id></sourcedid>"
        f"<idtype>1</idtype>{role}</member>"
    )


def membership(*members: str, group: str = SECTION) -> str:
    return (
        f"<membership><sourcedid><source>Banner</source><id>{group}</id></sourcedid>"
        f"{''.join(members)}</membership>"
    )


def feed(*parts: str, root: bool = True) -> bytes:
    body = "\n".join(parts)
    if root:
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<enterprise>\n{body}\n</enterprise>\n'
    return body.encode()


def run(data: bytes, **options: Any) -> JobData:
    started = sis.start_import(
        io.BytesIO(data),
        filename="feed.xml",
        actor=ACTOR,
        options=sis.ImportOptions(**options),
        foreground=True,
    )
    assert started.job is not None, f"already imported as {started.already_imported_as}"
    return jobs.run_job(started.job.uuid)


def enrolled(username: str, course: str = COURSE) -> tuple[bool, tuple[str, ...]]:
    enrollment = enrollments.get_enrollment(course, username)
    return enrollment.is_active, enrollment.sources


BASIC = feed(
    person("P1", email="Ann.Lee@Example.edu", logon="alee", sctid="900001"),
    section(),
    membership(member("P1")),
)


def test_a_feed_creates_users_courses_and_enrollments() -> None:
    job = run(BASIC)
    assert job.state == "succeeded", job.message
    user = people.get_user("ann.lee")
    assert (user.email, user.name, user.idnumber, user.sis_sourcedid) == (
        "Ann.Lee@Example.edu",
        "Ann Lee",
        "900001",
        "P1",
    )
    course = catalog.get_course(COURSE)
    assert course.sis_id == SECTION
    assert course.title == "Introduction to Writing"
    assert course.modes == ("audit", "verified", "honor")
    assert course.default_mode == "audit"
    assert course.start is not None
    assert course.start.date().isoformat() == "2017-08-28"
    assert enrolled("ann.lee") == (True, (f"sis:{SECTION}/01",))
    assert catalog.list_courses(page=PageRequest(), sis_id=SECTION).count == 1


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("email_local", "ann.lee"),
        ("email", "ann.lee@example.edu"),
        ("logon_id", "alee"),
        ("sctid", "900001"),
        ("email_id", "ann.l"),
    ],
)
def test_each_username_source_lower_cased(source: str, expected: str) -> None:
    data = feed(
        person("P1", email="Ann.Lee@Example.edu", logon="ALee", sctid="900001", emailid="Ann.L")
    )
    with override_settings(SIS=_sis(USERNAME_SOURCE=source)):
        assert run(data).state == "succeeded"
    assert people.get_user_ref(expected).username == expected


def test_the_sourcedid_is_the_fallback_username() -> None:
    assert run(feed(person("P77"))).state == "succeeded"
    assert people.get_user_ref("p77").username == "p77"


def _sis(**changes: Any) -> dict[str, Any]:
    from django.conf import settings

    return {**settings.SIS, **changes}


def test_passwords_are_never_stored_or_logged() -> None:
    run(BASIC)
    assert "s3cret" not in str(list(StagedPerson.objects.values_list("data", flat=True)))
    assert not AuditEvent.objects.filter(after__icontains="s3cret").exists()
    from rollbook.people.models import User

    assert not User.objects.get(username="ann.lee").has_usable_password()


def test_missing_recstatus_is_add_and_recstatus_2_updates_names_and_email() -> None:
    run(BASIC)
    update = feed(
        person("P1", email="ann@new.example.edu", given="Annie", family="Lee", recstatus=2)
    )
    assert run(update).state == "succeeded"
    user = people.get_user("ann.lee")  # the username stays
    assert (user.name, user.email) == ("Annie Lee", "ann@new.example.edu")


def test_recstatus_3_deactivates_a_person_by_default() -> None:
    run(BASIC)
    assert run(feed(person("P1", email="Ann.Lee@Example.edu", recstatus=3))).state == "succeeded"
    assert not people.get_user("ann.lee").is_active


def test_recstatus_3_closes_a_section_and_keeps_its_enrollments() -> None:
    run(BASIC)
    assert run(feed(section(recstatus=3))).state == "succeeded"
    assert not catalog.get_course(COURSE).enrollment_open
    assert enrolled("ann.lee")[0]


def test_recstatus_3_ends_a_membership() -> None:
    run(BASIC)
    run(feed(membership(member("P1", recstatus=3))))
    assert enrolled("ann.lee") == (False, ())


def test_status_0_deactivates_the_enrollment_and_removes_the_role() -> None:
    run(
        feed(
            person("P1", email="ann@example.edu"),
            person("P2", email="ted@example.edu"),
            section(),
            membership(member("P1"), member("P2", "02")),
        )
    )
    ted = people.get_user_ref("ted")
    assert roles.check_role(ted, "instructor", course_key=COURSE)
    run(feed(membership(member("P1", status=0), member("P2", "02", status=0))))
    assert enrolled("ann") == (False, ())
    assert not roles.check_role(ted, "instructor", course_key=COURSE)


def test_roletype_as_attribute_and_as_element_and_the_default_role_map() -> None:
    run(
        feed(
            *[person(f"P{i}", email=f"u{i}@example.edu") for i in range(1, 7)],
            section(),
            membership(
                member("P1", "01"),
                member("P2", "02", as_element=True),
                member("P3", "03"),
                member("P4", "08", as_element=True),
                member("P5", "04"),
                member("P6", "06"),
            ),
        )
    )
    assert enrolled("u1")[0]
    assert enrolled("u5")[0]
    checks = {
        "u2": "instructor",
        "u3": "staff",
        "u4": "limited_staff",
    }
    for username, role in checks.items():
        ref = people.get_user_ref(username)
        assert roles.check_role(ref, role, course_key=COURSE, strict=True), username
    skipped = StagedMembership.objects.get(person_sourcedid="P6")
    assert skipped.state == "skipped"
    assert "06" in skipped.reason


def test_a_membership_before_its_person_waits_then_applies() -> None:
    first = run(feed(section(), membership(member("P9"))))
    assert first.state == "succeeded"
    waiting = StagedMembership.objects.get(person_sourcedid="P9")
    assert waiting.state == "pending"
    assert "P9" in waiting.reason
    run(feed(person("P9", email="late@example.edu")))
    assert enrolled("late") == (True, (f"sis:{SECTION}/01",))


def test_a_four_digit_crn() -> None:
    run(
        feed(
            person("P1", email="a@example.edu"),
            section("1234.201740"),
            membership(member("P1"), group="1234.201740"),
        )
    )
    assert catalog.get_course("course-v1:SIS+1234+201740").sis_id == "1234.201740"
    assert enrolled("a", "course-v1:SIS+1234+201740")[0]


def test_a_file_without_a_root_element_and_without_line_breaks() -> None:
    data = (person("P1", email="a@example.edu") + section() + membership(member("P1"))).encode()
    assert b"\n" not in data
    assert run(data).state == "succeeded"
    assert enrolled("a")[0]


def test_a_second_identical_run_writes_nothing() -> None:
    run(BASIC)
    with CaptureQueriesContext(connection) as queries:
        again = run(BASIC, force=True)
    assert again.state == "succeeded"
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}
        and "jobs_job" not in q["sql"]
        and "sis_import_feed" not in q["sql"]
        and "audit_auditevent" not in q["sql"]
    ]
    assert writes == []
    # The only audit rows are the job's own.
    assert (
        not AuditEvent.objects.filter(source=f"job:{again.uuid}")
        .exclude(subject=f"job:{again.uuid}")
        .exists()
    )


def test_the_same_file_is_recognised() -> None:
    first = run(BASIC)
    again = sis.start_import(io.BytesIO(BASIC), filename="feed.xml", actor=ACTOR, foreground=True)
    assert again.job is None
    assert again.already_imported_as == str(first.uuid)


def test_a_manual_enrollment_survives_an_sis_drop() -> None:
    run(BASIC)
    enrollments.put_enrollment(COURSE, "ann.lee", actor=ACTOR, is_active=True)  # by hand too
    run(feed(membership(member("P1", status=0))))
    assert enrolled("ann.lee") == (True, ("manual",))


def _term_feed(people_in: range, *, extra: str = "") -> bytes:
    return feed(
        *[person(f"P{i}", email=f"u{i}@example.edu") for i in people_in],
        section(),
        membership(*[member(f"P{i}") for i in people_in]),
        extra,
    )


def test_comprehensive_drops_what_is_missing_under_the_threshold() -> None:
    run(_term_feed(range(1, 21)))  # 20 learners
    job = run(_term_feed(range(1, 20)), comprehensive=True)  # one missing: 5%
    assert job.state == "succeeded", job.message
    assert enrolled("u20") == (False, ())
    assert enrolled("u1")[0]


def test_comprehensive_over_the_threshold_holds_then_approve_or_discard() -> None:
    run(_term_feed(range(1, 21)))
    job = run(_term_feed(range(1, 16)), comprehensive=True)  # 5 of 20 missing: 25%
    assert job.state == "held"
    assert TERM in job.message
    assert all(enrolled(f"u{i}")[0] for i in range(16, 21))  # nothing dropped yet
    held_drops = job.result["held"][TERM]["drops"]
    assert len(held_drops) == 5
    sis.approve_import(str(job.uuid), actor=ACTOR)
    done = jobs.run_job(job.uuid)
    assert done.state == "succeeded"
    assert not any(enrolled(f"u{i}")[0] for i in range(16, 21))
    assert all(enrolled(f"u{i}")[0] for i in range(1, 16))


def test_discarding_held_drops_drops_nothing() -> None:
    run(_term_feed(range(1, 21)))
    job = run(_term_feed(range(1, 16)), comprehensive=True)
    assert sis.discard_import(str(job.uuid), actor=ACTOR).state == "cancelled"
    assert all(enrolled(f"u{i}")[0] for i in range(1, 21))


def test_a_dry_run_writes_nothing_and_reports() -> None:
    run(BASIC)
    before = _domain_snapshot()
    job = run(
        feed(
            person("P2", email="new@example.edu"),
            membership(member("P1", status=0), member("P2")),
        ),
        dry_run=True,
    )
    assert job.state == "succeeded", job.message
    assert _domain_snapshot() == before
    assert job.counts["membership.dropped"] == 1
    assert job.counts["person.created"] == 1
    preview = sis.preview_csv_path(job.uuid).read_text()
    assert "enrollment,drop" in preview


def _domain_snapshot() -> dict[str, Any]:
    from rollbook.enrollments.models import CourseEnrollment
    from rollbook.people.models import User
    from rollbook.sis_import.models import StagedGroup

    return {
        "users": list(User.objects.values_list("username", "is_active", "email").order_by("id")),
        "enrollments": list(
            CourseEnrollment.objects.values_list("user_id", "is_active", "sources").order_by("id")
        ),
        "staged": list(StagedMembership.objects.values_list("digest", "state").order_by("id")),
        "persons": list(StagedPerson.objects.values_list("digest", "state").order_by("id")),
        "groups": list(StagedGroup.objects.values_list("digest", "state").order_by("id")),
    }


def test_a_preview_applies_exactly_and_a_stale_one_is_refused() -> None:
    run(BASIC)
    change = feed(membership(member("P1", status=0)))
    preview = run(change, dry_run=True)
    committed = run(change, commit_preview=str(preview.uuid))
    assert committed.state == "succeeded", committed.message
    assert enrolled("ann.lee") == (False, ())

    enrollments.put_enrollment(COURSE, "ann.lee", actor=ACTOR, is_active=True)
    again = feed(membership(member("P1", status=1)), person("P5", email="e@example.edu"))
    stale_preview = run(again, dry_run=True)
    Make.user("e")  # the account the preview planned to create now exists
    refused = run(again, commit_preview=str(stale_preview.uuid))
    assert refused.state == "failed"
    assert "stale" in refused.message
    assert "person" in refused.message


def test_hostile_xml_is_refused_and_applies_nothing() -> None:
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE enterprise [<!ENTITY x "boom">]>'
        b"<enterprise><person><sourcedid><id>&x;</id></sourcedid></person></enterprise>"
    )
    job = run(hostile)
    assert job.state == "failed"
    assert "hostile_xml" in job.message
    assert not StagedPerson.objects.exists()


def test_malformed_xml_fails_with_line_and_column_and_applies_nothing() -> None:
    data = feed(person("P1", email="a@example.edu"), "<group><sourcedid>")
    job = run(data)
    assert job.state == "failed"
    assert "malformed_xml" in job.message
    assert "line" in job.message
    assert not StagedPerson.objects.exists()


def test_a_record_missing_a_required_field_is_reported_and_the_rest_goes_on() -> None:
    data = feed(
        "<person><name><fn>No Id</fn></name></person>",
        person("P1", email="a@example.edu"),
    )
    job = run(data)
    assert job.state == "succeeded"
    assert people.get_user_ref("a")
    assert job.errors[0]["code"] == "missing_field"
    csv_text = sis.errors_csv_path(job.uuid).read_text()
    assert "missing_field" in csv_text
    assert "feed.xml" in csv_text


def test_an_identity_collision_is_held_with_both_sides() -> None:
    run(feed(person("P1", email="ann@example.edu")))
    job = run(feed(person("P2", email="ann@example.edu")))  # same username and email
    assert job.state == "succeeded"
    held = StagedPerson.objects.get(sourcedid="P2")
    assert held.state == "held"
    assert "P1" in held.reason
    assert "P2" in held.reason
    assert held.user_id is None


def test_an_existing_account_is_adopted_by_username() -> None:
    Make.user("ann", email="old@example.edu")
    run(feed(person("P1", email="ann@example.edu")))
    assert StagedPerson.objects.get(sourcedid="P1").user_id == people.get_user_ref("ann").id


def test_a_term_filter_keeps_records_staged_and_reapply_applies_them() -> None:
    with override_settings(SIS=_sis(TERM_DENY="2017*")):
        run(BASIC)
    assert not catalog.courses_by_key([COURSE])
    assert StagedMembership.objects.get().state == "filtered"
    sis.reapply(actor=ACTOR)
    assert enrolled("ann.lee")[0]


def test_comprehensive_leaves_a_section_with_an_unreadable_member_alone() -> None:
    run(_term_feed(range(1, 21)))
    bad_member = "<member><sourcedid><id>P20</id></sourcedid><role roletype='01'/></member>"
    data = feed(
        *[person(f"P{i}", email=f"u{i}@example.edu") for i in range(1, 20)],
        section(),
        membership(*[member(f"P{i}") for i in range(1, 20)], bad_member),
    )
    job = run(data, comprehensive=True)
    assert job.state == "succeeded", job.message
    assert enrolled("u20")[0]  # its member could not be read: not taken as removed


def test_dates_always_update_but_a_title_edited_by_hand_stays() -> None:
    run(BASIC)
    catalog.put_course(COURSE, actor=ACTOR, title="Writing I (honors)")  # edited by hand
    run(feed(section(full="Intro to Writing", begin="2017-08-30", recstatus=2)))
    course = catalog.get_course(COURSE)
    assert course.title == "Writing I (honors)"
    assert course.start is not None
    assert course.start.date().isoformat() == "2017-08-30"
    with override_settings(SIS=_sis(FORCE_NAMES=True)):
        run(feed(section(full="Intro to Writing, again", recstatus=2)))
    assert catalog.get_course(COURSE).title == "Intro to Writing, again"


def test_a_title_nobody_edited_follows_the_feed() -> None:
    run(BASIC)
    run(feed(section(full="Writing Fundamentals", recstatus=2)))
    assert catalog.get_course(COURSE).title == "Writing Fundamentals"


def test_recstatus_3_person_with_unenroll_ends_their_sis_enrollments_only() -> None:
    run(BASIC)
    with override_settings(SIS=_sis(PERSON_DELETE="unenroll")):
        job = run(feed(person("P1", email="Ann.Lee@Example.edu", recstatus=3)))
    assert job.state == "succeeded", job.message
    assert enrolled("ann.lee") == (False, ())
    assert people.get_user("ann.lee").is_active  # the account stays


def test_recstatus_3_person_with_nothing_changes_nothing() -> None:
    run(BASIC)
    with override_settings(SIS=_sis(PERSON_DELETE="nothing")):
        run(feed(person("P1", email="Ann.Lee@Example.edu", recstatus=3)))
    assert people.get_user("ann.lee").is_active
    assert enrolled("ann.lee")[0]


def test_a_running_import_reports_its_progress() -> None:
    started = sis.start_import(
        io.BytesIO(_term_feed(range(1, 30))), filename="feed.xml", actor=ACTOR, foreground=True
    )
    assert started.job is not None
    seen: list[int] = []

    def watch(event: str, data: dict[str, Any]) -> None:
        if event == "apply":
            seen.append(jobs.get_job(started.job.uuid).progress)  # type: ignore[union-attr]

    done = jobs.run_job(started.job.uuid, observer=watch)
    assert done.state == "succeeded"
    assert done.progress == 100
    assert seen == sorted(seen)
    assert 0 < seen[0] < 100
