"""Cross-listed sections: meta and merge modes, the parent's title, one cross-list per section,
and undo, fed through the live inbox."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from rollbook.audit.data import Actor
from rollbook.catalog import api as catalog
from rollbook.enrollments import api as enrollments
from rollbook.lib.errors import NotFound
from rollbook.people import api as people
from rollbook.roles import api as roles
from rollbook.sis_import import inbox
from rollbook.sis_import.models import CrossList, StagedCrossListMember
from tests.sis_import.test_lmb import enterprise, post
from tests.sis_import.test_pipeline import member, membership, person, section

pytestmark = pytest.mark.django_db

TERM = "201740"
S1, S2, S3 = f"10001.{TERM}", f"10002.{TERM}", f"10003.{TERM}"
C1, C2 = f"course-v1:SIS+10001+{TERM}", f"course-v1:SIS+10002+{TERM}"
XLS = f"XLSAA{TERM}"
PARENT = f"course-v1:SIS+{XLS}+{TERM}"
ACTOR = Actor.system("test")


@pytest.fixture(autouse=True)
def lmb(tmp_path: Path) -> Iterator[None]:
    conf = {**settings.LMB, "USERNAME": "lmb", "PASSWORD": "s3cret"}
    with override_settings(LMB=conf, DATA_DIR=tmp_path):
        yield


_ids = itertools.count()


def feed(*parts: str) -> None:
    for part in parts:
        post(enterprise(part), message_id=f"m{next(_ids)}")
    inbox.process_inbox()


def xls(*sections: str, status: int = 1, group: str = XLS) -> str:
    members = "".join(
        f"<member><sourcedid><source>Banner</source><id>{sid}</id></sourcedid><idtype>2</idtype>"
        f'<role roletype="01"><status>{status}</status></role></member>'
        for sid in sections
    )
    return (
        f"<membership><sourcedid><source>Banner</source><id>{group}</id></sourcedid>"
        f"{members}</membership>"
    )


def active(course: str, username: str) -> bool:
    try:
        return enrollments.get_enrollment(course, username).is_active
    except NotFound:
        return False


def is_instructor(course: str, username: str) -> bool:
    return roles.check_role(people.get_user_ref(username), "instructor", course_key=course)


@pytest.fixture
def term() -> None:
    """Ann in S1, Bob in S2, Cy in both, Ida teaching S1."""
    feed(
        section(S1, long="ENG-101-001", full="Writing I"),
        section(S2, long="ENG-101-002", full="Writing II"),
        person("PA", email="ann@example.edu"),
        person("PB", email="bob@example.edu"),
        person("PC", email="cy@example.edu"),
        person("PI", email="ida@example.edu"),
        membership(member("PA"), member("PC"), member("PI", "02"), group=S1),
        membership(member("PB"), member("PC"), group=S2),
    )


def test_meta_parent_is_created_on_the_first_child_and_mirrors_every_child(term: None) -> None:
    feed(xls(S1))
    parent = catalog.get_course(PARENT)
    assert parent.title == f"{XLS} - 10001"
    assert parent.sis_id == XLS
    assert parent.start is not None  # the child's dates
    assert [active(PARENT, who) for who in ("ann", "bob", "cy")] == [True, False, True]
    assert is_instructor(PARENT, "ida")
    feed(xls(S2))
    assert catalog.get_course(PARENT).title == f"{XLS} - 10001, 10002"
    assert all(active(PARENT, who) for who in ("ann", "bob", "cy"))
    # meta: the children keep their own people
    assert active(C1, "ann")
    assert active(C2, "bob")
    assert is_instructor(C1, "ida")


def test_a_child_membership_after_the_join_reaches_the_parent(term: None) -> None:
    feed(xls(S1, S2))
    feed(person("PD", email="dee@example.edu"), membership(member("PD"), group=S2))
    assert active(PARENT, "dee")
    feed(membership(member("PD", status=0), group=S2))
    assert not active(PARENT, "dee")
    assert not active(C2, "dee")
    # Cy drops S1 but still comes through S2: stays in the parent.
    feed(membership(member("PC", status=0), group=S1))
    assert active(PARENT, "cy")


def test_a_child_leaving_takes_out_only_what_it_brought(term: None) -> None:
    feed(xls(S1, S2))
    feed(xls(S1, status=0))
    assert not active(PARENT, "ann")
    assert not is_instructor(PARENT, "ida")
    assert active(PARENT, "cy")  # also through S2
    assert active(PARENT, "bob")
    assert catalog.get_course(PARENT).title == f"{XLS} - 10002"
    assert active(C1, "ann")  # the child itself is untouched


def test_removing_every_child_leaves_the_parent_empty_and_the_children_whole(term: None) -> None:
    feed(xls(S1, S2))
    enrollments.put_enrollment(PARENT, "bob", actor=ACTOR, is_active=True)  # by hand: stays
    feed(xls(S1, S2, status=0))
    assert [active(PARENT, who) for who in ("ann", "cy")] == [False, False]
    assert active(PARENT, "bob")  # by hand
    assert not is_instructor(PARENT, "ida")
    assert all(active(C1, who) for who in ("ann", "cy"))
    assert all(active(C2, who) for who in ("bob", "cy"))
    assert is_instructor(C1, "ida")


def test_a_parent_title_edited_by_hand_is_kept(term: None) -> None:
    feed(xls(S1))
    catalog.put_course(PARENT, actor=ACTOR, title="English Writing (combined)")
    feed(xls(S2))
    assert catalog.get_course(PARENT).title == "English Writing (combined)"


def test_the_title_template_and_prefix_are_configurable(term: None) -> None:
    sis = {**settings.SIS, "CROSSLIST_TITLE_TEMPLATE": "{prefix}{full} ({crn list})"}
    with override_settings(SIS=sis):
        feed(xls(S1, S2))
    assert catalog.get_course(PARENT).title == "XLS Writing I (10001, 10002)"


def test_a_section_in_a_second_crosslist_is_an_error_naming_both(term: None) -> None:
    other = f"XLSBB{TERM}"
    feed(xls(S1))
    feed(xls(S1, group=other))
    row = StagedCrossListMember.objects.get(crosslist_sourcedid=other)
    assert row.state == "error"
    assert XLS in row.reason
    assert other in row.reason
    assert "crosslist_conflict" in row.reason
    assert not CrossList.objects.filter(sourcedid=other).exists()
    assert active(PARENT, "ann")


def test_a_crosslist_waits_for_its_section() -> None:
    feed(xls(S3))
    row = StagedCrossListMember.objects.get()
    assert row.state == "pending"
    assert S3 in row.reason
    feed(section(S3), person("PA", email="ann@example.edu"), membership(member("PA"), group=S3))
    assert StagedCrossListMember.objects.get().state == "applied"
    assert active(PARENT, "ann")


@pytest.fixture
def merge() -> Iterator[None]:
    with override_settings(SIS={**settings.SIS, "CROSSLIST_MODE": "merge"}):
        yield


def test_merge_moves_the_childrens_people_into_the_parent_and_back(term: None, merge: None) -> None:
    enrollments.put_enrollment(C1, "bob", actor=ACTOR)  # manual, in a child
    feed(xls(S1, S2))
    assert all(active(PARENT, who) for who in ("ann", "bob", "cy"))
    assert is_instructor(PARENT, "ida")
    assert not active(C1, "ann")
    assert not active(C2, "bob")
    assert not is_instructor(C1, "ida")
    assert active(C1, "bob")  # what was done by hand stays
    # A new learner of a merged child goes to the parent only.
    feed(person("PD", email="dee@example.edu"), membership(member("PD"), group=S2))
    assert active(PARENT, "dee")
    assert not active(C2, "dee")
    # Undo: every child leaves; all come back, the parent is empty of SIS people.
    feed(xls(S1, S2, status=0))
    assert all(active(C1, who) for who in ("ann", "cy"))
    assert all(active(C2, who) for who in ("bob", "cy", "dee"))
    assert is_instructor(C1, "ida")
    assert not any(active(PARENT, who) for who in ("ann", "bob", "cy", "dee"))
    assert not is_instructor(PARENT, "ida")


def test_the_mode_is_kept_per_crosslist(term: None, merge: None) -> None:
    feed(xls(S1))
    with override_settings(SIS={**settings.SIS, "CROSSLIST_MODE": "meta"}):
        feed(xls(S1, status=0))  # undone as it was done: merged people come back
    assert active(C1, "ann")
    assert is_instructor(C1, "ida")
