"""The world fixture: a small set of courses, a library and enrolled learners (REST tests)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.api.helpers import COURSE, LIBRARY, OTHER_COURSE
from tests.factories import Make


@dataclass(frozen=True)
class World:
    course: str
    other_course: str
    library: str


@pytest.fixture
def world(db: None) -> World:
    """COURSE (edX; audit and verified) with mary (audit) and bob (verified) enrolled;
    OTHER_COURSE (MITx) with mary enrolled; the library LIBRARY."""
    Make.course(COURSE, modes=["audit", "verified"], sis_id="SIS-TOY")
    Make.course(OTHER_COURSE)
    Make.library(LIBRARY)
    Make.user("mary")
    Make.user("bob")
    Make.enrollment(COURSE, "mary")
    Make.enrollment(COURSE, "bob", mode="verified")
    Make.enrollment(OTHER_COURSE, "mary")
    return World(COURSE, OTHER_COURSE, LIBRARY)
