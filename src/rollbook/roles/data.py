"""The registered roles, their scopes and inheritance."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    COURSE = "course"  # course_key is a course key
    LIBRARY = "library"  # course_key is a library key
    ORG = "org"
    GLOBAL = "global"


# Where each registered role may be granted.
COURSE_LEVEL_ROLES: dict[str, frozenset[Scope]] = {
    "staff": frozenset({Scope.COURSE, Scope.LIBRARY}),
    "limited_staff": frozenset({Scope.COURSE, Scope.LIBRARY}),
    "instructor": frozenset({Scope.COURSE, Scope.LIBRARY}),
    "finance_admin": frozenset({Scope.COURSE}),
    "sales_admin": frozenset({Scope.COURSE}),
    "beta_testers": frozenset({Scope.COURSE}),
    "library_user": frozenset({Scope.LIBRARY}),
    "ccx_coach": frozenset({Scope.COURSE}),
    "data_researcher": frozenset({Scope.COURSE}),
}
ORG_LEVEL_ROLES: frozenset[str] = frozenset(
    {"staff", "instructor", "org_course_creator_group", "library_user", "data_researcher"}
)
GLOBAL_ROLES: frozenset[str] = frozenset({"course_creator_group", "support"})
ALL_ROLES: frozenset[str] = frozenset(COURSE_LEVEL_ROLES) | ORG_LEVEL_ROLES | GLOBAL_ROLES

# A grant of the key satisfies a check for each role in its value (besides itself):
# limited_staff counts as staff; staff does not count as limited_staff.
INHERITS: dict[str, tuple[str, ...]] = {"limited_staff": ("staff",)}


def satisfied_by(role: str) -> tuple[str, ...]:
    """The roles a grant of `role` satisfies: itself and what it inherits, transitively."""
    seen: list[str] = [role]
    for current in seen:
        for parent in INHERITS.get(current, ()):
            if parent not in seen:
                seen.append(parent)
    return tuple(seen)


# Course staff access: these course roles on the course, or these org roles in its org.
COURSE_STAFF_ROLES: tuple[str, ...] = ("staff", "instructor")
ORG_STAFF_ROLES: tuple[str, ...] = ("staff", "instructor")
# Org-level roles that let a user see every library of the org.
ORG_LIBRARY_ROLES: tuple[str, ...] = ("staff", "instructor", "library_user")


@dataclass(frozen=True, slots=True)
class Grant:
    username: str
    role: str
    org: str
    course_key: str

    @property
    def scope(self) -> Scope:
        if self.course_key:
            return Scope.LIBRARY if self.course_key.startswith("lib:") else Scope.COURSE
        return Scope.ORG if self.org else Scope.GLOBAL
