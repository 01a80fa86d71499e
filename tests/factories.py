"""Factories for test setup, through the public API of each app (so setup stays honest)."""

from __future__ import annotations

import itertools
from typing import Any

from rollbook.audit.data import Actor
from rollbook.catalog import api as catalog
from rollbook.catalog.data import CourseData, LibraryData
from rollbook.enrollments import api as enrollments
from rollbook.enrollments.data import EnrollmentData
from rollbook.people import api as people
from rollbook.people.data import UserData
from rollbook.roles import api as roles
from rollbook.roles.data import Grant

ACTOR = Actor.system("test")
_seq = itertools.count(1)


class Make:
    @staticmethod
    def user(username: str | None = None, **fields: Any) -> UserData:
        name = username or f"user{next(_seq)}"
        fields.setdefault("email", f"{name.lower()}@example.com")
        return people.put_user(name, actor=ACTOR, **fields)[0]

    @staticmethod
    def token(username: str, *, staff: bool = False) -> str:
        people.ensure_user(username, actor=ACTOR, is_staff=staff)
        return people.create_token(username, actor=ACTOR)

    @staticmethod
    def course(key: str | None = None, **fields: Any) -> CourseData:
        course_key = key or f"course-v1:TestX+C{next(_seq)}+2026"
        fields.setdefault("title", f"Course {course_key}")
        return catalog.put_course(course_key, actor=ACTOR, **fields)[0]

    @staticmethod
    def library(key: str | None = None, **fields: Any) -> LibraryData:
        library_key = key or f"lib:TestX:lib{next(_seq)}"
        fields.setdefault("title", f"Library {library_key}")
        return catalog.put_library(library_key, actor=ACTOR, **fields)[0]

    @staticmethod
    def grant(
        username: str, role: str, *, course_key: str | None = None, org: str | None = None
    ) -> Grant:
        return roles.grant_role(username, role, actor=ACTOR, course_key=course_key, org=org)[0]

    @staticmethod
    def enrollment(course_key: str, username: str, **fields: Any) -> EnrollmentData:
        return enrollments.put_enrollment(course_key, username, actor=ACTOR, **fields)[0]
