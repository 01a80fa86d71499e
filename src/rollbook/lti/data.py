"""Boundary dataclasses and vocabulary of the LTI Names and Role Provisioning Services."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "CONTENT_DEVELOPER",
    "INSTRUCTOR",
    "LEARNER",
    "LIS_MEMBERSHIP",
    "MEDIA_TYPE",
    "TEACHING_ASSISTANT",
    "Context",
    "Member",
    "MembershipPage",
    "Status",
]

# NRPS 2.0 section 2.1: the membership container's media type (the response Content-Type).
MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

# LIS v2 context (membership) roles, as LTI 1.3 names them: principal roles are
# `LIS_MEMBERSHIP#Name`, sub-roles `LIS_MEMBERSHIP/Principal#Name`.
LIS_MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
LEARNER = LIS_MEMBERSHIP + "#Learner"
INSTRUCTOR = LIS_MEMBERSHIP + "#Instructor"
CONTENT_DEVELOPER = LIS_MEMBERSHIP + "#ContentDeveloper"
TEACHING_ASSISTANT = LIS_MEMBERSHIP + "/Instructor#TeachingAssistant"


class Status(StrEnum):
    """A member's `status` (NRPS 2.0 section 2.3); Deleted only in a differences response."""

    ACTIVE = "Active"
    INACTIVE = "Inactive"
    DELETED = "Deleted"


@dataclass(frozen=True, slots=True)
class Context:
    id: str  # the course key
    label: str  # the course number
    title: str


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a course: its LIS roles (full URIs) and, unless Deleted, who it is."""

    user_id: str
    status: Status
    roles: tuple[str, ...]
    name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""
    lis_person_sourcedid: str = ""


@dataclass(frozen=True, slots=True)
class MembershipPage:
    """A page of a course's membership container, or of its differences.

    `next_after`: the last user_id of the page when more members follow (None: the last
    page). `position`: the outbox number the page is consistent with; the differences link
    asks for changes after it. `since`: for a differences page, the start of its window."""

    context: Context
    members: list[Member]
    next_after: str | None
    position: int
    since: int | None = None
