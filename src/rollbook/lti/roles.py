"""rollbook course roles as LIS v2 context roles (ADR 0017), and the `role` query parameter."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rollbook.lib.errors import BadRequest
from rollbook.lti.data import (
    CONTENT_DEVELOPER,
    INSTRUCTOR,
    LEARNER,
    LIS_MEMBERSHIP,
    TEACHING_ASSISTANT,
)
from rollbook.lti.errors import LtiErrorCode

# A course-run grant of the key makes its holder a member with these roles. Other course roles
# (beta_testers, ccx_coach, data_researcher, finance_admin, sales_admin) and org or global
# roles make no one a member of the course. A learner is a course enrollment, not a grant.
COURSE_ROLE_URIS: dict[str, tuple[str, ...]] = {
    "instructor": (INSTRUCTOR,),
    "staff": (INSTRUCTOR, CONTENT_DEVELOPER),
    "limited_staff": (TEACHING_ASSISTANT,),
}
MEMBER_ROLES: tuple[str, ...] = tuple(COURSE_ROLE_URIS)

# The order roles are listed in a member's `roles`.
_ORDER = (INSTRUCTOR, TEACHING_ASSISTANT, CONTENT_DEVELOPER, LEARNER)

# LTI 1.3 lets context roles be sent by their simple names (LIS v2 principal roles).
PRINCIPAL_ROLES = (
    "Administrator",
    "ContentDeveloper",
    "Instructor",
    "Learner",
    "Manager",
    "Member",
    "Mentor",
    "Officer",
)
_PRINCIPALS = "|".join(PRINCIPAL_ROLES)
_ROLE_URI = re.compile(
    rf"^{re.escape(LIS_MEMBERSHIP)}(?:#(?:{_PRINCIPALS})|/(?:{_PRINCIPALS})#[A-Za-z]+)$"
)

MSG_INVALID_ROLE = (
    "'{role}' is not a LIS context role: give a full URI "
    "(http://purl.imsglobal.org/vocab/lis/v2/membership#Learner, "
    ".../membership/Instructor#TeachingAssistant) or a simple name ({names})."
)


def parse_role(raw: str) -> str:
    """The full LIS context role URI of a `role` parameter: a URI, or a principal role's simple
    name (`Learner`). Anything else: 400 invalid_role."""
    value = raw.strip()
    if value in PRINCIPAL_ROLES:
        return f"{LIS_MEMBERSHIP}#{value}"
    if _ROLE_URI.fullmatch(value):
        return value
    raise BadRequest(
        LtiErrorCode.INVALID_ROLE,
        MSG_INVALID_ROLE.format(role=raw, names=", ".join(PRINCIPAL_ROLES)),
        fields={"role": raw},
    )


def granting(uri: str) -> tuple[str, ...]:
    """The rollbook course roles whose grant carries the LIS role `uri` (may be none)."""
    return tuple(role for role, uris in COURSE_ROLE_URIS.items() if uri in uris)


def member_roles(grants: Iterable[str], *, learning: bool) -> tuple[str, ...]:
    """A member's LIS roles from its course-run grants and whether it is actively enrolled:
    each role once, in a fixed order."""
    held = {uri for grant in grants for uri in COURSE_ROLE_URIS.get(grant, ())}
    if learning:
        held.add(LEARNER)
    return tuple(uri for uri in _ORDER if uri in held)
