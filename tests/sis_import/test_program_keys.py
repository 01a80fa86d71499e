"""SIS data links waiting program enrollments: the SCTID becomes the account's key in the
configured org, and that org's programs waiting for the key link."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from rollbook.audit.data import Actor
from rollbook.enrollments import api as enrollments
from rollbook.people import api as people
from rollbook.programs import api as programs
from rollbook.sis_import import inbox
from tests.factories import Make
from tests.sis_import.test_lmb import enterprise, post
from tests.sis_import.test_pipeline import person

pytestmark = pytest.mark.django_db

COURSE = "course-v1:UniX+M101+2026"
ACTOR = Actor.system("test")
_ids = itertools.count()


@pytest.fixture(autouse=True)
def lmb(tmp_path: Path) -> Iterator[None]:
    conf = {**settings.LMB, "USERNAME": "lmb", "PASSWORD": "s3cret"}
    sis = {**settings.SIS, "EXTERNAL_ID_ORG": "UniX"}
    with override_settings(LMB=conf, SIS=sis, DATA_DIR=tmp_path):
        yield


def feed(*parts: str) -> None:
    for part in parts:
        post(enterprise(part), message_id=f"m{next(_ids)}")
    inbox.process_inbox()


def test_an_sis_person_links_the_program_enrollment_waiting_for_their_sctid() -> None:
    Make.course(COURSE, modes=["audit", "masters"], default_mode="audit")
    program, curriculum = uuid.uuid4(), uuid.uuid4()
    programs.put_program(
        program,
        title="MSc",
        org="UniX",
        type="Masters",
        curricula=[programs.CurriculumSpec(curriculum, (COURSE,))],
        actor=ACTOR,
    )
    programs.write_program_enrollments(
        program,
        [programs.EnrollmentRequest("A0012345", "enrolled", curriculum)],
        create=True,
        update=False,
        actor=ACTOR,
    )
    programs.write_course_enrollments(
        program,
        COURSE,
        [programs.CourseEnrollmentRequest("a0012345", "active")],
        create=True,
        update=False,
        actor=ACTOR,
    )
    feed(person("P1", email="ann@example.edu", sctid="A0012345"))
    assert people.external_ids("ann") == {"UniX": "A0012345"}
    enrollment = enrollments.get_enrollment(COURSE, "ann")
    assert (enrollment.mode, enrollment.is_active) == ("masters", True)
    # The same person again changes nothing and links nothing twice.
    feed(person("P1", email="ann@example.edu", sctid="A0012345", given="Annie"))
    assert people.external_ids("ann") == {"UniX": "A0012345"}
