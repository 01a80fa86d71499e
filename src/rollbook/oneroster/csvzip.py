"""The OneRoster 1.2 CSV bulk export: the provider's collections as a zip (ADR 0016).

Each file shows what the REST provider shows (`resources.py` renders every object, and a
CSV row is that object flattened: references become sourcedIds, lists comma-separated
fields). Rows are written as they are read (`iterator()`), so memory stays flat whatever
the roster's size, and each file costs a fixed number of queries: orgs, users one;
classes two (the classes and their SIS terms, both in key order and merged); enrollments two
(course enrollments and teaching grants). Courses and academic sessions are small derived
groupings the provider reads whole (one query each).

Bulk means the files are the whole set: `status` and `dateLastModified` are blank, and the
enrollments that REST shows as `tobedeleted` (inactive course enrollments) are not written.
Users are all written; an inactive one has `enabledUser` false.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.functions import Collate

from rollbook.lib import onerostercsv as spec
from rollbook.oneroster.resources import (
    ACADEMIC_SESSIONS,
    ACTIVE,
    CLASSES,
    COURSES,
    ENROLLMENTS,
    ORGS,
    TO_BE_DELETED,
    USERS,
    Resource,
    class_object,
    user_object,
)
from rollbook.sis_import import api as sis_import

SYSTEM_NAME = "rollbook"
CHUNK = 2000  # rows fetched per round trip of a streamed query
FLUSH_BYTES = 256 * 1024  # stream the zip on in pieces of about this size

# Extension columns after the binding's own: the REST `metadata` of a class.
CLASS_METADATA = ("metadata.startDate", "metadata.endDate")


def _ids(refs: Iterable[dict[str, Any]]) -> str:
    return spec.write_list(ref["sourcedId"] for ref in refs)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# -- one CSV row per REST object ---------------------------------------------------------------


def _org_row(obj: dict[str, Any]) -> dict[str, str]:
    return {
        "name": obj["name"],
        "type": obj["type"],
        "identifier": _text(obj["identifier"]),
        "parentSourcedId": obj["parent"]["sourcedId"] if obj["parent"] else "",
    }


def _session_row(obj: dict[str, Any]) -> dict[str, str]:
    return {
        "title": obj["title"],
        "type": obj["type"],
        "startDate": _text(obj["startDate"]),
        "endDate": _text(obj["endDate"]),
        "parentSourcedId": obj["parent"]["sourcedId"] if obj["parent"] else "",
        "schoolYear": _text(obj["schoolYear"]),
    }


def _course_row(obj: dict[str, Any]) -> dict[str, str]:
    return {
        "schoolYearSourcedId": obj["schoolYear"]["sourcedId"] if obj["schoolYear"] else "",
        "title": obj["title"],
        "courseCode": _text(obj["courseCode"]),
        "grades": spec.write_list(obj["grades"]),
        "orgSourcedId": obj["org"]["sourcedId"],
        "subjects": spec.write_list(obj["subjects"]),
    }


def _class_row(obj: dict[str, Any]) -> dict[str, str]:
    return {
        "title": obj["title"],
        "courseSourcedId": obj["course"]["sourcedId"],
        "classCode": _text(obj["classCode"]),
        "classType": obj["classType"],
        "schoolSourcedId": obj["school"]["sourcedId"],
        "termSourcedIds": _ids(obj["terms"]),
        "metadata.startDate": _text(obj["metadata"]["startDate"]),
        "metadata.endDate": _text(obj["metadata"]["endDate"]),
    }


def _user_row(obj: dict[str, Any]) -> dict[str, str]:
    return {
        "enabledUser": obj["enabledUser"],
        "username": obj["username"],
        "userIds": spec.write_user_ids(
            (item["type"], item["identifier"]) for item in obj["userIds"]
        ),
        "givenName": obj["givenName"],
        "familyName": obj["familyName"],
        "identifier": _text(obj["identifier"]),
        "email": _text(obj["email"]),
    }


def _enrollment_row(obj: dict[str, Any]) -> dict[str, str]:
    return {
        "classSourcedId": obj["class"]["sourcedId"],
        "schoolSourcedId": obj["school"]["sourcedId"],
        "userSourcedId": obj["user"]["sourcedId"],
        "role": obj["role"],
        "primary": obj["primary"],
        "beginDate": _text(obj["beginDate"]),
        "endDate": _text(obj["endDate"]),
    }


# -- the objects of each file, streamed --------------------------------------------------------


def _binary(name: str) -> Collate:
    """Order by code points on every database (PostgreSQL's "C", SQLite's BINARY), as Python
    compares strings: the merge of two ordered streams relies on it."""
    return Collate(F(name), "C" if connection.vendor == "postgresql" else "BINARY")


def _stream(queryset: QuerySet[Any], *order: str) -> Iterator[dict[str, Any]]:
    return queryset.order_by(*(_binary(name) for name in order)).iterator(chunk_size=CHUNK)


def _rendered(resource: Resource, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Rows rendered by the provider, one at a time (for resources whose render reads
    nothing more)."""
    for row in rows:
        yield from resource.render([row], "")


def _parts(resource: Resource) -> list[QuerySet[Any]]:
    if resource.parts is None:
        raise TypeError(f"{resource.name} is not SQL-backed")
    return resource.parts()


def _whole(resource: Resource) -> Iterator[dict[str, Any]]:
    if resource.rows is None:
        raise TypeError(f"{resource.name} is not read whole")
    # A bulk file is what exists: the deleted objects' tombstones (ADR 0018) are left out.
    live = (row for row in resource.rows() if row["status"] != TO_BE_DELETED)
    return _rendered(resource, sorted(live, key=lambda row: row["sourcedId"]))


def _orgs() -> Iterator[dict[str, Any]]:
    return _rendered(ORGS, _stream(_parts(ORGS)[0], "sourcedId"))


def _classes() -> Iterator[dict[str, Any]]:
    """Classes in key order, merged with their SIS terms in the same order (two queries)."""
    terms = _stream(sis_import.course_term_rows(), "course_key", "term")
    pending = next(terms, None)
    for row in _stream(_parts(CLASSES)[0], "sourcedId"):
        key = row["sourcedId"]
        while pending is not None and pending["course_key"] < key:
            pending = next(terms, None)
        mine: list[str] = []
        while pending is not None and pending["course_key"] == key:
            mine.append(pending["term"])
            pending = next(terms, None)
        yield class_object(row, "", mine)


def _users() -> Iterator[dict[str, Any]]:
    """Every user; the (role, org) pairs are roles.csv's business, not written here."""
    for row in _stream(_parts(USERS)[0], "sourcedId"):
        yield user_object(row, "", [])


def _enrollments() -> Iterator[dict[str, Any]]:
    """Active enrollments: course enrollments, then teaching grants (two queries)."""
    for part in _parts(ENROLLMENTS):
        yield from _rendered(ENROLLMENTS, _stream(part.filter(status=ACTIVE), "sourcedId"))


FileRows = Callable[[], Iterator[dict[str, Any]]]

# What each file is made of: its binding, extension columns, its objects, their flattening.
EXPORTS: tuple[
    tuple[spec.CsvFile, tuple[str, ...], FileRows, Callable[..., dict[str, str]]], ...
] = (
    (spec.ACADEMIC_SESSIONS, (), lambda: _whole(ACADEMIC_SESSIONS), _session_row),
    (spec.ORGS, (), _orgs, _org_row),
    (spec.COURSES, (), lambda: _whole(COURSES), _course_row),
    (spec.CLASSES, CLASS_METADATA, _classes, _class_row),
    (spec.USERS, (), _users, _user_row),
    (spec.ENROLLMENTS, (), _enrollments, _enrollment_row),
)


# -- the zip -------------------------------------------------------------------------------------


class _Sink(io.RawIOBase):
    """An unseekable target that keeps what is written until drained: the zip is produced
    piece by piece (zipfile writes data descriptors when it cannot seek back)."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        piece = bytes(data)
        self.pieces.append(piece)
        self.size += len(piece)
        return len(piece)

    def drain(self) -> bytes:
        data = b"".join(self.pieces)
        self.pieces.clear()
        self.size = 0
        return data


def iter_zip(*, counts: dict[str, int] | None = None) -> Iterator[bytes]:
    """The bulk zip, in pieces, written as the rows are read. A file with no rows is left out
    and named `absent` in the manifest (the binding allows no file without data rows).
    `counts`, when given, receives the rows written per file."""
    sink = _Sink()
    modes: dict[str, spec.Mode] = {}
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for binding, extra, objects, flatten in EXPORTS:
            rows = objects()
            first = next(rows, None)
            written = 0
            if first is not None:
                modes[binding.name] = spec.Mode.BULK
                columns = (*binding.columns, *extra)
                with archive.open(binding.member, "w", force_zip64=True) as member:
                    text = io.TextIOWrapper(member, encoding="utf-8", newline="")
                    writer = csv.writer(text, lineterminator="\r\n")
                    writer.writerow(columns)
                    for obj in _chain(first, rows):
                        values = flatten(obj)
                        writer.writerow(
                            [obj["sourcedId"]] + [values.get(c, "") for c in columns[1:]]
                        )
                        written += 1
                        if sink.size >= FLUSH_BYTES:
                            text.flush()
                            yield sink.drain()
                    text.flush()
                    text.detach()
            if counts is not None:
                counts[binding.name] = written
        with archive.open(spec.MANIFEST, "w") as member:
            text = io.TextIOWrapper(member, encoding="utf-8", newline="")
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow(spec.MANIFEST_HEADER)
            writer.writerows(spec.manifest_rows(modes, system_name=SYSTEM_NAME))
            text.flush()
            text.detach()
    yield sink.drain()


def _chain(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


def write_zip(target: IO[bytes]) -> dict[str, int]:
    """Write the bulk zip to a binary file; returns the rows written per file."""
    counts: dict[str, int] = {}
    for piece in iter_zip(counts=counts):
        target.write(piece)
    return counts
