"""OneRoster 1.2 CSV zips as a second SIS input format: the zip's rows become the same records
the IMS Enterprise parser yields, so staging, apply, dry runs, drops and reports are shared
(ADR 0016).

- academicSessions.csv: a `Term` group (kept, like IMS terms);
- orgs.csv: an `Org` group (kept; orgs come into being with the courses naming them);
- courses.csv: a `Course` group (kept);
- classes.csv: a `CourseSection` group (related to its first term and its course), applied
  as a course run;
- users.csv: a person, applied as a user;
- enrollments.csv: a membership whose roletype is the role (`teacher-secondary` for a teacher
  whose `primary` is false), applied as an enrollment or a role by the role map.

Every record's source is `OneRoster`. A row whose `status` is `tobedeleted` is a deletion
(recstatus 3; an enrollment also status 0); any other row adds or updates.

`OneRosterFeed.validate()` reads everything once and raises `FeedError` (with the member,
line and column) for a zip that is unsafe or unreadable, a missing or wrong manifest, a
wrong header, a bad value, or a reference to nothing (not in the zip, and not staged from an
earlier import); nothing is staged before it passes. `records()` then reads it again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.db.models import QuerySet

from rollbook.lib import onerostercsv as spec
from rollbook.lib.errors import RollbookError
from rollbook.lib.keys import CourseKey
from rollbook.sis_import.config import SisConfig
from rollbook.sis_import.data import (
    GroupRecord,
    MemberRecord,
    MembershipRecord,
    PersonRecord,
    Record,
    RecStatus,
    Relationship,
)
from rollbook.sis_import.errors import FeedError, SisErrorCode
from rollbook.sis_import.models import StagedGroup, StagedPerson

SOURCE = "OneRoster"
TERM, ORG, COURSE, SECTION = "Term", "Org", "Course", "CourseSection"
SECONDARY_TEACHER = "teacher-secondary"
_IN_CHUNK = 900
_KEY_UNSAFE = re.compile(r"[^\w\-~.]")
_MAX_UNRESOLVED = 10_000  # references kept for the staged check; past it the file fails

_PROBLEMS = {
    spec.ZipProblem.NOT_A_ZIP: SisErrorCode.NOT_A_ZIP,
    spec.ZipProblem.UNSAFE_NAME: SisErrorCode.UNSAFE_ZIP,
    spec.ZipProblem.TOO_MANY_MEMBERS: SisErrorCode.UNSAFE_ZIP,
    spec.ZipProblem.TOO_LARGE: SisErrorCode.TOO_LARGE,
    spec.ZipProblem.NO_MANIFEST: SisErrorCode.NO_MANIFEST,
    spec.ZipProblem.BAD_MANIFEST: SisErrorCode.BAD_MANIFEST,
    spec.ZipProblem.BAD_HEADER: SisErrorCode.BAD_HEADER,
    spec.ZipProblem.BAD_ROW: SisErrorCode.BAD_ROW,
    spec.ZipProblem.ENCODING: SisErrorCode.ENCODING,
}

MSG_REQUIRED = "{name} needs a value"
MSG_BAD_VALUE = "{name}: {detail}"
MSG_UNKNOWN_REFERENCE = "{name}: '{ref}' is not a {kind} of this zip nor of an earlier import"
MSG_TOO_MANY_UNKNOWN = "{member}: more than {limit} references are not in the zip; refused."


def is_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return spec.is_zip(handle.read(4))


def _feed_error(exc: spec.CsvZipError) -> FeedError:
    return FeedError(
        _PROBLEMS[exc.problem], exc.message, line=exc.line, column=exc.column, file=exc.member
    )


@dataclass
class _Refs:
    """The sourcedIds each file brought, and the references not (yet) among them."""

    seen: dict[str, set[str]] = field(
        default_factory=lambda: {TERM: set(), ORG: set(), COURSE: set(), SECTION: set(), "": set()}
    )
    # kind -> ref -> (member, line, column, column name) of its first use
    unresolved: dict[str, dict[str, tuple[str, int, int, str]]] = field(default_factory=dict)


class _Row:
    """One data row being turned into a record: checked values, errors naming the cell."""

    def __init__(self, binding: spec.CsvFile, row: spec.Row, mode: spec.Mode) -> None:
        self.binding = binding
        self.row = row
        self.mode = mode

    def _error(self, name: str, message: str, code: SisErrorCode) -> FeedError:
        return FeedError(
            code,
            message,
            line=self.row.line,
            column=self.column(name),
            file=self.binding.member,
        )

    def column(self, name: str) -> int:
        """The 1-based column of a cell (the row's values are in header order)."""
        names = list(self.row.values)
        return names.index(name) + 1 if name in names else spec.column_of(self.binding, name)

    def text(self, name: str) -> str:
        value = self.row[name]
        if not value and (
            name in self.binding.required
            or (self.mode is spec.Mode.DELTA and name in ("status", "dateLastModified"))
        ):
            raise self._error(name, MSG_REQUIRED.format(name=name), SisErrorCode.BAD_ROW)
        return value

    def parsed(self, name: str, read: Callable[[str], Any]) -> Any:
        try:
            return read(self.text(name))
        except spec.BadValue as exc:
            raise self._error(
                name, MSG_BAD_VALUE.format(name=name, detail=exc), SisErrorCode.BAD_ROW
            ) from None

    def recstatus(self) -> int:
        status = self.parsed(
            "status", lambda text: spec.read_enum(text, spec.STATUSES) if text else ""
        )
        self.parsed("dateLastModified", spec.read_datetime)
        return RecStatus.DELETE if status == spec.TO_BE_DELETED else RecStatus.UPDATE


class OneRosterFeed:
    """A OneRoster CSV zip on disk, read as SIS records."""

    def __init__(self, path: Path, config: SisConfig) -> None:
        self.path = path
        self.config = config
        self.limits = spec.ZipLimits(
            max_members=config.zip_max_members, max_unzipped_bytes=config.zip_max_unzipped_bytes
        )
        self.modes: dict[str, spec.Mode] = {}
        self._term_dates: dict[str, tuple[Any, Any]] = {}

    # ------------------------------------------------------------ the two passes

    def validate(self, progress: Callable[[int], None] | None = None) -> int:
        """Read everything, check every cell and reference; returns the number of rows.
        Raises FeedError: nothing may be staged from a zip that fails here."""
        refs = _Refs()
        rows = 0
        for _record in self._read(refs):
            rows += 1
            if progress and rows % 5000 == 0:
                progress(rows)
        self._check_staged(refs)
        return rows

    def records(self) -> Iterator[Record]:
        """The records, in the order apply needs them (sessions, orgs, courses, classes,
        users, enrollments). Call after `validate`."""
        yield from self._read(None)

    # ------------------------------------------------------------ reading

    def _read(self, refs: _Refs | None) -> Iterator[Record]:
        try:
            with self.path.open("rb") as stream:
                yield from self._members(stream, refs)
        except spec.CsvZipError as exc:
            raise _feed_error(exc) from None

    def _members(self, stream: BinaryIO, refs: _Refs | None) -> Iterator[Record]:
        archive = spec.CsvZip(stream, limits=self.limits)
        try:
            self.modes = archive.modes(archive.manifest())
            self._term_dates = {}
            for binding, convert in (
                (spec.ACADEMIC_SESSIONS, self._session),
                (spec.ORGS, self._org),
                (spec.COURSES, self._course),
                (spec.CLASSES, self._class),
                (spec.USERS, self._user),
                (spec.ENROLLMENTS, self._enrollment),
            ):
                mode = self.modes[binding.name]
                if mode is spec.Mode.ABSENT:
                    continue  # "absent": not read, even when the zip holds the file
                for row in archive.rows(binding):
                    yield convert(_Row(binding, row, mode), refs)
        finally:
            archive.close()

    def _ref(self, row: _Row, refs: _Refs | None, name: str, kind: str, value: str) -> None:
        if refs is None or not value or value in refs.seen[kind]:
            return
        pending = refs.unresolved.setdefault(kind, {})
        if value not in pending:
            if sum(len(found) for found in refs.unresolved.values()) >= _MAX_UNRESOLVED:
                raise FeedError(
                    SisErrorCode.UNKNOWN_REFERENCE,
                    MSG_TOO_MANY_UNKNOWN.format(member=row.binding.member, limit=_MAX_UNRESOLVED),
                    file=row.binding.member,
                )
            pending[value] = (row.binding.member, row.row.line, row.column(name), name)

    def _group(self, row: _Row, refs: _Refs | None, kind: str, **fields: Any) -> GroupRecord:
        sourced_id = row.text("sourcedId")
        if refs is not None:
            refs.seen[kind].add(sourced_id)
        return GroupRecord(
            sourcedid_source=SOURCE,
            sourcedid=sourced_id,
            recstatus=row.recstatus(),
            grouptype=kind,
            line=row.row.line,
            **fields,
        )

    def _session(self, row: _Row, refs: _Refs | None) -> Record:
        begin = row.parsed("startDate", spec.read_date)
        end = row.parsed("endDate", spec.read_date)
        row.parsed("type", lambda text: spec.read_enum(text, spec.SESSION_TYPES))
        record = self._group(
            row, refs, TERM, full=row.text("title"), short=row.text("type"), begin=begin, end=end
        )
        self._term_dates[record.sourcedid] = (begin, end)
        return record

    def _org(self, row: _Row, refs: _Refs | None) -> Record:
        row.parsed("type", lambda text: spec.read_enum(text, spec.ORG_TYPES))
        return self._group(
            row,
            refs,
            ORG,
            full=row.text("name"),
            short=row.text("identifier"),
            orgunit=row.text("type"),
        )

    def _course(self, row: _Row, refs: _Refs | None) -> Record:
        org = row.text("orgSourcedId")
        self._ref(row, refs, "orgSourcedId", ORG, org)
        return self._group(
            row, refs, COURSE, full=row.text("title"), short=row.text("courseCode"), orgunit=org
        )

    def _class(self, row: _Row, refs: _Refs | None) -> Record:
        row.parsed("classType", lambda text: spec.read_enum(text, spec.CLASS_TYPES))
        course = row.text("courseSourcedId")
        school = row.text("schoolSourcedId")
        terms = row.parsed("termSourcedIds", spec.read_list)
        self._ref(row, refs, "courseSourcedId", COURSE, course)
        self._ref(row, refs, "schoolSourcedId", ORG, school)
        for term in terms:
            self._ref(row, refs, "termSourcedIds", TERM, term)
        begin, end = self._term_dates.get(terms[0], (None, None)) if terms else (None, None)
        # rollbook's own export carries the run's dates as extension columns.
        if row.row["metadata.startDate"]:
            begin = row.parsed("metadata.startDate", spec.read_datetime).date()
        if row.row["metadata.endDate"]:
            end = row.parsed("metadata.endDate", spec.read_datetime).date()
        relationships = [Relationship("1", course, "Course")]
        if terms:
            relationships.insert(0, Relationship("1", terms[0], "Term"))
        return self._group(
            row,
            refs,
            SECTION,
            full=row.text("title"),
            short=row.text("classCode"),
            orgunit=school,
            begin=begin,
            end=end,
            relationships=tuple(relationships),
        )

    def _user(self, row: _Row, refs: _Refs | None) -> Record:
        sourced_id = row.text("sourcedId")
        enabled = row.parsed("enabledUser", spec.read_bool)
        user_ids = row.parsed("userIds", spec.read_user_ids)
        recstatus = row.recstatus()
        if refs is not None:
            refs.seen[""].add(sourced_id)
        given, family = row.text("givenName"), row.text("familyName")
        userids = {f"OneRoster:{kind}": value for kind, value in user_ids}
        if row.text("username"):
            userids["Logon ID"] = row.text("username")
        if row.text("identifier"):
            userids["SCTID"] = row.text("identifier")
        return PersonRecord(
            sourcedid_source=SOURCE,
            sourcedid=sourced_id,
            recstatus=recstatus,
            userids=userids,
            full_name=" ".join(part for part in (given, family) if part),
            family=family,
            given=given,
            partname=row.text("middleName"),
            email=row.text("email"),
            enabled=enabled,
            line=row.row.line,
        )

    def _enrollment(self, row: _Row, refs: _Refs | None) -> Record:
        section = row.text("classSourcedId")
        person = row.text("userSourcedId")
        school = row.text("schoolSourcedId")
        role = row.parsed("role", lambda text: spec.read_enum(text, spec.ENROLLMENT_ROLES))
        primary = row.parsed("primary", spec.read_bool)
        begin = row.parsed("beginDate", spec.read_date)
        end = row.parsed("endDate", spec.read_date)
        recstatus = row.recstatus()
        row.text("sourcedId")
        self._ref(row, refs, "classSourcedId", SECTION, section)
        self._ref(row, refs, "userSourcedId", "", person)
        self._ref(row, refs, "schoolSourcedId", ORG, school)
        roletype = SECONDARY_TEACHER if role == "teacher" and primary is False else role
        member = MemberRecord(
            sourcedid=person,
            idtype=1,
            roletype=roletype,
            recstatus=recstatus,
            status=0 if recstatus == RecStatus.DELETE else 1,
            begin=begin,
            end=end,
        )
        return MembershipRecord(group_sourcedid=section, members=(member,), line=row.row.line)

    # ------------------------------------------------------------ references to earlier imports

    def _check_staged(self, refs: _Refs) -> None:
        """References the zip does not resolve must name what an earlier import staged (a
        delta names the users and classes it does not repeat)."""
        missing: list[tuple[str, int, int, str, str, str]] = []
        for kind, pending in refs.unresolved.items():
            wanted = sorted(pending)
            found: set[str] = set()
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                rows: QuerySet[Any] = (
                    StagedPerson.objects.filter(sourcedid__in=chunk)
                    if kind == ""
                    else StagedGroup.objects.filter(sourcedid__in=chunk, grouptype=kind)
                )
                found.update(rows.values_list("sourcedid", flat=True))
            for ref in wanted:
                if ref not in found:
                    member, line, column, name = pending[ref]
                    missing.append((member, line, column, name, ref, kind))
        if not missing:
            return
        order = {binding.member: index for index, binding in enumerate(spec.FILES)}
        member, line, column, name, ref, kind = min(
            missing, key=lambda item: (order.get(item[0], 99), item[1], item[2])
        )
        raise FeedError(
            SisErrorCode.UNKNOWN_REFERENCE,
            MSG_UNKNOWN_REFERENCE.format(name=name, ref=ref, kind=_KIND_NAMES[kind]),
            line=line,
            column=column,
            file=member,
        )


_KIND_NAMES = {TERM: "academic session", ORG: "org", COURSE: "course", SECTION: "class", "": "user"}


def course_key(sourcedid: str, data: dict[str, Any], term: str, config: SisConfig) -> str:
    """The course key of a OneRoster class: by ROLLBOOK_SIS_ONEROSTER_COURSE_KEY_TEMPLATE, or
    with `auto` the class sourcedId when it is a course key (rollbook's own export), else
    `course-v1:{org}+{code}+{term}`. Tokens: {org} {sourcedid} {code} {term} {course}
    {school}; unsafe characters become `_`."""
    template = config.oneroster_course_key_template
    if template == "auto":
        try:
            CourseKey.parse(sourcedid)
        except RollbookError:
            template = "course-v1:{org}+{code}+{term}"
        else:
            return sourcedid
    course = next(
        (rel["sourcedid"] for rel in data.get("relationships", []) if rel["label"] == "Course"),
        "",
    )
    return template.format_map(
        _Tokens(
            org=config.org,
            sourcedid=sourcedid,
            code=data.get("short") or sourcedid,
            term=term or "none",
            course=course,
            school=data.get("orgunit", ""),
        )
    )


class _Tokens(dict[str, str]):
    def __init__(self, **values: str) -> None:
        super().__init__({k: _KEY_UNSAFE.sub("_", v) for k, v in values.items()})

    def __missing__(self, key: str) -> str:
        return ""
