"""lib.keys: course, library and context keys, and org short names."""

from __future__ import annotations

import uuid

import pytest

from rollbook.lib.errors import Invalid
from rollbook.lib.keys import (
    CourseKey,
    LibraryKey,
    parse_context_key,
    parse_uuid,
    validate_org,
)

VALID_COURSE_KEYS = [
    ("course-v1:edX+toy+2012", ("edX", "toy", "2012")),
    ("course-v1:EDX+TOY+2012", ("EDX", "TOY", "2012")),
    ("course-v1:MITx+6.002x+2013_T1", ("MITx", "6.002x", "2013_T1")),
    ("course-v1:Org-1+num~x+run:part", ("Org-1", "num~x", "run:part")),
    ("course-v1:a+b+c", ("a", "b", "c")),
    ("course-v1:edX+" + "n" * 200 + "+r", ("edX", "n" * 200, "r")),
]

MALFORMED_COURSE_KEYS = [
    "",
    "toy",
    "edX/toy/2012",
    "course-v1:",
    "course-v1:edX",
    "course-v1:edX+toy",
    "course-v1:edX+toy+",
    "course-v1:edX++2012",
    "course-v1:+toy+2012",
    "course-v1:edX+toy+2012+extra",
    "course-v1:ed X+toy+2012",
    "course-v1:ed:X+toy+2012",
    "course-v1:edX+to/y+2012",
    "course-v2:edX+toy+2012",
    "Course-v1:edX+toy+2012",
    " course-v1:edX+toy+2012",
    "course-v1:edX+toy+2012 ",
    "course-v1:edX+toy+" + "r" * 250,
    "lib:edX:toy",
]

VALID_LIBRARY_KEYS = [
    ("lib:edX:problems", ("edX", "problems")),
    ("lib:MITx:intro-1.v2", ("MITx", "intro-1.v2")),
    ("lib:Org_~x:a_b", ("Org_~x", "a_b")),
]

MALFORMED_LIBRARY_KEYS = [
    "",
    "lib:",
    "lib:edX",
    "lib:edX:",
    "lib::slug",
    "lib:edX:a:b",
    "lib:edX:a b",
    "lib:edX:a+b",
    "lib:edX:a~b",
    "LIB:edX:a",
    "library-v1:edX+lib",
    "lib:edX:" + "s" * 250,
    "course-v1:edX+toy+2012",
]


@pytest.mark.parametrize(("raw", "parts"), VALID_COURSE_KEYS)
def test_course_key_parse_accepts(raw: str, parts: tuple[str, str, str]) -> None:
    key = CourseKey.parse(raw)
    assert (key.org, key.number, key.run) == parts
    assert str(key) == raw


@pytest.mark.parametrize("raw", MALFORMED_COURSE_KEYS)
def test_course_key_parse_rejects(raw: str) -> None:
    with pytest.raises(Invalid) as raised:
        CourseKey.parse(raw)
    assert raised.value.code == "invalid_course_key"
    assert raised.value.status == 422
    assert raised.value.fields == {"course_key": raw}


@pytest.mark.parametrize(("raw", "parts"), VALID_LIBRARY_KEYS)
def test_library_key_parse_accepts(raw: str, parts: tuple[str, str]) -> None:
    key = LibraryKey.parse(raw)
    assert (key.org, key.slug) == parts
    assert str(key) == raw


@pytest.mark.parametrize("raw", MALFORMED_LIBRARY_KEYS)
def test_library_key_parse_rejects(raw: str) -> None:
    with pytest.raises(Invalid) as raised:
        LibraryKey.parse(raw)
    assert raised.value.code == "invalid_library_key"
    assert raised.value.fields == {"library_key": raw}


def test_key_length_limit_is_255() -> None:
    at_limit = "course-v1:edX+toy+" + "r" * (255 - len("course-v1:edX+toy+"))
    assert len(at_limit) == 255
    assert CourseKey.parse(at_limit).run == "r" * (255 - len("course-v1:edX+toy+"))
    with pytest.raises(Invalid):
        CourseKey.parse(at_limit + "r")
    with pytest.raises(Invalid):
        parse_context_key(at_limit + "r")


def test_course_keys_keep_their_case() -> None:
    assert CourseKey.parse("course-v1:edX+toy+2012") != CourseKey.parse("course-v1:EDX+TOY+2012")


@pytest.mark.parametrize(("raw", "parts"), VALID_COURSE_KEYS)
def test_parse_context_key_accepts_course_keys(raw: str, parts: tuple[str, str, str]) -> None:
    key = parse_context_key(raw)
    assert isinstance(key, CourseKey)
    assert key == CourseKey(*parts)


@pytest.mark.parametrize(("raw", "parts"), VALID_LIBRARY_KEYS)
def test_parse_context_key_accepts_library_keys(raw: str, parts: tuple[str, str]) -> None:
    key = parse_context_key(raw)
    assert isinstance(key, LibraryKey)
    assert key == LibraryKey(*parts)


@pytest.mark.parametrize(
    "raw",
    sorted(
        {k for k in MALFORMED_COURSE_KEYS if not k.startswith("lib:")}
        | {k for k in MALFORMED_LIBRARY_KEYS if not k.startswith("course-v1:")}
    ),
)
def test_parse_context_key_rejects(raw: str) -> None:
    with pytest.raises(Invalid) as raised:
        parse_context_key(raw)
    assert raised.value.code == "invalid_context_key"
    assert raised.value.fields == {"course_key": raw}


@pytest.mark.parametrize("org", ["edX", "EDX", "MITx", "Org-1", "a.b", "x~y", "o_1", "o" * 255])
def test_validate_org_accepts(org: str) -> None:
    assert validate_org(org) == org


@pytest.mark.parametrize("org", ["", "ed X", "ed:X", "ed+X", "ed/X", "o" * 256])
def test_validate_org_rejects(org: str) -> None:
    with pytest.raises(Invalid) as raised:
        validate_org(org)
    assert raised.value.code == "invalid_org"


def test_parse_uuid_reads_the_usual_forms_and_refuses_the_rest() -> None:
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert parse_uuid(value) == value
    assert parse_uuid(str(value)) == value
    assert parse_uuid(value.hex.upper()) == value
    assert parse_uuid("not-a-uuid") is None
    assert parse_uuid("") is None
    assert parse_uuid(None) is None
