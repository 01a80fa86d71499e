"""Elements to records: the IMS Enterprise 1.1 vocabulary (person, group, membership).

The byte-level work (encodings, hostile markup, line numbers, streaming) is in parser.py;
this module turns one finished element into a record, or raises `InvalidRecord` for a record the
parser reports as a RecordError and goes past.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, TypeAlias

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints

from rollbook.sis_import.data import (
    GroupRecord,
    MemberRecord,
    PersonRecord,
    Relationship,
)
from rollbook.sis_import.errors import (
    MSG_BAD_DATE,
    MSG_BAD_IDTYPE,
    MSG_BAD_RECSTATUS,
    MSG_BAD_STATUS,
    MSG_HOSTILE_NODE,
    MSG_MISSING_IDTYPE,
    MSG_MISSING_MEMBER_ID,
    MSG_MISSING_RELATIONSHIP_ID,
    MSG_MISSING_ROLE,
    MSG_MISSING_ROLETYPE,
    MSG_MISSING_SOURCEDID,
    MSG_MISSING_TYPEVALUE,
    FeedError,
    SisErrorCode,
)

Element: TypeAlias = Any  # lxml.etree._Element


_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ].*)?", re.DOTALL)


class InvalidRecord(Exception):
    """A record that cannot be read: becomes a RecordError."""

    def __init__(self, code: SisErrorCode, message: str, record_id: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.record_id = record_id


def local_name(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def children_of(elem: Element) -> list[tuple[str, Element]]:
    """(local name, element) of each child element. Comments and processing instructions are
    not in the tree (the parser drops them); an entity node is refused."""
    children = [(child.tag.rpartition("}")[2], child) for child in elem if type(child.tag) is str]
    if len(children) != len(elem) and any(child.tag is etree.Entity for child in elem):
        raise FeedError(SisErrorCode.HOSTILE_XML, MSG_HOSTILE_NODE)
    return children


def text_of(elem: Element) -> str:
    text: str | None = elem.text
    return text.strip() if text else ""


def attr_of(elem: Element, name: str) -> str:
    value: str | None = elem.get(name)
    return value.strip() if value else ""


def sourcedid_of(elem: Element) -> tuple[str, str]:
    source = ident = ""
    for name, child in children_of(elem):
        if name == "source" and not source:
            source = text_of(child)
        elif name == "id" and not ident:
            ident = text_of(child)
    return source, ident


def _recstatus(elem: Element, record_id: str) -> int:
    value = attr_of(elem, "recstatus")
    if not value:
        return 1
    if value in ("1", "2", "3"):
        return int(value)
    raise InvalidRecord(SisErrorCode.BAD_VALUE, MSG_BAD_RECSTATUS.format(value=value), record_id)


def _date(elem: Element, record_id: str) -> dt.date | None:
    value = text_of(elem)
    if not value:
        return None
    match = _DATE.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise InvalidRecord(
            SisErrorCode.BAD_DATE,
            MSG_BAD_DATE.format(value=value, element=local_name(elem.tag)),
            record_id,
        ) from None


def _timeframe(elem: Element, record_id: str) -> tuple[dt.date | None, dt.date | None, bool, bool]:
    begin = end = None
    begin_restrict = end_restrict = False
    for name, child in children_of(elem):
        if name == "begin":
            begin = _date(child, record_id)
            begin_restrict = attr_of(child, "restrict") == "1"
        elif name == "end":
            end = _date(child, record_id)
            end_restrict = attr_of(child, "restrict") == "1"
    return begin, end, begin_restrict, end_restrict


def _identity(elem: Element, kind: str) -> tuple[str, str, int]:
    """The record's sourcedid (source, id) and recstatus; no id is a refused record."""
    source = sourcedid = ""
    for name, child in children_of(elem):
        if name == "sourcedid":
            source, sourcedid = sourcedid_of(child)
            if sourcedid:
                break
    if not sourcedid:
        raise InvalidRecord(SisErrorCode.MISSING_FIELD, MSG_MISSING_SOURCEDID.format(kind=kind))
    return source, sourcedid, _recstatus(elem, sourcedid)


def person_record(elem: Element, line: int) -> PersonRecord:
    source, sourcedid, recstatus = _identity(elem, "person")
    userids: dict[str, str] = {}
    passwords: dict[str, str] = {}
    names = {"fn": "", "nickname": "", "family": "", "given": ""}
    partnames: list[str] = []
    email = role = ""
    role_is_primary = False
    for name, child in children_of(elem):
        if name == "userid":
            kind, value = attr_of(child, "useridtype"), text_of(child)
            if kind and value and kind not in userids:
                userids[kind] = value
                password = child.get("password")
                if password:
                    passwords[kind] = password
        elif name == "name":
            for part_name, part in children_of(child):
                if part_name in ("fn", "nickname") and not names[part_name]:
                    names[part_name] = text_of(part)
                elif part_name == "n":
                    for sub_name, sub in children_of(part):
                        if sub_name in ("family", "given") and not names[sub_name]:
                            names[sub_name] = text_of(sub)
                        elif sub_name == "partname" and (text := text_of(sub)):
                            partnames.append(text)
        elif name == "email" and not email:
            email = text_of(child)
        elif name == "institutionrole":
            kind = attr_of(child, "institutionroletype")
            primary = attr_of(child, "primaryrole").lower() == "yes"
            if kind and (not role or (primary and not role_is_primary)):
                role, role_is_primary = kind, primary
    return PersonRecord(
        sourcedid_source=source,
        sourcedid=sourcedid,
        recstatus=recstatus,
        userids=userids,
        passwords=passwords,
        full_name=names["fn"],
        nickname=names["nickname"],
        family=names["family"],
        given=names["given"],
        partname=" ".join(partnames),
        email=email,
        institution_role=role,
        line=line,
    )


def group_record(elem: Element, line: int) -> GroupRecord:
    source, sourcedid, recstatus = _identity(elem, "group")
    grouptype = orgunit = ""
    descriptions = {"short": "", "long": "", "full": ""}
    begin = end = None
    begin_restrict = end_restrict = False
    relationships: list[Relationship] = []
    for name, child in children_of(elem):
        if name == "grouptype" and not grouptype:
            for part_name, part in children_of(child):
                if part_name == "typevalue" and (value := text_of(part)):
                    grouptype = value
                    break
        elif name == "description":
            for part_name, part in children_of(child):
                if part_name in descriptions and not descriptions[part_name]:
                    descriptions[part_name] = text_of(part)
        elif name == "org":
            for part_name, part in children_of(child):
                if part_name == "orgunit" and not orgunit:
                    orgunit = text_of(part)
        elif name == "timeframe":
            begin, end, begin_restrict, end_restrict = _timeframe(child, sourcedid)
        elif name == "relationship":
            related = label = ""
            for part_name, part in children_of(child):
                if part_name == "sourcedid" and not related:
                    related = sourcedid_of(part)[1]
                elif part_name == "label" and not label:
                    label = text_of(part)
            if not related:
                raise InvalidRecord(
                    SisErrorCode.MISSING_FIELD, MSG_MISSING_RELATIONSHIP_ID, sourcedid
                )
            relationships.append(Relationship(attr_of(child, "relation"), related, label))
    if not grouptype:
        raise InvalidRecord(SisErrorCode.MISSING_FIELD, MSG_MISSING_TYPEVALUE, sourcedid)
    return GroupRecord(
        sourcedid_source=source,
        sourcedid=sourcedid,
        recstatus=recstatus,
        grouptype=grouptype,
        short=descriptions["short"],
        long=descriptions["long"],
        full=descriptions["full"],
        orgunit=orgunit,
        begin=begin,
        end=end,
        begin_restrict=begin_restrict,
        end_restrict=end_restrict,
        relationships=tuple(relationships),
        line=line,
    )


def member_parts(elem: Element) -> tuple[str, int, list[Element]]:
    """A <member>'s sourcedid, idtype and <role> elements."""
    sourcedid = ""
    idtype: str | None = None
    roles: list[Element] = []
    for name, child in children_of(elem):
        if name == "sourcedid" and not sourcedid:
            sourcedid = sourcedid_of(child)[1]
        elif name == "idtype" and idtype is None:
            idtype = text_of(child)
        elif name == "role":
            roles.append(child)
    if not sourcedid:
        raise InvalidRecord(SisErrorCode.MISSING_FIELD, MSG_MISSING_MEMBER_ID)
    if not idtype:
        raise InvalidRecord(SisErrorCode.MISSING_FIELD, MSG_MISSING_IDTYPE.format(member=sourcedid))
    if idtype not in ("1", "2"):
        raise InvalidRecord(
            SisErrorCode.BAD_VALUE, MSG_BAD_IDTYPE.format(member=sourcedid, value=idtype)
        )
    if not roles:
        raise InvalidRecord(SisErrorCode.MISSING_FIELD, MSG_MISSING_ROLE.format(member=sourcedid))
    return sourcedid, int(idtype), roles


def role_record(elem: Element, sourcedid: str, idtype: int) -> MemberRecord:
    roletype = attr_of(elem, "roletype")
    status: str | None = None
    begin = end = None
    for name, child in children_of(elem):
        if name == "roletype" and not roletype:
            roletype = text_of(child)
        elif name == "status" and status is None:
            status = text_of(child)
        elif name == "timeframe":
            begin, end, _, _ = _timeframe(child, sourcedid)
    if not roletype:
        raise InvalidRecord(
            SisErrorCode.MISSING_FIELD, MSG_MISSING_ROLETYPE.format(member=sourcedid)
        )
    if roletype.isdigit() and len(roletype) == 1:
        roletype = "0" + roletype
    if status not in (None, "", "0", "1"):
        raise InvalidRecord(
            SisErrorCode.BAD_VALUE, MSG_BAD_STATUS.format(member=sourcedid, value=status)
        )
    return MemberRecord(
        sourcedid=sourcedid,
        idtype=idtype,
        roletype=roletype,
        recstatus=_recstatus(elem, sourcedid),
        status=0 if status == "0" else 1,
        begin=begin,
        end=end,
    )
