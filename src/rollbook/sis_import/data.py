"""The records of an IMS Enterprise 1.1 feed as the parser yields them.

Text values are stripped; a missing optional value is "" (or None for a date). `line` is the
file's own line where the element starts. `recstatus` is 1 (add), 2 (update) or 3 (delete),
1 when the feed leaves it out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from rollbook.sis_import.errors import SisErrorCode


class RecStatus(IntEnum):
    ADD = 1
    UPDATE = 2
    DELETE = 3


class IdType(IntEnum):
    PERSON = 1
    GROUP = 2


class RecordKind(StrEnum):
    PERSON = "person"
    GROUP = "group"
    MEMBERSHIP = "membership"


@dataclass(frozen=True, slots=True)
class PersonRecord:
    sourcedid_source: str
    sourcedid: str
    recstatus: int = 1  # RecStatus
    # useridtype -> value ("Logon ID", "SCTID", "Email ID", "Other ID", ...): the first
    # <userid> of each type; one without a useridtype is left out.
    userids: dict[str, str] = field(default_factory=dict)
    # useridtype -> the password attribute of that <userid>, when it has one. Never shown.
    passwords: dict[str, str] = field(default_factory=dict, repr=False)
    full_name: str = ""  # <name><fn>
    nickname: str = ""
    family: str = ""
    given: str = ""
    partname: str = ""  # every <n><partname>, joined with " "
    email: str = ""
    institution_role: str = ""  # institutionroletype of <institutionrole> (the primary one)
    line: int = 0
    # Whether the account may log in, when the feed says (OneRoster `enabledUser`); None:
    # not said (IMS Enterprise), and the account's state is left alone.
    enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class Relationship:
    relation: str  # "1" parent, "2" child (the relation attribute)
    sourcedid: str
    label: str  # "Term", "Course", ...


@dataclass(frozen=True, slots=True)
class GroupRecord:
    sourcedid_source: str
    sourcedid: str
    recstatus: int = 1  # RecStatus
    grouptype: str = ""  # <grouptype><typevalue>: "Term", "CourseSection", "Course", ...
    short: str = ""
    long: str = ""
    full: str = ""
    orgunit: str = ""
    begin: dt.date | None = None
    end: dt.date | None = None
    begin_restrict: bool = False
    end_restrict: bool = False
    relationships: tuple[Relationship, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True)
class MemberRecord:
    sourcedid: str
    idtype: int  # 1 person, 2 group (a section of a cross-listed group)
    roletype: str  # "01" learner, "02" instructor, ...; a bare digit is padded to two
    recstatus: int = 1  # RecStatus
    status: int = 1  # 1 active, 0 inactive
    begin: dt.date | None = None
    end: dt.date | None = None


@dataclass(frozen=True, slots=True)
class MembershipRecord:
    group_sourcedid: str
    # One per <role> of each <member> (a member with two roles gives two).
    members: tuple[MemberRecord, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True)
class RecordError:
    """A record the parser could not read (a required field missing, a bad date or value).
    The parser yields it and goes on with the next record."""

    line: int
    kind: RecordKind
    record_id: str  # the sourcedid, or "" when that is what is missing
    code: SisErrorCode
    message: str


Record = PersonRecord | GroupRecord | MembershipRecord | RecordError


@dataclass(frozen=True, slots=True)
class PendingMembership:
    """A membership waiting for its person or section (or a held person)."""

    group_sourcedid: str
    person_sourcedid: str
    roletype: str
    reason: str
    waiting_since: dt.datetime


@dataclass(frozen=True, slots=True)
class HeldPerson:
    """An SIS person held by an identity collision: neither created nor merged."""

    id: int
    sourcedid: str
    name: str
    email: str
    reason: str
    held_since: dt.datetime
    kind: str = ""  # username | email | sctid: what collided
    account_id: int | None = None  # the existing account it collides with
    account_username: str = ""
    other_sourcedid: str = ""  # the SIS person that account is linked to


class Resolution(StrEnum):
    LINK_EXISTING = "link_existing"  # this SIS person is that account (moved from the other)
    CREATE_WITH_USERNAME = "create_with_username"  # a new account under another username
    IGNORE = "ignore"  # leave the person out; what waits for it is skipped


@dataclass(frozen=True, slots=True)
class LmbMessage:
    """A live LMB message in the inbox (its XML stays in the inbox and the day log)."""

    message_id: str
    state: str  # pending, applied, failed, blocked
    received_at: dt.datetime
    applied_at: dt.datetime | None
    attempts: int
    error: str
