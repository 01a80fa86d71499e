"""The IMS Enterprise parser: records out of hand-written feeds, Banner's quirks accepted
(no root, no line breaks, Latin-1, UTF-16, namespaces), hostile and broken XML refused."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, BinaryIO, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollbook.sis_import.data import (
    GroupRecord,
    MemberRecord,
    MembershipRecord,
    PersonRecord,
    Record,
    RecordError,
    RecordKind,
    Relationship,
)
from rollbook.sis_import.errors import FeedError, SisErrorCode
from rollbook.sis_import.parser import iter_records, parse_message


def parse(doc: str | bytes, **kwargs: Any) -> list[Record]:
    raw = doc.encode() if isinstance(doc, str) else doc
    return list(iter_records(io.BytesIO(raw), **kwargs))


def refused(doc: str | bytes, **kwargs: Any) -> tuple[FeedError, list[Record]]:
    """The FeedError a feed raises, and what was yielded before it."""
    raw = doc.encode() if isinstance(doc, str) else doc
    yielded: list[Record] = []
    try:
        for record in iter_records(io.BytesIO(raw), **kwargs):
            yielded.append(record)
    except FeedError as exc:
        return exc, yielded
    pytest.fail("the feed was not refused")


def person(ident: str, extra: str = "", attrs: str = "") -> str:
    return (
        f"<person{attrs}><sourcedid><source>SCT</source><id>{ident}</id></sourcedid>"
        f"{extra}</person>"
    )


PERSON_FULL = """<?xml version="1.0" encoding="UTF-8"?>
<enterprise>
  <properties>
    <datasource>Banner</datasource>
    <datetime>2017-09-01T02:00:00</datetime>
  </properties>
  <person>
    <sourcedid>
      <source>Sungard Higher Education</source>
      <id> @00012345 </id>
    </sourcedid>
    <userid useridtype="Logon ID" password="hunter2" pwencryptiontype="none">jdoe</userid>
    <userid useridtype="SCTID">@00012345</userid>
    <userid>no-type-ignored</userid>
    <userid useridtype="Email ID">jdoe@example.edu</userid>
    <userid useridtype="Logon ID">second-logon-ignored</userid>
    <userid useridtype="Other ID">X-77</userid>
    <name>
      <fn>Jane Q. Doe</fn>
      <nickname>Janie</nickname>
      <n>
        <family>Doe</family>
        <given>Jane</given>
        <partname partnametype="MiddleName">Quinn</partname>
        <partname partnametype="Suffix">Jr.</partname>
      </n>
    </name>
    <demographics><gender>2</gender></demographics>
    <email>jane.doe@example.edu</email>
    <tel teltype="1">555-0100</tel>
    <institutionrole primaryrole="No" institutionroletype="Staff"/>
    <institutionrole primaryrole="Yes" institutionroletype="Student"/>
    <extension><luminisperson><academic_major>History</academic_major></luminisperson></extension>
  </person>
</enterprise>
"""


# ---------------------------------------------------------------- persons


def test_person_with_every_part() -> None:
    [record] = parse(PERSON_FULL)
    assert record == PersonRecord(
        sourcedid_source="Sungard Higher Education",
        sourcedid="@00012345",
        recstatus=1,  # no recstatus attribute
        userids={
            "Logon ID": "jdoe",
            "SCTID": "@00012345",
            "Email ID": "jdoe@example.edu",
            "Other ID": "X-77",
        },
        passwords={"Logon ID": "hunter2"},
        full_name="Jane Q. Doe",
        nickname="Janie",
        family="Doe",
        given="Jane",
        partname="Quinn Jr.",
        email="jane.doe@example.edu",
        institution_role="Student",
        line=7,
    )


def test_userids_first_of_a_type_wins_and_untyped_ones_are_ignored() -> None:
    [record] = parse(PERSON_FULL)
    assert isinstance(record, PersonRecord)
    assert record.userids["Logon ID"] == "jdoe"
    assert "no-type-ignored" not in record.userids.values()
    assert "" not in record.userids


def test_passwords_are_kept_but_never_shown() -> None:
    [record] = parse(PERSON_FULL)
    assert isinstance(record, PersonRecord)
    assert record.passwords == {"Logon ID": "hunter2"}
    assert "hunter2" not in repr(record)
    assert "hunter2" not in str(record)
    assert "passwords" not in repr(record)


def test_a_person_with_only_its_id_has_empty_optional_fields() -> None:
    [record] = parse(person("1"))
    assert record == PersonRecord("SCT", "1", line=1)
    assert isinstance(record, PersonRecord)
    assert (record.full_name, record.email, record.institution_role) == ("", "", "")
    assert record.userids == {}
    assert record.passwords == {}


def test_first_institution_role_when_none_is_primary() -> None:
    extra = (
        '<institutionrole primaryrole="No" institutionroletype="Faculty"/>'
        '<institutionrole primaryrole="No" institutionroletype="Staff"/>'
    )
    [record] = parse(person("1", extra))
    assert isinstance(record, PersonRecord)
    assert record.institution_role == "Faculty"


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [("", 1), (' recstatus="1"', 1), (' recstatus="2"', 2), (' recstatus = "3"', 3)],
)
def test_recstatus(attrs: str, expected: int) -> None:
    [record] = parse(person("1", attrs=attrs))
    assert isinstance(record, PersonRecord)
    assert record.recstatus == expected


def test_unknown_recstatus_is_a_record_error() -> None:
    records = parse(person("1", attrs=' recstatus="4"') + person("2"))
    assert records[0] == RecordError(
        1,
        RecordKind.PERSON,
        "1",
        SisErrorCode.BAD_VALUE,
        "The recstatus '4' is not 1 (add), 2 (update) or 3 (delete).",
    )
    assert records[1] == PersonRecord("SCT", "2", line=1)


def test_person_without_sourcedid_is_a_record_error_and_the_next_one_still_comes() -> None:
    doc = (
        "<enterprise>\n"
        "<person><sourcedid><source>SCT</source></sourcedid><name><fn>Nobody</fn></name></person>\n"
        f"{person('2')}\n"
        "</enterprise>\n"
    )
    error, following = parse(doc)
    assert error == RecordError(
        2, RecordKind.PERSON, "", SisErrorCode.MISSING_FIELD, "The person has no <sourcedid><id>."
    )
    assert following == PersonRecord("SCT", "2", line=3)


def test_text_is_stripped_and_cdata_and_comments_are_read_through() -> None:
    extra = (
        "<name><fn>\n   <![CDATA[Tom & Jerry]]>  </fn>"
        "<n><family>O<!-- a comment -->'Brien</family></n></name>"
    )
    [record] = parse(person(" 7 ", extra))
    assert isinstance(record, PersonRecord)
    assert (record.sourcedid, record.full_name, record.family) == ("7", "Tom & Jerry", "O'Brien")


# ---------------------------------------------------------------- groups

SECTION = """<group recstatus="2">
  <sourcedid><source>Sungard Higher Education</source><id>1234.201740</id></sourcedid>
  <grouptype>
    <scheme>Luminis</scheme>
    <typevalue level = "1">CourseSection</typevalue>
  </grouptype>
  <description>
    <short>1234</short>
    <long>HIST-101-01</long>
    <full>Introduction to History &amp; Culture</full>
  </description>
  <org><orgname>Example U</orgname><orgunit>History</orgunit></org>
  <timeframe>
    <begin restrict = "1">2017-08-28</begin>
    <end restrict="0">2017-12-15T23:59:00</end>
  </timeframe>
  <enrollcontrol><enrollaccept>1</enrollaccept></enrollcontrol>
  <relationship relation = "1">
    <sourcedid><source>Sungard Higher Education</source><id>201740</id></sourcedid>
    <label>Term</label>
  </relationship>
  <relationship relation="1">
    <sourcedid><source>Sungard Higher Education</source><id>HIST101</id></sourcedid>
    <label>Course</label>
  </relationship>
</group>"""


def group(ident: str, typevalue: str, extra: str = "") -> str:
    return (
        f"<group><sourcedid><source>SCT</source><id>{ident}</id></sourcedid>"
        f"<grouptype><typevalue>{typevalue}</typevalue></grouptype>{extra}</group>"
    )


def test_course_section_with_timeframe_and_relationships() -> None:
    [record] = parse(SECTION)
    assert record == GroupRecord(
        sourcedid_source="Sungard Higher Education",
        sourcedid="1234.201740",
        recstatus=2,
        grouptype="CourseSection",
        short="1234",
        long="HIST-101-01",
        full="Introduction to History & Culture",
        orgunit="History",
        begin=dt.date(2017, 8, 28),
        end=dt.date(2017, 12, 15),
        begin_restrict=True,
        end_restrict=False,
        relationships=(
            Relationship("1", "201740", "Term"),
            Relationship("1", "HIST101", "Course"),
        ),
        line=1,
    )


def test_term_and_cross_listed_groups() -> None:
    doc = "\n".join(
        [
            "<enterprise>",
            group(
                "201740",
                "Term",
                "<description><short>201740</short><long>Fall 2017</long></description>"
                "<timeframe><begin>2017-08-28</begin><end>2017-12-15</end></timeframe>",
            ),
            group("XLS01.201740", "CrossListedSection"),
            group("ODD", "SomethingElse"),
            "</enterprise>",
        ]
    )
    term, crosslist, other = parse(doc)
    assert term == GroupRecord(
        "SCT",
        "201740",
        grouptype="Term",
        short="201740",
        long="Fall 2017",
        begin=dt.date(2017, 8, 28),
        end=dt.date(2017, 12, 15),
        line=2,
    )
    assert isinstance(crosslist, GroupRecord)
    assert isinstance(other, GroupRecord)
    assert (crosslist.grouptype, crosslist.line) == ("CrossListedSection", 3)
    assert (other.grouptype, other.begin, other.relationships) == ("SomethingElse", None, ())


def test_group_without_typevalue_is_a_record_error() -> None:
    doc = (
        "<group><sourcedid><id>G1</id></sourcedid><grouptype><scheme>x</scheme></grouptype>"
        "</group>" + group("G2", "Term")
    )
    error, following = parse(doc)
    assert error == RecordError(
        1,
        RecordKind.GROUP,
        "G1",
        SisErrorCode.MISSING_FIELD,
        "The group has no <grouptype><typevalue>.",
    )
    assert isinstance(following, GroupRecord)
    assert following.sourcedid == "G2"


@pytest.mark.parametrize("value", ["2017-13-01", "2017-02-30", "28/08/2017", "2017-8-28", "soon"])
def test_bad_date_is_a_record_error(value: str) -> None:
    doc = group("G1", "Term", f"<timeframe><begin>{value}</begin></timeframe>") + group(
        "G2", "Term"
    )
    error, following = parse(doc)
    assert isinstance(error, RecordError)
    assert (error.kind, error.record_id, error.code) == (
        RecordKind.GROUP,
        "G1",
        SisErrorCode.BAD_DATE,
    )
    assert value in error.message
    assert isinstance(following, GroupRecord)


@pytest.mark.parametrize(
    "value", ["2017-08-28", " 2017-08-28 ", "2017-08-28T00:00:00", "2017-08-28 08:00:00-05:00"]
)
def test_dates_may_have_a_time_part(value: str) -> None:
    [record] = parse(group("G1", "Term", f"<timeframe><begin>{value}</begin><end/></timeframe>"))
    assert isinstance(record, GroupRecord)
    assert (record.begin, record.end) == (dt.date(2017, 8, 28), None)


def test_relationship_without_id_is_a_record_error() -> None:
    extra = (
        "<relationship relation='1'><sourcedid><source>x</source></sourcedid>"
        "<label>Term</label></relationship>"
    )
    [error] = parse(group("G1", "CourseSection", extra))
    assert isinstance(error, RecordError)
    assert (error.record_id, error.code) == ("G1", SisErrorCode.MISSING_FIELD)


# ---------------------------------------------------------------- memberships

MEMBERSHIP = """<membership>
  <sourcedid><source>SCT</source><id>1234.201740</id></sourcedid>
  <member>
    <sourcedid><source>SCT</source><id>@001</id></sourcedid>
    <idtype>1</idtype>
    <role roletype = "01"><status>1</status></role>
  </member>
  <member>
    <sourcedid><source>SCT</source><id>@002</id></sourcedid>
    <idtype>1</idtype>
    <role recstatus="3"><roletype>2</roletype><status>0</status>
      <timeframe><begin restrict="1">2017-08-28</begin><end>2017-10-01</end></timeframe>
    </role>
  </member>
  <member>
    <sourcedid><source>SCT</source><id>@003</id></sourcedid>
    <idtype>1</idtype>
    <role roletype="02"><status>1</status></role>
    <role roletype="08"><status>1</status></role>
  </member>
  <member>
    <sourcedid><source>SCT</source><id>9876.201740</id></sourcedid>
    <idtype>2</idtype>
    <role roletype="01"/>
  </member>
</membership>"""


def test_membership_members_and_roles() -> None:
    [record] = parse(MEMBERSHIP)
    assert record == MembershipRecord(
        "1234.201740",
        (
            MemberRecord("@001", 1, "01"),
            MemberRecord(
                "@002",
                1,
                "02",  # a <roletype> child element, "2" padded
                recstatus=3,
                status=0,
                begin=dt.date(2017, 8, 28),
                end=dt.date(2017, 10, 1),
            ),
            MemberRecord("@003", 1, "02"),  # one record per role
            MemberRecord("@003", 1, "08"),
            MemberRecord("9876.201740", 2, "01"),  # a section in a cross-list
        ),
        line=1,
    )


def test_bad_members_are_record_errors_and_the_others_stay() -> None:
    doc = """<enterprise>
<membership>
  <sourcedid><id>S1</id></sourcedid>
  <member><sourcedid><source>SCT</source></sourcedid><idtype>1</idtype><role roletype="01"/>
  </member>
  <member><sourcedid><id>@9</id></sourcedid><idtype>1</idtype><role roletype="01"/></member>
  <member><sourcedid><id>@8</id></sourcedid><idtype>3</idtype><role roletype="01"/></member>
  <member><sourcedid><id>@7</id></sourcedid><idtype>1</idtype>
    <role roletype="01" recstatus="9"/><role roletype="02"/></member>
  <member><sourcedid><id>@6</id></sourcedid><idtype>1</idtype><role/></member>
  <member><sourcedid><id>@5</id></sourcedid><idtype>1</idtype>
    <role roletype="01"><status>7</status></role></member>
  <member><sourcedid><id>@4</id></sourcedid><idtype>1</idtype>
    <role roletype="01"><timeframe><begin>someday</begin></timeframe></role></member>
  <member><sourcedid><id>@3</id></sourcedid><role roletype="01"/></member>
  <member><sourcedid><id>@2</id></sourcedid><idtype>1</idtype></member>
</membership>
</enterprise>"""
    membership, *errors = parse(doc)
    assert membership == MembershipRecord(
        "S1", (MemberRecord("@9", 1, "01"), MemberRecord("@7", 1, "02")), line=2
    )
    assert [
        (e.line, e.kind, e.record_id, e.code) for e in errors if isinstance(e, RecordError)
    ] == [
        (4, RecordKind.MEMBERSHIP, "S1", SisErrorCode.MISSING_FIELD),  # no sourcedid id
        (7, RecordKind.MEMBERSHIP, "S1", SisErrorCode.BAD_VALUE),  # idtype 3
        (8, RecordKind.MEMBERSHIP, "S1", SisErrorCode.BAD_VALUE),  # recstatus 9
        (10, RecordKind.MEMBERSHIP, "S1", SisErrorCode.MISSING_FIELD),  # no roletype
        (11, RecordKind.MEMBERSHIP, "S1", SisErrorCode.BAD_VALUE),  # status 7
        (13, RecordKind.MEMBERSHIP, "S1", SisErrorCode.BAD_DATE),
        (15, RecordKind.MEMBERSHIP, "S1", SisErrorCode.MISSING_FIELD),  # no idtype
        (16, RecordKind.MEMBERSHIP, "S1", SisErrorCode.MISSING_FIELD),  # no role
    ]


def test_membership_without_group_id_is_a_record_error() -> None:
    doc = (
        "<membership><member><sourcedid><id>@1</id></sourcedid><idtype>1</idtype>"
        '<role roletype="01"/></member></membership>' + person("2")
    )
    error, following = parse(doc)
    assert error == RecordError(
        1,
        RecordKind.MEMBERSHIP,
        "",
        SisErrorCode.MISSING_FIELD,
        "The membership has no <sourcedid><id>.",
    )
    assert isinstance(following, PersonRecord)


# ---------------------------------------------------------------- file shapes


def test_no_root_element_and_no_line_breaks() -> None:
    doc = person("1") + group("201740", "Term") + MEMBERSHIP.replace("\n", "") + person("2")
    assert "\n" not in doc
    records = parse(doc)
    assert [type(r).__name__ for r in records] == [
        "PersonRecord",
        "GroupRecord",
        "MembershipRecord",
        "PersonRecord",
    ]
    assert all(r.line == 1 for r in records if not isinstance(r, RecordError))
    assert isinstance(records[2], MembershipRecord)
    assert len(records[2].members) == 5


def test_several_enterprise_elements() -> None:
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<enterprise><properties><type>Event</type></properties>{person('1')}</enterprise>\n"
        f"<enterprise>{group('201740', 'Term')}</enterprise>\n"
        f"<enterprise>\n{person('2')}\n</enterprise>\n"
    )
    records = parse(doc)
    assert [(type(r).__name__, r.line) for r in records] == [
        ("PersonRecord", 2),
        ("GroupRecord", 3),
        ("PersonRecord", 5),
    ]


def test_concatenated_documents_with_their_own_declarations_and_boms() -> None:
    one = '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<enterprise>{}</enterprise>\n'
    doc = "".join(one.format(person(str(n), "<name><fn>Zoë</fn></name>")) for n in range(3))
    records = parse(doc)
    assert [(r.sourcedid, r.line) for r in records if isinstance(r, PersonRecord)] == [
        ("0", 2),
        ("1", 4),
        ("2", 6),
    ]


def test_a_later_declaration_of_another_encoding_is_refused() -> None:
    doc = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{person("1")}\n'
        f'<?xml version="1.0" encoding="ISO-8859-1"?>\n{person("2")}'
    )
    error, _ = refused(doc)
    assert (error.code, error.line) == (SisErrorCode.ENCODING, 3)


def test_white_space_before_the_declaration_is_tolerated() -> None:
    doc = '\n  <?xml version="1.0" encoding="ISO-8859-1"?>' + person(
        "1", "<name><fn>Ré</fn></name>"
    )
    assert parse(doc.encode("latin-1")) == [PersonRecord("SCT", "1", full_name="Ré", line=2)]


def test_default_namespace_and_prefixes_are_matched_on_local_names() -> None:
    doc = (
        '<enterprise xmlns="http://www.imsglobal.org/xsd/imsep_v1p1">'
        f"{person('1', '<name><fn>Ann</fn></name>')}{group('201740', 'Term')}</enterprise>"
        '<ims:person xmlns:ims="urn:x"><ims:sourcedid><ims:id>2</ims:id></ims:sourcedid>'
        "</ims:person>"
    )
    first, term, second = parse(doc)
    assert first == PersonRecord("SCT", "1", full_name="Ann", line=1)
    assert isinstance(term, GroupRecord)
    assert term.grouptype == "Term"
    assert second == PersonRecord("", "2", line=1)


def test_properties_comments_and_unknown_elements_are_skipped() -> None:
    doc = f"""<enterprise>
  <properties><datasource>Banner</datasource><type>Snapshot</type></properties>
  <comments>Nightly extract</comments>
  <!-- an XML comment -->
  <?banner-pi something?>
  <unknown><person><sourcedid><id>nested-is-not-a-record</id></sourcedid></person></unknown>
  {person("1")}
</enterprise>"""
    assert parse(doc) == [PersonRecord("SCT", "1", line=7)]


def test_iso_8859_1_declaration_is_transcoded() -> None:
    doc = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        + person("1", "<name><fn>Chloé Núñez</fn><n><family>Núñez</family></n></name>")
        + "\n"
        + person("2", "<name><fn>Ann O\u2019Neil</fn></name>")
    ).encode("cp1252")
    assert b"\xe9" in doc
    assert b"\x92" in doc
    first, second = parse(doc)
    assert isinstance(first, PersonRecord)
    assert isinstance(second, PersonRecord)
    assert (first.full_name, first.family, first.line) == ("Chloé Núñez", "Núñez", 2)
    assert (second.full_name, second.line) == ("Ann O\u2019Neil", 3)


def test_windows_1252_and_other_single_byte_declarations() -> None:
    for encoding in ("windows-1252", "ISO-8859-15", "latin1"):
        doc = f"<?xml version='1.0' encoding='{encoding}' standalone='yes'?>" + person(
            "1", "<name><fn>René</fn></name>"
        )
        [record] = parse(doc.encode(encoding))
        assert isinstance(record, PersonRecord), encoding
        assert record.full_name == "René", encoding


def test_utf8_bom() -> None:
    doc = (
        b"\xef\xbb\xbf"
        + '<?xml version="1.0"?>\n<enterprise>{}</enterprise>'.format(
            person("1", "<name><fn>Zoë</fn></name>")
        ).encode()
    )
    [record] = parse(doc)
    assert record == PersonRecord("SCT", "1", full_name="Zoë", line=2)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-16-le", "utf-32"])
def test_utf16_and_utf32(encoding: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from rollbook.sis_import import parser

    declaration = '<?xml version="1.0" encoding="UTF-16"?>\n'
    one = person("1", "<name><fn>Søren</fn></name>")
    # "utf-16" and "utf-32" write a BOM, the others none
    [record] = parse((declaration + one).encode(encoding))
    assert record == PersonRecord("SCT", "1", full_name="Søren", line=2)
    monkeypatch.setattr(parser, "CHUNK_SIZE", 3)  # code units cut across reads
    many = parse((declaration + "\n".join([one] * 2000)).encode(encoding))
    assert many[-1] == PersonRecord("SCT", "1", full_name="Søren", line=2001)


def test_utf16_declared_on_ascii_bytes_is_read_as_utf8() -> None:
    doc = '<?xml version="1.0" encoding="UTF-16"?>' + person("1", "<name><fn>Zoë</fn></name>")
    [record] = parse(doc.encode())
    assert isinstance(record, PersonRecord)
    assert record.full_name == "Zoë"


def test_line_numbers() -> None:
    doc = (
        '<?xml version="1.0"\n   encoding="UTF-8"?>\n'  # a declaration on two lines
        "<enterprise>\n\n"
        f"{person('1')}\n"
        "<group>\n<sourcedid><id>G</id></sourcedid>\n<grouptype><typevalue>Term</typevalue>"
        "</grouptype>\n</group>\n"
        f"<membership><sourcedid><id>G</id></sourcedid>\n<member><sourcedid><id>@1</id>"
        "</sourcedid><idtype>9</idtype><role roletype='01'/></member>\n</membership>"
        f"{person('2')}</enterprise>"
    )
    lines = [r.line for r in parse(doc)]
    assert lines == [5, 6, 10, 11, 12]  # person, group, membership, member error, person


def test_line_numbers_past_65535() -> None:
    # libxml2 keeps element lines only up to 65535; the parser counts them itself.
    doc = "<enterprise>" + "\n" * 70_000 + person("1") + "\n" + person("2", "\n<name/>")
    doc += "\n" * 10 + MEMBERSHIP.replace("<idtype>2", "<idtype>5")
    doc += "</enterprise>"
    records = parse(doc)
    assert [(type(r).__name__, r.line) for r in records] == [
        ("PersonRecord", 70_001),
        ("PersonRecord", 70_002),
        ("MembershipRecord", 70_013),
        ("RecordError", 70_033),  # the <member> with idtype 5, on the membership's 21st line
    ]


def test_progress_and_chunked_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    from rollbook.sis_import import parser

    monkeypatch.setattr(parser, "CHUNK_SIZE", 7)  # tags and characters cut across reads
    doc = ('<?xml version="1.0" encoding="UTF-8"?>\n<enterprise>\n' + "\n".join(
        person(str(n), "<name><fn>Zoë Ørsted</fn></name>") for n in range(50)
    ) + "\n</enterprise>\n").encode()  # fmt: skip
    seen: list[int] = []
    records = parse(doc, progress=seen.append)
    assert len(records) == 50
    assert [r.line for r in records] == list(range(3, 53))
    assert all(r.full_name == "Zoë Ørsted" for r in records if isinstance(r, PersonRecord))
    assert seen == sorted(seen)
    assert seen[-1] == len(doc)


def test_parse_message() -> None:
    body = f"<enterprise>{person('1')}{group('201740', 'Term')}</enterprise>".encode()
    records = parse_message(body, max_bytes=1024)
    assert [r.sourcedid for r in records if isinstance(r, PersonRecord | GroupRecord)] == [
        "1",
        "201740",
    ]
    with pytest.raises(FeedError) as info:
        parse_message(body, max_bytes=50)
    assert info.value.code == SisErrorCode.TOO_LARGE


# ---------------------------------------------------------------- refused feeds

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<enterprise><person><sourcedid><id>&lol4;</id></sourcedid></person></enterprise>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE enterprise [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<enterprise><person><sourcedid><id>1</id></sourcedid><name><fn>&xxe;</fn></name></person></enterprise>"""

INTERNAL_ENTITY = """<!DOCTYPE enterprise [<!ENTITY who "Mallory">]>
<person><sourcedid><id>&who;</id></sourcedid></person>"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE enterprise SYSTEM "http://example.com/ims.dtd">
<enterprise><person><sourcedid><id>1</id></sourcedid></person></enterprise>"""

PARAMETER_ENTITY = """<!DOCTYPE x [<!ENTITY % remote SYSTEM "http://example.com/x.dtd"> %remote;]>
<person><sourcedid><id>1</id></sourcedid></person>"""


@pytest.mark.parametrize(
    "doc", [BILLION_LAUGHS, EXTERNAL_ENTITY, INTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY]
)
def test_doctypes_and_entities_are_refused_before_anything_is_yielded(doc: str) -> None:
    error, yielded = refused(doc)
    assert error.code == SisErrorCode.HOSTILE_XML
    assert yielded == []
    assert error.line == doc.count("\n", 0, doc.index("<!")) + 1


def test_a_doctype_later_in_the_file_is_refused_too() -> None:
    doc = f"{person('1')}\n<!DOCTYPE x [<!ENTITY a 'b'>]>\n{person('&a;')}"
    error, yielded = refused(doc)
    assert (error.code, error.line) == (SisErrorCode.HOSTILE_XML, 2)
    assert all(r == PersonRecord("SCT", "1", line=1) for r in yielded)  # no expansion


def test_markup_declarations_cut_across_reads_are_found(monkeypatch: pytest.MonkeyPatch) -> None:
    from rollbook.sis_import import parser

    monkeypatch.setattr(parser, "CHUNK_SIZE", 3)
    doc = person("1") + " " * 5000 + "\n\n<!ENTITY a 'b'>" + person("2")
    error, yielded = refused(doc)
    assert (error.code, error.line) == (SisErrorCode.HOSTILE_XML, 3)
    assert all(r == PersonRecord("SCT", "1", line=1) for r in yielded)


def test_a_doctype_inside_a_comment_is_refused_as_well() -> None:
    error, _ = refused(f"<!-- <!DOCTYPE x> -->{person('1')}")
    assert error.code == SisErrorCode.HOSTILE_XML


def test_undeclared_entity_reference_is_refused() -> None:
    doc = (
        f"{person('1')}\n<person><sourcedid><id>x</id></sourcedid>\n"
        "<name><fn>&xxe;</fn></name></person>"
    )
    error, yielded = refused(doc)
    assert (error.code, error.line) == (SisErrorCode.HOSTILE_XML, 3)
    assert "xxe" in error.message
    assert yielded == [PersonRecord("SCT", "1", line=1)]


def test_predefined_entities_and_character_references_are_fine() -> None:
    [record] = parse(
        person("1", "<name><fn>A &amp; B &lt;&gt; &quot;&apos; &#233;&#x00E9;</fn></name>")
    )
    assert isinstance(record, PersonRecord)
    assert record.full_name == "A & B <> \"' éé"


def test_unclosed_tag_is_malformed_with_line_and_column() -> None:
    doc = "<enterprise>\n  <person>\n    <sourcedid><id>1</id></sourcedid>\n</enterprise>\n"
    error, yielded = refused(doc)
    assert (error.code, error.line, error.column) == (SisErrorCode.MALFORMED_XML, 4, 14)
    assert "person line 2" in error.message
    assert yielded == []


def test_malformed_after_good_records_raises_after_yielding_them() -> None:
    doc = f"{person('1')}\n{person('2')}\n<person><sourcedid><id>3</id></sourcedid>\n"
    error, yielded = refused(doc)
    assert (error.code, error.line) == (SisErrorCode.MALFORMED_XML, 4)
    assert error.column == 1  # at the very end of the file
    assert "the end of the file" in error.message
    assert [r.line for r in yielded] == [1, 2]


def test_malformed_columns_on_the_first_line_are_the_files() -> None:
    doc = '<?xml version="1.0"?><person><x a=1/></person>'
    error, _ = refused(doc)
    assert (error.code, error.line, error.column) == (SisErrorCode.MALFORMED_XML, 1, 35)
    assert doc[34] == "1"  # column 35


def test_stray_text_outside_elements_is_malformed() -> None:
    error, _ = refused(f"{person('1')} oops {person('2')}")
    assert error.code == SisErrorCode.MALFORMED_XML
    assert "oops" in error.message


@pytest.mark.parametrize(
    "doc", [b"", b"   \n", b'<?xml version="1.0"?>\n', b"<html><body/></html>"]
)
def test_a_feed_without_ims_elements_is_refused(doc: bytes) -> None:
    error, _ = refused(doc)
    assert error.code == SisErrorCode.EMPTY_FEED


def test_an_empty_enterprise_is_a_feed_without_records() -> None:
    assert parse("<enterprise><properties/></enterprise>") == []


def test_invalid_utf8_is_an_encoding_error_with_its_line() -> None:
    doc = b"<enterprise>\n" + person("1").encode() + b"\n<person><sourcedid><id>caf\xe9</id>"
    error, yielded = refused(doc + b"</sourcedid></person></enterprise>")
    assert (error.code, error.line) == (SisErrorCode.ENCODING, 3)
    assert len(yielded) <= 1


def test_bytes_not_in_the_declared_encoding_are_an_encoding_error() -> None:
    doc = b'<?xml version="1.0" encoding="US-ASCII"?>\n\n' + person("caf\xe9").encode("latin-1")
    error, _ = refused(doc)
    assert (error.code, error.line) == (SisErrorCode.ENCODING, 3)


@pytest.mark.parametrize("encoding", ["klingon", "base64", "cp037"])
def test_unknown_or_unusable_declared_encoding(encoding: str) -> None:
    error, _ = refused(f'<?xml version="1.0" encoding="{encoding}"?>{person("1")}')
    assert (error.code, error.line) == (SisErrorCode.ENCODING, 1)
    assert encoding in error.message


def test_unclosed_xml_declaration() -> None:
    error, _ = refused('<?xml version="1.0" encoding="UTF-8"' + person("1"))
    assert error.code == SisErrorCode.MALFORMED_XML


def test_max_bytes() -> None:
    doc = "<enterprise>" + person("1") * 100 + "</enterprise>"
    assert len(parse(doc, max_bytes=len(doc))) == 100
    error, _ = refused(doc, max_bytes=len(doc) - 1)
    assert error.code == SisErrorCode.TOO_LARGE
    assert str(len(doc) - 1) in error.message


def test_feed_error_as_dict() -> None:
    error, _ = refused("<person>")
    assert error.as_dict() == {
        "code": "malformed_xml",
        "message": error.message,
        "line": error.line,
        "column": error.column,
    }


# ---------------------------------------------------------------- formatting does not matter


class Trickle(io.RawIOBase):
    """A stream that hands out at most `step` bytes a read, as a socket may."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._step = step
        self._pos = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        chunk = bytes(self._data[self._pos : self._pos + size])
        self._pos += len(chunk)
        return chunk


_TEXT = st.text(
    alphabet=st.characters(
        codec="utf-8",
        exclude_categories=("Cs", "Cc", "Cn"),
        exclude_characters="\r\x85\u2028\u2029",
    ),
    max_size=12,
).map(str.strip)
_ID = st.text(alphabet="abcXYZ0123456789@.-_", min_size=1, max_size=10)
_USERID_TYPES = st.sampled_from(["Logon ID", "SCTID", "Email ID", "Other ID"])
_PERSON = st.builds(
    PersonRecord,
    sourcedid_source=_TEXT,
    sourcedid=_ID,
    recstatus=st.sampled_from([1, 2, 3]),
    userids=st.dictionaries(_USERID_TYPES, _ID, max_size=4),
    full_name=_TEXT,
    nickname=_TEXT,
    family=_TEXT,
    given=_TEXT,
    partname=_TEXT.map(lambda text: " ".join(text.split())),
    email=_TEXT,
    institution_role=st.sampled_from(["", "Student", "Faculty"]),
)
_GAP = st.sampled_from(["", " ", "\n", "\t", "\r\n", "\n\n  ", "   \n"])


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _render(record: PersonRecord, gaps: Iterator[str]) -> str:
    """A person element with the given whitespace between its elements."""
    parts = [f'<person recstatus="{record.recstatus}">']
    parts += ["<sourcedid>", f"<source>{_xml(record.sourcedid_source)}</source>"]
    parts += [f"<id>{_xml(record.sourcedid)}</id>", "</sourcedid>"]
    for kind, value in record.userids.items():
        parts.append(f'<userid useridtype="{kind}">{_xml(value)}</userid>')
    parts += ["<name>", f"<fn>{_xml(record.full_name)}</fn>"]
    parts += [f"<nickname>{_xml(record.nickname)}</nickname>", "<n>"]
    parts += [f"<family>{_xml(record.family)}</family>", f"<given>{_xml(record.given)}</given>"]
    parts += [f"<partname>{_xml(part)}</partname>" for part in record.partname.split()]
    parts += ["</n>", "</name>", f"<email>{_xml(record.email)}</email>"]
    if record.institution_role:
        parts.append(f'<institutionrole institutionroletype="{record.institution_role}"/>')
    parts.append("</person>")
    return "".join(part + next(gaps) for part in parts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    persons=st.lists(_PERSON, min_size=1, max_size=6),
    gaps=st.lists(_GAP, min_size=1, max_size=40),
    wrap=st.booleans(),
    step=st.integers(min_value=1, max_value=4096),
)
def test_formatting_does_not_change_the_records(
    persons: list[PersonRecord], gaps: list[str], wrap: bool, step: int
) -> None:
    def cycle() -> Iterator[str]:
        while True:
            yield from gaps

    gap = cycle()
    doc = "<enterprise>" + next(gap) if wrap else next(gap)
    lines = []
    for record in persons:
        lines.append(doc.count("\n") + 1)
        doc += _render(record, gap)
    doc += "</enterprise>" if wrap else ""
    compact = "".join(_render(record, itertools.repeat("")) for record in persons)

    records = list(iter_records(cast(BinaryIO, Trickle(doc.encode(), step))))
    expected = [replace(record, line=line) for record, line in zip(persons, lines, strict=True)]
    assert records == expected
    assert [replace(r, line=0) for r in parse(compact) if isinstance(r, PersonRecord)] == persons


def test_record_tags_inside_unknown_content_are_not_records() -> None:
    # A <group> inside a person is the person's content: its earlier siblings stay.
    inside = "<name><fn>Ann</fn></name><group><sourcedid><id>G</id></sourcedid></group>"
    doc = f"<wrapper>{person('0')}</wrapper>{person('1', inside)}"
    assert parse(doc) == [PersonRecord("SCT", "1", full_name="Ann", line=1)]
