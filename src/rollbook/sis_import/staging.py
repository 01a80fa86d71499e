"""Staging parsed records by natural key, in batches: one SELECT per batch (of ids and
digests only, no model instances), then bulk writes of only what is new or changed. An
identical record writes nothing at all.

New rows skip the ORM: one `executemany` per batch on SQLite, one `COPY` per batch on
PostgreSQL, with the record's JSON encoded once (the text that is hashed is the text stored).
Changed rows go through `bulk_update`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Model

from rollbook.sis_import.data import (
    GroupRecord,
    MembershipRecord,
    PersonRecord,
    Record,
    RecordError,
)
from rollbook.sis_import.models import (
    RowState,
    StagedCrossListMember,
    StagedGroup,
    StagedMembership,
    StagedPerson,
)

BATCH = 5000
_IN_CHUNK = 900

PERSON = "person"
GROUP = "group"
MEMBERSHIP = "membership"
CROSSLIST = "crosslist"
KINDS = (PERSON, GROUP, MEMBERSHIP, CROSSLIST)


def _encode(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def _fingerprint(raw: str) -> str:
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def digest(data: dict[str, Any]) -> str:
    """A short, stable fingerprint of a record's content."""
    return _fingerprint(_encode(data))


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def person_data(record: PersonRecord) -> dict[str, Any]:
    """What is staged of a person: everything but passwords, which are never stored."""
    return {
        "source": record.sourcedid_source,
        "recstatus": record.recstatus,
        "userids": dict(record.userids),
        "full_name": record.full_name,
        "nickname": record.nickname,
        "family": record.family,
        "given": record.given,
        "partname": record.partname,
        "email": record.email,
        "institution_role": record.institution_role,
    } | ({} if record.enabled is None else {"enabled": record.enabled})


def group_data(record: GroupRecord) -> dict[str, Any]:
    return {
        "source": record.sourcedid_source,
        "recstatus": record.recstatus,
        "grouptype": record.grouptype,
        "short": record.short,
        "long": record.long,
        "full": record.full,
        "orgunit": record.orgunit,
        "begin": _date(record.begin),
        "end": _date(record.end),
        "begin_restrict": record.begin_restrict,
        "end_restrict": record.end_restrict,
        "relationships": [
            {"relation": rel.relation, "sourcedid": rel.sourcedid, "label": rel.label}
            for rel in record.relationships
        ],
    }


def group_term(record: GroupRecord) -> str:
    """The sourcedid of the term a section belongs to (relationship labelled Term), or ""."""
    for rel in record.relationships:
        if rel.label.strip().lower() == "term":
            return rel.sourcedid
    if record.grouptype == "CourseSection" and "." in record.sourcedid:
        return record.sourcedid.rsplit(".", 1)[1]  # CRN.TERM
    return ""


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


@dataclass
class StageResult:
    counts: dict[str, Counts] = field(default_factory=lambda: {kind: Counts() for kind in KINDS})
    errors: list[RecordError] = field(default_factory=list)
    # Natural keys of every membership in this feed (for comprehensive mode).
    seen_memberships: set[tuple[str, str, str]] = field(default_factory=set)
    terms: set[str] = field(default_factory=set)
    # Groups with a member the parser refused: a comprehensive run cannot tell what they lost.
    groups_with_errors: set[str] = field(default_factory=set)

    @property
    def records(self) -> int:
        return sum(c.created + c.updated + c.unchanged for c in self.counts.values())


@dataclass(frozen=True, slots=True)
class _Spec:
    model: type[Model]
    key_fields: tuple[str, ...]
    update_fields: tuple[str, ...]


_SPECS: dict[str, _Spec] = {
    PERSON: _Spec(
        StagedPerson,
        ("sourcedid",),
        ("source", "recstatus", "data", "digest", "changed_by", "changed_at", "state"),
    ),
    GROUP: _Spec(
        StagedGroup,
        ("sourcedid",),
        ("grouptype", "term", "recstatus", "data", "digest", "changed_by", "changed_at", "state"),
    ),
    MEMBERSHIP: _Spec(
        StagedMembership,
        ("group_sourcedid", "person_sourcedid", "roletype"),
        ("status", "recstatus", "data", "digest", "changed_by", "changed_at", "state"),
    ),
    CROSSLIST: _Spec(
        StagedCrossListMember,
        ("crosslist_sourcedid", "section_sourcedid"),
        ("status", "recstatus", "data", "digest", "changed_by", "changed_at", "state"),
    ),
}


class Stager:
    """Buffers records and stages them a batch at a time.

    `on_change(kind, key)` is called for every created or changed row, so that the caller
    knows what the feed touched (apply works on those and on what waits for them).
    """

    def __init__(
        self,
        *,
        changed_by: str,
        now: dt.datetime,
        on_change: Callable[[str, tuple[str, ...]], None] | None = None,
    ) -> None:
        self.changed_by = changed_by
        self.now = now
        self.on_change = on_change
        self.result = StageResult()
        self._buffers: dict[str, dict[tuple[str, ...], dict[str, Any]]] = {
            kind: {} for kind in KINDS
        }

    # ------------------------------------------------------------ intake

    def add(self, record: Record) -> None:
        if isinstance(record, RecordError):
            self.result.errors.append(record)
            if record.kind == "membership" and record.record_id:
                self.result.groups_with_errors.add(record.record_id)
        elif isinstance(record, PersonRecord):
            data = person_data(record)
            self._put(
                PERSON,
                (record.sourcedid,),
                {
                    "sourcedid": record.sourcedid,
                    "source": record.sourcedid_source,
                    "recstatus": record.recstatus,
                    "data": data,
                },
            )
        elif isinstance(record, GroupRecord):
            data = group_data(record)
            term = group_term(record)
            if record.grouptype == "Term":
                self.result.terms.add(record.sourcedid)
            elif term:
                self.result.terms.add(term)
            self._put(
                GROUP,
                (record.sourcedid,),
                {
                    "sourcedid": record.sourcedid,
                    "grouptype": record.grouptype,
                    "term": term,
                    "recstatus": record.recstatus,
                    "data": data,
                },
            )
        elif isinstance(record, MembershipRecord):
            for member in record.members:
                data = {
                    "recstatus": member.recstatus,
                    "status": member.status,
                    "begin": _date(member.begin),
                    "end": _date(member.end),
                }
                if member.idtype == 2:
                    self._put(
                        CROSSLIST,
                        (record.group_sourcedid, member.sourcedid),
                        {
                            "crosslist_sourcedid": record.group_sourcedid,
                            "section_sourcedid": member.sourcedid,
                            "status": member.status,
                            "recstatus": member.recstatus,
                            "data": data,
                        },
                    )
                    continue
                key = (record.group_sourcedid, member.sourcedid, member.roletype)
                self.result.seen_memberships.add(key)
                self._put(
                    MEMBERSHIP,
                    key,
                    {
                        "group_sourcedid": record.group_sourcedid,
                        "person_sourcedid": member.sourcedid,
                        "roletype": member.roletype,
                        "status": member.status,
                        "recstatus": member.recstatus,
                        "data": data,
                    },
                )

    def add_all(self, records: Iterable[Record]) -> StageResult:
        for record in records:
            self.add(record)
        self.flush()
        return self.result

    def _put(self, kind: str, key: tuple[str, ...], values: dict[str, Any]) -> None:
        raw = _encode(values["data"])
        values["digest"] = _fingerprint(raw)
        values[_RAW] = raw  # the JSON text, stored as is by the fast insert
        values["state"] = RowState.NEW.value  # new or changed: apply takes it
        values["changed_by"] = self.changed_by  # per record: a live batch names each message
        buffer = self._buffers[kind]
        buffer[key] = values  # a later record for the same key in one batch wins
        if len(buffer) >= BATCH:
            self._flush_kind(kind)

    # ------------------------------------------------------------ writes

    def flush(self) -> None:
        # Groups before memberships, persons before memberships: order within a flush does not
        # matter for correctness (apply resolves), only for readable logs.
        for kind in (PERSON, GROUP, CROSSLIST, MEMBERSHIP):
            self._flush_kind(kind)

    def _existing(self, spec: _Spec, keys: list[tuple[str, ...]]) -> dict[tuple[str, ...], Any]:
        """(id, digest) of the staged rows among `keys`, by key."""
        found: dict[tuple[str, ...], tuple[int, str]] = {}
        manager = spec.model._default_manager
        if len(spec.key_fields) == 1:
            name = spec.key_fields[0]
            flat = [key[0] for key in keys]
            for start in range(0, len(flat), _IN_CHUNK):
                rows = manager.filter(**{f"{name}__in": flat[start : start + _IN_CHUNK]})
                for pk, value, row_digest in rows.values_list("id", name, "digest"):
                    found[(value,)] = (pk, row_digest)
            return found
        # Composite keys: narrow by the first field, then match the whole key in Python.
        first = spec.key_fields[0]
        firsts = sorted({key[0] for key in keys})
        wanted = set(keys)
        for start in range(0, len(firsts), _IN_CHUNK):
            rows = manager.filter(**{f"{first}__in": firsts[start : start + _IN_CHUNK]})
            for pk, *key_values, row_digest in rows.values_list("id", *spec.key_fields, "digest"):
                key = tuple(key_values)
                if key in wanted:
                    found[key] = (pk, row_digest)
        return found

    def _flush_kind(self, kind: str) -> None:
        buffer = self._buffers[kind]
        if not buffer:
            return
        spec = _SPECS[kind]
        counts = self.result.counts[kind]
        existing = self._existing(spec, list(buffer))
        creates: list[dict[str, Any]] = []
        updates: list[Model] = []
        for key, values in buffer.items():
            row = existing.get(key)
            if row is None:
                creates.append(values)
                counts.created += 1
            elif row[1] == values["digest"]:
                counts.unchanged += 1
                continue
            else:
                fields = {name: value for name, value in values.items() if name != _RAW}
                updates.append(spec.model(id=row[0], **fields, changed_at=self.now))
                counts.updated += 1
            if self.on_change:
                self.on_change(kind, key)
        if not (creates or updates):
            buffer.clear()  # all known and unchanged: the read was all
            return
        with transaction.atomic(using=router.db_for_write(spec.model)):
            if creates:
                self._insert(spec, creates)
            if updates:
                spec.model._default_manager.bulk_update(
                    updates, list(spec.update_fields), batch_size=500
                )
        buffer.clear()

    def _insert(self, spec: _Spec, rows: list[dict[str, Any]]) -> None:
        """New rows without the ORM: every concrete column but the id, the record's JSON as
        encoded for its digest, the other fields' defaults prepared once per batch."""
        connection = connections[router.db_for_write(spec.model)]
        columns: list[str] = []
        names: list[str] = []
        constants: dict[str, Any] = {}
        for model_field in spec.model._meta.concrete_fields:
            if model_field.primary_key:
                continue
            columns.append(str(model_field.column))
            name = model_field.name
            if name == "data":
                names.append(_RAW)
                continue
            names.append(name)
            if name == "changed_at":
                constants[name] = model_field.get_db_prep_save(self.now, connection=connection)
            elif name not in rows[0]:
                default = model_field.get_default()
                constants[name] = model_field.get_db_prep_save(default, connection=connection)
        row_of = operator.itemgetter(*names)
        table = connection.ops.quote_name(spec.model._meta.db_table)
        quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                    for values in rows:
                        values.update(constants)
                        copy.write_row(row_of(values))
                return
            marks = ", ".join(["%s"] * len(columns))
            for values in rows:
                values.update(constants)
            cursor.executemany(
                f"INSERT INTO {table} ({quoted}) VALUES ({marks})",  # noqa: S608 (our own names)
                [row_of(values) for values in rows],
            )


_RAW = "_data_json"
