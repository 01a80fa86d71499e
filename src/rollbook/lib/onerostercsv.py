"""The OneRoster 1.2 CSV binding: file names, headers, value formats, and a guarded zip reader.

Pure (no Django, no database): the OneRoster provider writes zips with it (`oneroster.csvzip`)
and the SIS import reads them (`sis_import.onerostercsv`). Decision: ADR 0016.

A OneRoster CSV set is a zip of `manifest.csv` (`propertyName,value`) and one CSV file per
collection. Every data file has a header row with the columns of the binding in its order;
extension columns (`metadata.<name>`) may follow them. Values: dates `YYYY-MM-DD`,
date-times ISO 8601 in UTC (`2024-01-31T09:30:00.000Z`), booleans `true`/`false`, lists
comma-separated inside one field, `userIds` as `{type:identifier}` items. In a bulk file
`status` and `dateLastModified` are blank; in a delta file both are given, and `status` is
`active` or `tobedeleted`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any, BinaryIO

MANIFEST = "manifest.csv"
MANIFEST_HEADER = ("propertyName", "value")
MANIFEST_VERSION = "1.0"
ONEROSTER_VERSION = "1.2"
METADATA_PREFIX = "metadata."
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty archive


class Mode(StrEnum):
    """`file.<name>` in the manifest."""

    ABSENT = "absent"
    BULK = "bulk"
    DELTA = "delta"


ACTIVE = "active"
TO_BE_DELETED = "tobedeleted"
STATUSES = (ACTIVE, TO_BE_DELETED)
TRUE, FALSE = "true", "false"


@dataclass(frozen=True, slots=True)
class CsvFile:
    """One data file of the binding: its columns in order, and those that may not be blank."""

    name: str  # "users": the collection; the member is "users.csv", the manifest key "file.users"
    columns: tuple[str, ...]
    required: frozenset[str]

    @property
    def member(self) -> str:
        return f"{self.name}.csv"

    @property
    def manifest_key(self) -> str:
        return f"file.{self.name}"


_COMMON = ("sourcedId", "status", "dateLastModified")

ACADEMIC_SESSIONS = CsvFile(
    "academicSessions",
    (
        *_COMMON,
        "title",
        "type",
        "startDate",
        "endDate",
        "parentSourcedId",
        "schoolYear",
    ),
    frozenset({"sourcedId", "title", "type"}),
)
ORGS = CsvFile(
    "orgs",
    (*_COMMON, "name", "type", "identifier", "parentSourcedId"),
    frozenset({"sourcedId", "name", "type"}),
)
COURSES = CsvFile(
    "courses",
    (
        *_COMMON,
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
    ),
    frozenset({"sourcedId", "title", "orgSourcedId"}),
)
CLASSES = CsvFile(
    "classes",
    (
        *_COMMON,
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ),
    frozenset({"sourcedId", "title", "courseSourcedId", "classType", "schoolSourcedId"}),
)
USERS = CsvFile(
    "users",
    (
        *_COMMON,
        "enabledUser",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
        "userMasterIdentifier",
        "resourceSourcedIds",
        "preferredGivenName",
        "preferredMiddleName",
        "preferredFamilyName",
        "primaryOrgSourcedId",
        "pronouns",
    ),
    frozenset({"sourcedId", "enabledUser"}),
)
ROLES = CsvFile(
    "roles",
    (
        *_COMMON,
        "userSourcedId",
        "roleType",
        "role",
        "beginDate",
        "endDate",
        "orgSourcedId",
        "userProfileSourcedId",
    ),
    frozenset({"sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId"}),
)
ENROLLMENTS = CsvFile(
    "enrollments",
    (
        *_COMMON,
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ),
    frozenset({"sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"}),
)

# The rostering files rollbook writes and reads, in the order a reader needs them (what is
# referred to before what refers to it). The manifest names every file of the binding.
FILES: tuple[CsvFile, ...] = (ACADEMIC_SESSIONS, ORGS, COURSES, CLASSES, USERS, ENROLLMENTS)
ALL_FILE_NAMES = (
    "academicSessions",
    "categories",
    "classResources",
    "classes",
    "courseResources",
    "courses",
    "demographics",
    "enrollments",
    "lineItemLearningObjectiveIds",
    "lineItems",
    "lineItemScoreScales",
    "orgs",
    "resources",
    "results",
    "resultLearningObjectiveIds",
    "resultScoreScales",
    "roles",
    "scoreScales",
    "userProfiles",
    "userResources",
    "users",
)

ORG_TYPES = ("department", "school", "district", "local", "state", "national")
SESSION_TYPES = ("gradingPeriod", "semester", "schoolYear", "term")
CLASS_TYPES = ("homeroom", "scheduled")
ENROLLMENT_ROLES = (
    "administrator",
    "aide",
    "guardian",
    "parent",
    "proctor",
    "relative",
    "student",
    "teacher",
)

# -- values out ------------------------------------------------------------------------------


def write_bool(value: bool | None) -> str:
    return "" if value is None else (TRUE if value else FALSE)


def write_list(values: Iterable[str]) -> str:
    return ",".join(values)


def write_user_ids(pairs: Iterable[tuple[str, str]]) -> str:
    return ",".join(f"{{{kind}:{identifier}}}" for kind, identifier in pairs)


def manifest_rows(
    modes: dict[str, Mode], *, system_name: str, system_code: str = ""
) -> list[tuple[str, str]]:
    """The manifest's rows: versions, every file of the binding (absent unless given), source."""
    rows = [("manifest.version", MANIFEST_VERSION), ("oneroster.version", ONEROSTER_VERSION)]
    rows += [(f"file.{name}", modes.get(name, Mode.ABSENT).value) for name in ALL_FILE_NAMES]
    rows += [("source.systemName", system_name), ("source.systemCode", system_code)]
    return rows


# -- values in ---------------------------------------------------------------------------------


class BadValue(ValueError):
    """A value that is not of its column's format (the message says what was expected)."""


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_USER_ID = re.compile(r"^\{([^:{}]+):([^{}]*)\}$")


def read_bool(text: str, *, blank: bool | None = None) -> bool | None:
    if text == "":
        return blank
    if text == TRUE:
        return True
    if text == FALSE:
        return False
    raise BadValue(f"'{text}' is not true or false")


def read_date(text: str) -> dt.date | None:
    if text == "":
        return None
    if not _DATE.match(text):
        raise BadValue(f"'{text}' is not a date of the form YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadValue(f"'{text}' is not a date of the form YYYY-MM-DD") from None


def read_datetime(text: str) -> dt.datetime | None:
    if text == "":
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadValue(f"'{text}' is not an ISO 8601 date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def read_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def read_user_ids(text: str) -> list[tuple[str, str]]:
    """`{type:identifier},{type:identifier}` as (type, identifier) pairs."""
    pairs = []
    for item in re.findall(r"\{[^{}]*\}|[^,{}\s][^,]*", text):
        match = _USER_ID.match(item.strip())
        if match is None:
            raise BadValue(f"'{item}' is not a userId of the form {{type:identifier}}")
        pairs.append((match[1].strip(), match[2].strip()))
    return pairs


def read_enum(text: str, choices: Sequence[str]) -> str:
    """One of the choices, or an extension token (`ext:...`)."""
    if text in choices or text.startswith("ext:"):
        return text
    raise BadValue(f"'{text}' is not one of {', '.join(choices)} (or an ext: token)")


# -- the zip ---------------------------------------------------------------------------------


class ZipProblem(StrEnum):
    NOT_A_ZIP = "not_a_zip"
    UNSAFE_NAME = "unsafe_name"
    TOO_MANY_MEMBERS = "too_many_members"
    TOO_LARGE = "too_large"
    NO_MANIFEST = "no_manifest"
    BAD_MANIFEST = "bad_manifest"
    BAD_HEADER = "bad_header"
    BAD_ROW = "bad_row"
    ENCODING = "encoding"


class CsvZipError(Exception):
    """The zip or one of its files cannot be read; `member`, `line` and `column` (1-based) say
    where, when known."""

    def __init__(
        self,
        problem: ZipProblem,
        message: str,
        *,
        member: str = "",
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message
        self.member = member
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class ZipLimits:
    max_members: int = 64
    max_unzipped_bytes: int = 4 * 1024 * 1024 * 1024


def is_zip(head: bytes) -> bool:
    return head[:4] in ZIP_MAGIC


class _Counted(io.RawIOBase):
    """A member's bytes, counted against what the whole zip may unpack to: the sizes in the
    directory are the archive's word, this is the truth."""

    def __init__(self, raw: IO[bytes], budget: list[int], member: str) -> None:
        self.raw = raw
        self.budget = budget
        self.member = member

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        self.budget[0] -= len(data)
        if self.budget[0] < 0:
            raise CsvZipError(
                ZipProblem.TOO_LARGE,
                "The zip unpacks to more than the limit; it is refused (a zip bomb?).",
                member=self.member,
            )
        buffer[: len(data)] = data
        return len(data)


@dataclass(frozen=True, slots=True)
class Row:
    """A data row: its values by column name and its line in the member (1 = the header)."""

    line: int
    values: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")


class CsvZip:
    """A OneRoster CSV zip, read defensively: no absolute or `..` member names, a bounded number
    of members and of unpacked bytes (counted as read), only the expected member names opened,
    UTF-8 (a BOM is skipped), headers checked against the binding."""

    def __init__(self, stream: BinaryIO, *, limits: ZipLimits = ZipLimits()) -> None:
        head = stream.read(4)
        stream.seek(0)
        if not is_zip(head):
            raise CsvZipError(ZipProblem.NOT_A_ZIP, "The file is not a zip archive.")
        try:
            self.zip = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError) as exc:
            raise CsvZipError(ZipProblem.NOT_A_ZIP, f"The zip cannot be read: {exc}.") from None
        infos = self.zip.infolist()
        if len(infos) > limits.max_members:
            raise CsvZipError(
                ZipProblem.TOO_MANY_MEMBERS,
                f"The zip holds {len(infos)} members; at most {limits.max_members} are read.",
            )
        declared = 0
        self.names: set[str] = set()
        for info in infos:
            name = info.filename
            parts = name.replace("\\", "/").split("/")
            if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
                raise CsvZipError(
                    ZipProblem.UNSAFE_NAME,
                    f"The zip member '{name}' has an absolute or parent path; refused.",
                    member=name,
                )
            declared += info.file_size
            self.names.add(name)
        if declared > limits.max_unzipped_bytes:
            raise CsvZipError(
                ZipProblem.TOO_LARGE,
                f"The zip unpacks to {declared} bytes, over the limit of "
                f"{limits.max_unzipped_bytes}.",
            )
        self._budget = [limits.max_unzipped_bytes]

    def close(self) -> None:
        self.zip.close()

    def has(self, member: str) -> bool:
        return member in self.names

    def _lines(self, member: str) -> Iterator[tuple[int, list[str]]]:
        """(line, fields) of each record; the line is where the record ends."""
        raw = io.BufferedReader(_Counted(self.zip.open(member), self._budget, member))
        reader = csv.reader(_decoded(raw, member), strict=True)
        try:
            for values in reader:
                yield reader.line_num, values
        except csv.Error as exc:
            raise CsvZipError(
                ZipProblem.BAD_ROW,
                f"the CSV is malformed: {exc}",
                member=member,
                line=reader.line_num,
            ) from None

    def manifest(self) -> dict[str, str]:
        """`manifest.csv` as propertyName -> value; its versions checked."""
        if not self.has(MANIFEST):
            raise CsvZipError(ZipProblem.NO_MANIFEST, "The zip has no manifest.csv.")
        properties: dict[str, str] = {}
        lines = self._lines(MANIFEST)
        first = next(lines, None)
        if first is None or tuple(h.strip() for h in first[1]) != MANIFEST_HEADER:
            raise CsvZipError(
                ZipProblem.BAD_HEADER,
                "manifest.csv must start with the header propertyName,value",
                member=MANIFEST,
                line=1,
                column=1,
            )
        for number, values in lines:
            if not any(values):
                continue
            if len(values) != 2:
                raise CsvZipError(
                    ZipProblem.BAD_MANIFEST,
                    f"the row has {len(values)} fields, not 2",
                    member=MANIFEST,
                    line=number,
                )
            properties[values[0].strip()] = values[1].strip()
        for key, wanted in (
            ("manifest.version", MANIFEST_VERSION),
            ("oneroster.version", ONEROSTER_VERSION),
        ):
            if properties.get(key) != wanted:
                raise CsvZipError(
                    ZipProblem.BAD_MANIFEST,
                    f"manifest.csv: {key} must be {wanted}, not '{properties.get(key, '')}'.",
                    member=MANIFEST,
                )
        return properties

    def modes(self, properties: dict[str, str]) -> dict[str, Mode]:
        """The mode of each rostering file rollbook reads (a missing entry is absent)."""
        modes: dict[str, Mode] = {}
        for spec in FILES:
            raw = properties.get(spec.manifest_key, Mode.ABSENT.value)
            try:
                mode = Mode(raw)
            except ValueError:
                raise CsvZipError(
                    ZipProblem.BAD_MANIFEST,
                    f"manifest.csv: {spec.manifest_key} must be absent, bulk or delta, "
                    f"not '{raw}'.",
                    member=MANIFEST,
                ) from None
            if mode is not Mode.ABSENT and not self.has(spec.member):
                raise CsvZipError(
                    ZipProblem.BAD_MANIFEST,
                    f"manifest.csv names {spec.member} as {mode.value}, but the zip has no "
                    f"{spec.member}.",
                    member=MANIFEST,
                )
            modes[spec.name] = mode
        return modes

    def rows(self, spec: CsvFile) -> Iterator[Row]:
        """The data rows of one file, its header checked (the binding's columns in order, then
        any `metadata.*` columns); a row with another number of fields is refused."""
        lines = self._lines(spec.member)
        first = next(lines, None)
        if first is None:
            raise CsvZipError(
                ZipProblem.BAD_HEADER, "the file is empty", member=spec.member, line=1
            )
        header = [name.strip() for name in first[1]]
        check_header(spec, header)
        for line, values in lines:
            if not any(values):
                continue  # a blank line
            if len(values) != len(header):
                raise CsvZipError(
                    ZipProblem.BAD_ROW,
                    f"the row has {len(values)} fields; the header has {len(header)}",
                    member=spec.member,
                    line=line,
                    column=min(len(values), len(header)) + 1,
                )
            yield Row(line, dict(zip(header, (value.strip() for value in values), strict=True)))


MAX_LINE_BYTES = 1024 * 1024


def _decoded(raw: IO[bytes], member: str) -> Iterator[str]:
    """The member's lines as text, decoded one by one so that a byte that is not UTF-8 is
    reported at its line and column; a UTF-8 BOM at the start is skipped."""
    number = 0
    while line := raw.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES:
            raise CsvZipError(
                ZipProblem.BAD_ROW,
                f"the line is longer than {MAX_LINE_BYTES} bytes",
                member=member,
                line=number,
            )
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CsvZipError(
                ZipProblem.ENCODING,
                f"the bytes are not UTF-8 ({exc.reason})",
                member=member,
                line=number,
                column=exc.start + 1,
            ) from None


def check_header(spec: CsvFile, header: Sequence[str]) -> None:
    names = [name.strip() for name in header]
    for index, wanted in enumerate(spec.columns):
        found = names[index] if index < len(names) else ""
        if found != wanted:
            raise CsvZipError(
                ZipProblem.BAD_HEADER,
                f"the header must name '{wanted}' here, not '{found}' (the binding's "
                "columns, in its order)",
                member=spec.member,
                line=1,
                column=index + 1,
            )
    for index, extra in enumerate(names[len(spec.columns) :], start=len(spec.columns)):
        if not extra.startswith(METADATA_PREFIX):
            raise CsvZipError(
                ZipProblem.BAD_HEADER,
                f"'{extra}' is not a column of the binding; extension columns are named "
                "metadata.<name>",
                member=spec.member,
                line=1,
                column=index + 1,
            )


def column_of(spec: CsvFile, name: str) -> int:
    """The 1-based column number of a column of the binding."""
    return spec.columns.index(name) + 1
