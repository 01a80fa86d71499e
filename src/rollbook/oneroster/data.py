"""Boundary dataclasses of the OneRoster provider."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALL_SCOPES",
    "SCOPES_FOR_ROSTERING",
    "SCOPE_BASE",
    "SCOPE_DEMOGRAPHICS",
    "SCOPE_NRPS",
    "SCOPE_ROSTER",
    "SCOPE_ROSTER_CORE",
    "ClientData",
    "IssuedToken",
    "ResultPage",
    "TokenGrant",
]

SCOPE_BASE = "https://purl.imsglobal.org/spec/or/v1p2/scope/"
SCOPE_ROSTER_CORE = SCOPE_BASE + "roster-core.readonly"
SCOPE_ROSTER = SCOPE_BASE + "roster.readonly"
SCOPE_DEMOGRAPHICS = SCOPE_BASE + "roster-demographics.readonly"
# LTI Advantage Names and Role Provisioning Services 2.0 (rollbook.lti, ADR 0017): the same
# clients and tokens guard the membership containers.
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
ALL_SCOPES: tuple[str, ...] = (SCOPE_ROSTER_CORE, SCOPE_ROSTER, SCOPE_DEMOGRAPHICS, SCOPE_NRPS)
# Any one of these lets a token read orgs, academicSessions, courses, classes, users and
# enrollments (rollbook has no demographics to serve).
SCOPES_FOR_ROSTERING: frozenset[str] = frozenset({SCOPE_ROSTER_CORE, SCOPE_ROSTER})


@dataclass(frozen=True, slots=True)
class ClientData:
    client_id: str
    name: str
    scopes: tuple[str, ...]
    created: dt.datetime
    revoked_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a live access token allows."""

    client_id: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class ResultPage:
    """One page of OneRoster objects and the number of objects that match."""

    objects: list[dict[str, Any]]
    total: int
