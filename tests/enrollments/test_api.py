"""bulk_enroll: a result per username, a savepoint per user, reads batched."""

from __future__ import annotations

from typing import Any

import pytest

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.enrollments import api as enrollments
from rollbook.enrollments.data import BulkAction, BulkOutcome, BulkResult
from rollbook.lib.errors import Invalid
from rollbook.lib.pagination import PageRequest
from tests.api.helpers import COURSE
from tests.api.world import World
from tests.factories import Make

ACTOR = Actor.system("bulk-test")


def _state(username: str) -> tuple[str, bool] | None:
    page = enrollments.list_user_enrollments(username, page=PageRequest())
    rows = [(e.mode, e.is_active) for e in page.items if e.course_key == COURSE]
    return rows[0] if rows else None


def test_bulk_enroll_answers_per_username(world: World) -> None:
    Make.user("carol")
    Make.user("dave")
    Make.enrollment(COURSE, "dave", is_active=False)
    results = enrollments.bulk_enroll(
        COURSE, ["mary", "BOB", "carol", "nobody", "dave", "carol"], actor=ACTOR
    )
    assert results == {
        "mary": BulkResult(BulkOutcome.UNCHANGED),
        "BOB": BulkResult(BulkOutcome.UNCHANGED),
        "carol": BulkResult(BulkOutcome.ENROLLED),
        "nobody": BulkResult(BulkOutcome.ERROR, "user_not_found", "No user 'nobody'."),
        "dave": BulkResult(BulkOutcome.ENROLLED),  # reactivated
    }
    assert _state("carol") == ("audit", True)
    assert _state("dave") == ("audit", True)
    assert _state("bob") == ("verified", True)  # enrolling keeps the mode


def test_bulk_enroll_in_a_mode(world: World) -> None:
    Make.user("carol")
    results = enrollments.bulk_enroll(COURSE, ["mary", "carol"], actor=ACTOR, mode="verified")
    assert {name: r.outcome for name, r in results.items()} == {
        "mary": BulkOutcome.ENROLLED,
        "carol": BulkOutcome.ENROLLED,
    }
    assert _state("mary") == ("verified", True)
    assert _state("carol") == ("verified", True)


def test_bulk_enroll_refuses_a_mode_the_course_lacks(world: World) -> None:
    with pytest.raises(Invalid) as raised:
        enrollments.bulk_enroll(COURSE, ["mary"], actor=ACTOR, mode="professional")
    assert raised.value.code == "invalid_mode"
    assert _state("mary") == ("audit", True)


def test_bulk_unenroll(world: World) -> None:
    Make.user("carol")
    Make.user("dave")
    Make.enrollment(COURSE, "dave", is_active=False)
    results = enrollments.bulk_enroll(
        COURSE, ["mary", "carol", "dave", "ghost"], actor=ACTOR, action=BulkAction.UNENROLL
    )
    assert {name: r.outcome for name, r in results.items()} == {
        "mary": BulkOutcome.UNENROLLED,
        "carol": BulkOutcome.UNCHANGED,
        "dave": BulkOutcome.UNCHANGED,
        "ghost": BulkOutcome.ERROR,
    }
    assert _state("mary") == ("audit", False)
    assert _state("carol") is None


def test_bulk_enroll_leaves_an_audit_row_per_change(world: World) -> None:
    Make.user("carol")
    enrollments.bulk_enroll(COURSE, ["carol", "mary"], actor=ACTOR)
    events = audit.list_events(subject=f"enrollment:{COURSE}:*", page=PageRequest()).items
    mine = [e for e in events if e.source == "bulk-test"]
    assert [(e.event, e.subject, e.before, e.after) for e in mine] == [
        (
            "enrollment.created",
            f"enrollment:{COURSE}:carol",
            None,
            {"mode": "audit", "is_active": True, "sources": ["manual"]},
        )
    ]


# Per new user: SAVEPOINT, INSERT the enrollment, INSERT its audit row, RELEASE SAVEPOINT.
WRITES_PER_USER = 4
# The course, the users (one query per 500), the existing enrollments (one per 900 users).
READS = 3


def _users(prefix: str, n: int) -> list[str]:
    names = [f"{prefix}{i}" for i in range(n)]
    for name in names:
        Make.user(name)
    return names


@pytest.mark.parametrize("n", [5, 10])
def test_bulk_enroll_queries_are_pinned(
    world: World, django_assert_num_queries: Any, n: int
) -> None:
    names = _users("new", n)
    with django_assert_num_queries(READS + WRITES_PER_USER * n) as captured:
        results = enrollments.bulk_enroll(COURSE, names, actor=ACTOR)
    assert {r.outcome for r in results.values()} == {BulkOutcome.ENROLLED}
    selects = [
        q for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")
    ]
    assert len(selects) == READS  # reads do not grow with the users


def test_bulk_enroll_reads_do_not_grow_per_user(
    world: World, django_assert_num_queries: Any
) -> None:
    five, ten = _users("five", 5), _users("ten", 10)
    with django_assert_num_queries(READS + 5 * WRITES_PER_USER) as small:
        enrollments.bulk_enroll(COURSE, five, actor=ACTOR)
    with django_assert_num_queries(READS + 10 * WRITES_PER_USER) as large:
        enrollments.bulk_enroll(COURSE, ten, actor=ACTOR)
    per_user = (len(large.captured_queries) - len(small.captured_queries)) / 5
    assert per_user == WRITES_PER_USER


def test_bulk_enroll_of_unchanged_users_writes_nothing(
    world: World, django_assert_num_queries: Any
) -> None:
    names = _users("same", 10)
    enrollments.bulk_enroll(COURSE, names, actor=ACTOR)
    # Nothing changes: the savepoint of each user is all that is left per user.
    with django_assert_num_queries(READS + 2 * len(names)):
        results = enrollments.bulk_enroll(COURSE, names, actor=ACTOR)
    assert {r.outcome for r in results.values()} == {BulkOutcome.UNCHANGED}


def test_bulk_unenroll_queries_are_pinned(world: World, django_assert_num_queries: Any) -> None:
    names = _users("gone", 6)
    enrollments.bulk_enroll(COURSE, names, actor=ACTOR)
    # Per user: SAVEPOINT, UPDATE, INSERT audit, RELEASE.
    with django_assert_num_queries(READS + 4 * len(names)):
        enrollments.bulk_enroll(COURSE, names, actor=ACTOR, action=BulkAction.UNENROLL)
