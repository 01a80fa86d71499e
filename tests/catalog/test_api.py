"""catalog.api: course keys, orgs, modes, dates, idempotent puts, listings, libraries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.catalog import api as catalog
from rollbook.catalog.errors import CatalogErrorCode
from rollbook.catalog.models import Course, Library, Org
from rollbook.lib.errors import Invalid, NotFound
from rollbook.lib.pagination import PageRequest
from tests.factories import ACTOR, Make

pytestmark = pytest.mark.django_db

COURSE = "course-v1:edX+toy+2012"
LIBRARY = "lib:edX:problems"
JAN = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
JUN = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def audit_count(subject: str | None = None, event: str | None = None) -> int:
    return audit.list_events(subject=subject, event=event, page=PageRequest()).count


def put(key: str = COURSE, **fields: Any) -> tuple[catalog.CourseData, bool]:
    return catalog.put_course(key, actor=Actor.system("test"), **fields)


# ---------------------------------------------------------------- course keys and orgs


@pytest.mark.parametrize(
    "key",
    [
        COURSE,
        "course-v1:EDX+TOY+2012",
        "course-v1:MITx+6.002x+2013_T1",
        "course-v1:Org-1+num~x+run:part",
        "course-v1:a.b+c+d",
    ],
)
def test_valid_course_keys_are_accepted(key: str) -> None:
    course, created = put(key, title="T")
    assert created
    assert course.key == key
    assert catalog.get_course(key) == course


@pytest.mark.parametrize(
    "key",
    [
        "",
        "edX/toy/2012",
        "course-v1:edX+toy",
        "course-v1:edX+toy+2012+more",
        "course-v1:edX++2012",
        "course-v1:+toy+2012",
        "course-v1:ed X+toy+2012",
        "course-v1:ed:X+toy+2012",
        "course-v2:edX+toy+2012",
        "Course-v1:edX+toy+2012",
        "lib:edX:toy",
        "course-v1:edX+toy+2012 ",
        "course-v1:edX+" + "x" * 250 + "+2012",
    ],
)
def test_malformed_course_keys_are_invalid(key: str) -> None:
    with pytest.raises(Invalid) as on_put:
        put(key, title="T")
    with pytest.raises(Invalid) as on_get:
        catalog.get_course(key)
    assert on_put.value.code == on_get.value.code == "invalid_course_key"
    assert on_put.value.status == 422
    assert not Course.objects.exists()
    assert not Org.objects.exists()


def test_org_is_derived_from_the_key_and_created(actor: Actor) -> None:
    course, _ = put(COURSE, title="Toy")
    assert course.org == "edX"
    assert Org.objects.filter(short_name="edX").count() == 1
    assert audit_count("org:edX", "org.created") == 1

    put("course-v1:edX+other+2013", title="Other")
    Make.library("lib:edX:lib1")
    assert Org.objects.filter(short_name="edX").count() == 1
    assert audit_count("org:edX", "org.created") == 1


def test_orgs_are_case_sensitive() -> None:
    put(COURSE, title="Toy")
    upper, _ = put("course-v1:EDX+TOY+2012", title="TOY")
    assert upper.org == "EDX"
    assert sorted(Org.objects.values_list("short_name", flat=True)) == ["EDX", "edX"]
    assert catalog.get_course(COURSE).title == "Toy"


def test_unknown_course_is_not_found() -> None:
    with pytest.raises(NotFound) as raised:
        catalog.get_course(COURSE)
    assert raised.value.code == "course_not_found"
    put(COURSE, title="Toy")
    with pytest.raises(NotFound):
        catalog.get_course("course-v1:EDX+TOY+2012")


# ---------------------------------------------------------------- title


@pytest.mark.parametrize("title", [None, "", "   "])
def test_title_is_required_for_a_new_course(title: str | None) -> None:
    fields = {} if title is None else {"title": title}
    with pytest.raises(Invalid) as raised:
        put(COURSE, **fields)
    assert raised.value.code == "title_required"
    assert not Course.objects.exists()


def test_title_is_not_required_to_update_a_course() -> None:
    put(COURSE, title="Toy")
    course, created = put(COURSE, sis_id="SIS-1")
    assert not created
    assert (course.title, course.sis_id) == ("Toy", "SIS-1")


def test_a_refused_course_writes_nothing() -> None:
    events_before = audit_count()
    with pytest.raises(Invalid):
        put("course-v1:NewOrg+x+2026")  # no title
    with pytest.raises(Invalid):
        put("course-v1:NewOrg+x+2026", title="T", modes=["bogus"])
    assert not Org.objects.filter(short_name="NewOrg").exists()
    assert audit_count() == events_before


# ---------------------------------------------------------------- modes


def test_new_course_defaults() -> None:
    course, _ = put(COURSE, title="Toy")
    assert course.modes == ("audit",)
    assert course.default_mode == "audit"
    assert course.enrollment_open is True
    assert course.passing_grade == 0.5
    assert (course.start, course.end, course.days_early_for_beta, course.sis_id) == (
        None,
        None,
        None,
        "",
    )


def test_unknown_mode_is_invalid() -> None:
    with pytest.raises(Invalid) as raised:
        put(COURSE, title="Toy", modes=["audit", "platinum"])
    assert raised.value.code == "invalid_mode"
    assert raised.value.status == 422
    assert raised.value.fields == {"modes": ["platinum"]}
    assert not Course.objects.exists()


def test_mode_names_are_case_sensitive() -> None:
    with pytest.raises(Invalid) as raised:
        put(COURSE, title="Toy", modes=["Verified"])
    assert raised.value.code == "invalid_mode"


def test_no_modes_is_invalid() -> None:
    put(COURSE, title="Toy")
    with pytest.raises(Invalid) as raised:
        put(COURSE, modes=[])
    assert raised.value.code == "invalid_mode"
    assert catalog.get_course(COURSE).modes == ("audit",)


def test_modes_are_deduplicated_in_order() -> None:
    course, _ = put(COURSE, title="Toy", modes=["verified", "audit", "verified"])
    assert course.modes == ("verified", "audit")
    assert catalog.get_course(COURSE).modes == ("verified", "audit")


def test_default_mode_must_be_among_modes() -> None:
    with pytest.raises(Invalid) as on_create:
        put(COURSE, title="Toy", modes=["verified", "honor"], default_mode="audit")
    assert on_create.value.code == "invalid_mode"
    assert not Course.objects.exists()

    put(COURSE, title="Toy", modes=["audit", "verified"])
    with pytest.raises(Invalid) as on_update:
        put(COURSE, default_mode="professional")
    assert on_update.value.code == "invalid_mode"
    assert catalog.get_course(COURSE).default_mode == "audit"


def test_default_mode_given_is_kept() -> None:
    course, _ = put(COURSE, title="Toy", modes=["audit", "verified"], default_mode="verified")
    assert course.default_mode == "verified"
    course, _ = put(COURSE, default_mode="audit")
    assert course.default_mode == "audit"


def test_default_becomes_first_mode_of_a_new_course() -> None:
    course, _ = put(COURSE, title="Toy", modes=["verified", "audit"])
    assert course.default_mode == "verified"
    assert catalog.get_course(COURSE).default_mode == "verified"


def test_default_becomes_first_mode_when_modes_drop_it() -> None:
    put(COURSE, title="Toy", modes=["audit", "honor"])
    course, _ = put(COURSE, modes=["professional", "verified"])
    assert course.default_mode == "professional"


def test_default_is_kept_when_modes_still_hold_it() -> None:
    put(COURSE, title="Toy", modes=["audit", "verified"], default_mode="verified")
    course, _ = put(COURSE, modes=["honor", "verified"])
    assert course.default_mode == "verified"


# ---------------------------------------------------------------- dates and grades


def test_end_before_start_is_invalid() -> None:
    with pytest.raises(Invalid) as raised:
        put(COURSE, title="Toy", start=JUN, end=JAN)
    assert raised.value.code == "invalid_dates"
    assert not Course.objects.exists()


def test_end_before_existing_start_is_invalid_and_changes_nothing() -> None:
    put(COURSE, title="Toy", start=JUN)
    events_before = audit_count()
    with pytest.raises(Invalid) as raised:
        put(COURSE, end=JAN, title="Renamed")
    assert raised.value.code == "invalid_dates"
    course = catalog.get_course(COURSE)
    assert (course.title, course.end) == ("Toy", None)
    assert audit_count() == events_before


def test_dates_in_order_are_kept_and_can_be_cleared() -> None:
    course, _ = put(COURSE, title="Toy", start=JAN, end=JUN)
    assert (course.start, course.end) == (JAN, JUN)
    same_day, _ = put(COURSE, end=JAN)
    assert same_day.end == JAN
    cleared, _ = put(COURSE, start=None, end=None)
    assert (cleared.start, cleared.end) == (None, None)
    stored = catalog.get_course(COURSE)
    assert (stored.start, stored.end) == (None, None)


@pytest.mark.parametrize("grade", [-0.01, 1.01, 50, float("nan")])
def test_passing_grade_out_of_range_is_invalid(grade: float) -> None:
    with pytest.raises(Invalid) as raised:
        put(COURSE, title="Toy", passing_grade=grade)
    assert raised.value.code == "invalid_passing_grade"
    assert not Course.objects.exists()


@pytest.mark.parametrize("grade", [0.0, 0.7, 1.0])
def test_passing_grade_in_range_is_kept(grade: float) -> None:
    course, _ = put(COURSE, title="Toy", passing_grade=grade)
    assert course.passing_grade == grade
    assert catalog.get_course(COURSE).passing_grade == grade


# ---------------------------------------------------------------- idempotence and audit


def test_put_course_is_idempotent() -> None:
    fields: dict[str, Any] = {
        "title": "Toy",
        "start": JAN,
        "end": JUN,
        "sis_id": "SIS-1",
        "modes": ["audit", "verified"],
        "default_mode": "verified",
        "enrollment_open": False,
        "days_early_for_beta": 3,
        "passing_grade": 0.6,
    }
    first, created = put(COURSE, **fields)
    events_before = audit_count()

    again, created_again = put(COURSE, **fields)

    assert created is True
    assert created_again is False
    assert again == first
    assert audit_count() == events_before
    assert audit_count(f"course:{COURSE}") == 1


def test_put_course_with_the_same_instant_in_another_zone_is_no_change() -> None:
    put(COURSE, title="Toy", start=JAN)
    events_before = audit_count()
    paris = dt.timezone(dt.timedelta(hours=1))
    put(COURSE, start=JAN.astimezone(paris))
    assert audit_count() == events_before


def test_put_course_audit_rows_have_before_and_after() -> None:
    put(COURSE, title="Toy")
    put(COURSE, title="Toy Story", sis_id="S1")
    updates = audit.list_events(
        subject=f"course:{COURSE}", event="course.updated", page=PageRequest()
    ).items
    assert len(updates) == 1
    [update] = updates
    assert update.before is not None
    assert update.after is not None
    assert (update.before["title"], update.after["title"]) == ("Toy", "Toy Story")
    assert (update.before["sis_id"], update.after["sis_id"]) == ("", "S1")
    created = audit.list_events(
        subject=f"course:{COURSE}", event="course.created", page=PageRequest()
    ).items
    assert [(e.before, e.after["title"]) for e in created] == [(None, "Toy")]


# ---------------------------------------------------------------- listings


def test_list_courses_filters_org_and_sis_id() -> None:
    Make.course("course-v1:edX+a+2026", sis_id="S1")
    Make.course("course-v1:edX+b+2026", sis_id="S2")
    Make.course("course-v1:MITx+a+2026", sis_id="S1")
    Make.course("course-v1:EDX+c+2026", sis_id="S1")

    def keys(**filters: Any) -> list[str]:
        return [c.key for c in catalog.list_courses(page=PageRequest(), **filters).items]

    assert keys(org="edX") == ["course-v1:edX+a+2026", "course-v1:edX+b+2026"]
    # (As a set: how keys of different case sort depends on the database's collation.)
    assert set(keys(sis_id="S1")) == {
        "course-v1:edX+a+2026",
        "course-v1:MITx+a+2026",
        "course-v1:EDX+c+2026",
    }
    assert keys(org="edX", sis_id="S1") == ["course-v1:edX+a+2026"]
    assert keys(org="EDX") == ["course-v1:EDX+c+2026"]
    assert keys(org="Nowhere") == []
    assert len(keys()) == 4


def test_list_courses_pages_with_total_count() -> None:
    for n in range(5):
        Make.course(f"course-v1:edX+c{n}+2026")
    page = catalog.list_courses(page=PageRequest(page=2, page_size=2))
    assert page.count == 5
    assert [c.key for c in page.items] == ["course-v1:edX+c2+2026", "course-v1:edX+c3+2026"]


def test_courses_by_key_is_one_query(django_assert_num_queries) -> None:
    Make.course("course-v1:edX+a+2026")
    Make.course("course-v1:edX+b+2026")
    with django_assert_num_queries(1):
        found = catalog.courses_by_key(
            ["course-v1:edX+a+2026", "course-v1:edX+b+2026", "course-v1:edX+none+2026"]
        )
    assert sorted(found) == ["course-v1:edX+a+2026", "course-v1:edX+b+2026"]


def test_context_exists() -> None:
    Make.course(COURSE)
    Make.library(LIBRARY)
    assert catalog.context_exists(COURSE)
    assert catalog.context_exists(LIBRARY)
    assert not catalog.context_exists("course-v1:EDX+TOY+2012")
    assert not catalog.context_exists("lib:edX:other")


# ---------------------------------------------------------------- libraries


def test_put_and_get_library() -> None:
    library, created = catalog.put_library(LIBRARY, actor=Actor.system("test"), title="Problems")
    assert created
    assert (library.key, library.org, library.title) == (LIBRARY, "edX", "Problems")
    assert catalog.get_library(LIBRARY) == library
    assert Org.objects.filter(short_name="edX").exists()
    assert audit_count(f"library:{LIBRARY}", "library.created") == 1


def test_put_library_renames_and_is_idempotent(actor: Actor) -> None:
    catalog.put_library(LIBRARY, actor=actor, title="Problems")
    renamed, created = catalog.put_library(LIBRARY, actor=actor, title="Exercises")
    assert not created
    assert catalog.get_library(LIBRARY).title == "Exercises"
    events_before = audit_count()

    same, created_again = catalog.put_library(LIBRARY, actor=actor, title="Exercises")

    assert not created_again
    assert same == renamed
    assert audit_count() == events_before
    assert audit_count(f"library:{LIBRARY}", "library.updated") == 1
    assert Library.objects.count() == 1


@pytest.mark.parametrize("title", [None, "", "  "])
def test_title_is_required_for_a_new_library(actor: Actor, title: str | None) -> None:
    fields = {} if title is None else {"title": title}
    with pytest.raises(Invalid) as raised:
        catalog.put_library("lib:NewOrg:x", actor=actor, **fields)
    assert raised.value.code == "title_required"
    assert not Library.objects.exists()
    assert not Org.objects.filter(short_name="NewOrg").exists()


@pytest.mark.parametrize(
    "key", ["", "lib:edX", "lib:edX:", "lib::x", "lib:edX:a:b", "library-v1:edX+x", COURSE]
)
def test_malformed_library_keys_are_invalid(actor: Actor, key: str) -> None:
    with pytest.raises(Invalid) as on_put:
        catalog.put_library(key, actor=actor, title="T")
    with pytest.raises(Invalid) as on_get:
        catalog.get_library(key)
    assert on_put.value.code == on_get.value.code == "invalid_library_key"


def test_unknown_library_is_not_found() -> None:
    with pytest.raises(NotFound) as raised:
        catalog.get_library(LIBRARY)
    assert raised.value.code == "library_not_found"


def test_list_libraries_without_filters_lists_all() -> None:
    for key in ("lib:MITx:b", "lib:BerkeleyX:a", "lib:MITx:a"):
        Make.library(key)
    page = catalog.list_libraries(page=PageRequest(page_size=2))
    assert page.count == 3
    assert [lib.key for lib in page.items] == ["lib:BerkeleyX:a", "lib:MITx:a"]


def test_rename_org_is_audited_and_moves_modified(db: None) -> None:
    Make.course("course-v1:RenX+C1+2026")
    before = Org.objects.get(short_name="RenX")
    assert before.modified == before.created
    assert catalog.rename_org("RenX", name="Ren University", actor=ACTOR)
    after = Org.objects.get(short_name="RenX")
    assert (after.name, after.modified > before.modified) == ("Ren University", True)
    assert not catalog.rename_org("RenX", name="Ren University", actor=ACTOR)
    assert Org.objects.get(short_name="RenX").modified == after.modified
    with pytest.raises(NotFound) as caught:
        catalog.rename_org("NoSuchX", name="x", actor=ACTOR)
    assert caught.value.code == CatalogErrorCode.ORG_NOT_FOUND
