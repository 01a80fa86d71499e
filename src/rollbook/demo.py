"""`rollbook demo`: a small, realistic data set, loaded through the same API as everything else.

Two universities' orgs, their course runs with real-looking modes and dates, content
libraries, instructors and course teams with the roles they would hold, and learners in
several tracks. Loading it twice changes nothing (every write is idempotent).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rollbook.audit.data import Actor
from rollbook.catalog import api as catalog
from rollbook.enrollments import api as enrollments
from rollbook.people import api as people
from rollbook.roles import api as roles

UTC = dt.UTC

COURSES = [
    # key, title, modes, start, end, sis_id
    (
        "course-v1:NorthU+CS101+2026_Fall",
        "Introduction to Computer Science",
        ["audit", "verified"],
        dt.datetime(2026, 9, 1, tzinfo=UTC),
        dt.datetime(2026, 12, 18, tzinfo=UTC),
        "10001.202710",
    ),
    (
        "course-v1:NorthU+MATH201+2026_Fall",
        "Linear Algebra",
        ["audit", "honor", "verified"],
        dt.datetime(2026, 9, 1, tzinfo=UTC),
        dt.datetime(2026, 12, 18, tzinfo=UTC),
        "10002.202710",
    ),
    (
        "course-v1:NorthU+CS101+2027_Spring",
        "Introduction to Computer Science",
        ["audit", "verified"],
        dt.datetime(2027, 1, 18, tzinfo=UTC),
        dt.datetime(2027, 5, 7, tzinfo=UTC),
        "20001.202720",
    ),
    (
        "course-v1:LakesideX+DATA100+2026_T3",
        "Data Science Foundations",
        ["audit", "verified", "masters"],
        dt.datetime(2026, 10, 5, tzinfo=UTC),
        None,
        "",
    ),
]

LIBRARIES = [
    ("lib:NorthU:cs-problem-bank", "CS problem bank"),
    ("lib:NorthU:math-exercises", "Math exercises"),
    ("lib:LakesideX:datasets", "Shared datasets"),
    ("lib:LakesideX:python-drills", "Python drills"),
]

USERS = [
    # username, name, email, is_staff, idnumber
    ("admin", "Site Administrator", "admin@example.edu", True, ""),
    ("ada", "Ada Okafor", "ada.okafor@northu.example.edu", False, "N00010001"),
    ("grace", "Grace Lindqvist", "grace.lindqvist@northu.example.edu", False, "N00010002"),
    ("tomas", "Tomás Ferreira", "tomas.ferreira@lakeside.example.edu", False, "L00020001"),
    ("priya", "Priya Raman", "priya.raman@northu.example.edu", False, "N00010003"),
    ("maria", "María González", "maria.gonzalez@mail.example.com", False, "N00030001"),
    ("li", "Li Wei", "li.wei@mail.example.com", False, "N00030002"),
    ("sam", "Sam Taylor", "sam.taylor@mail.example.com", False, "N00030003"),
    ("fatima", "Fatima Haddad", "fatima.haddad@mail.example.com", False, "L00040001"),
    ("kenji", "Kenji Sato", "kenji.sato@mail.example.com", False, "L00040002"),
    ("noah", "Noah Becker", "noah.becker@mail.example.com", False, "N00030004"),
]

GRANTS = [
    # username, role, course_key, org
    ("ada", "instructor", "course-v1:NorthU+CS101+2026_Fall", None),
    ("ada", "instructor", "course-v1:NorthU+CS101+2027_Spring", None),
    ("ada", "staff", "lib:NorthU:cs-problem-bank", None),
    ("grace", "staff", "course-v1:NorthU+MATH201+2026_Fall", None),
    ("grace", "library_user", "lib:NorthU:math-exercises", None),
    ("priya", "limited_staff", "course-v1:NorthU+CS101+2026_Fall", None),
    ("priya", "beta_testers", "course-v1:NorthU+CS101+2027_Spring", None),
    ("tomas", "staff", None, "LakesideX"),
    ("tomas", "data_researcher", "course-v1:LakesideX+DATA100+2026_T3", None),
    ("grace", "course_creator_group", None, None),
]

ENROLLMENTS = [
    # course_key, username, mode, is_active
    ("course-v1:NorthU+CS101+2026_Fall", "maria", "verified", True),
    ("course-v1:NorthU+CS101+2026_Fall", "li", "audit", True),
    ("course-v1:NorthU+CS101+2026_Fall", "sam", "verified", False),
    ("course-v1:NorthU+CS101+2026_Fall", "noah", "audit", True),
    ("course-v1:NorthU+MATH201+2026_Fall", "maria", "honor", True),
    ("course-v1:NorthU+MATH201+2026_Fall", "noah", "verified", True),
    ("course-v1:LakesideX+DATA100+2026_T3", "fatima", "masters", True),
    ("course-v1:LakesideX+DATA100+2026_T3", "kenji", "verified", True),
    ("course-v1:LakesideX+DATA100+2026_T3", "li", "audit", True),
]


SAMPLE_FEED = Path(__file__).parent / "sis_import" / "sample" / "banner-term-201740.xml"


def load_banner_feed(actor: Actor) -> str:
    """Import the sample Banner term extract (the same as examples/banner-term-201740.xml):
    a term, two sections, an instructor, a TA and three students. Returns the job's state."""
    from rollbook.jobs import api as jobs
    from rollbook.sis_import import api as sis

    with SAMPLE_FEED.open("rb") as stream:
        started = sis.start_import(stream, filename=SAMPLE_FEED.name, actor=actor, foreground=True)
    if started.job is None:
        return "already imported"
    return jobs.run_job(started.job.uuid).state


def load_demo() -> dict[str, int]:
    actor = Actor.system("demo")
    for key, title, modes, start, end, sis_id in COURSES:
        catalog.put_course(
            key, actor=actor, title=title, modes=modes, start=start, end=end, sis_id=sis_id
        )
    for key, title in LIBRARIES:
        catalog.put_library(key, actor=actor, title=title)
    for username, name, email, is_staff, idnumber in USERS:
        people.put_user(
            username, actor=actor, name=name, email=email, is_staff=is_staff, idnumber=idnumber
        )
    for username, role, course_key, org in GRANTS:
        roles.grant_role(username, role, actor=actor, course_key=course_key, org=org)
    for course_key, username, mode, is_active in ENROLLMENTS:
        enrollments.put_enrollment(
            course_key, username, actor=actor, mode=mode, is_active=is_active
        )
    load_banner_feed(actor)
    return {
        "courses": len(COURSES),
        "libraries": len(LIBRARIES),
        "users": len(USERS),
        "role grants": len(GRANTS),
        "enrollments": len(ENROLLMENTS),
        "Banner feed: sections": 2,
        "Banner feed: people": 5,
    }
