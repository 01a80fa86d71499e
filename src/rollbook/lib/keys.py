"""Course, library and org keys in Open edX's forms.

- Course: `course-v1:ORG+NUMBER+RUN`. Case-sensitive, as in Open edX: `course-v1:edX+toy+2012`
  and `course-v1:EDX+TOY+2012` are two courses.
- Library: `lib:ORG:SLUG`.
- Org: the short name that starts a course or library key.
- Public ids: UUIDs in URLs (`parse_uuid`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import lru_cache

from rollbook.lib.errors import CommonErrorCode, Invalid

# Allowed characters of a key part, as opaque-keys allows them (word characters, - ~ . :);
# the org and library slug leave out ':' since it separates parts there.
_PART = r"[\w\-~.:]+"
_ORG = r"[\w\-~.]+"
_COURSE_RE = re.compile(rf"^course-v1:(?P<org>{_ORG})\+(?P<number>{_PART})\+(?P<run>{_PART})$")
_LIBRARY_RE = re.compile(rf"^lib:(?P<org>{_ORG}):(?P<slug>[\w\-.]+)$")
_ORG_RE = re.compile(rf"^{_ORG}$")
MAX_KEY_LENGTH = 255

MSG_COURSE_KEY = "'{key}' is not a course key of the form course-v1:ORG+NUMBER+RUN."
MSG_LIBRARY_KEY = "'{key}' is not a library key of the form lib:ORG:SLUG."
MSG_CONTEXT_KEY = (
    "'{key}' is neither a course key (course-v1:ORG+NUMBER+RUN) nor a library key (lib:ORG:SLUG)."
)
MSG_ORG = "'{org}' is not an org short name (letters, digits, '_', '-', '~', '.')."


@dataclass(frozen=True, slots=True)
class CourseKey:
    org: str
    number: str
    run: str

    def __str__(self) -> str:
        return f"course-v1:{self.org}+{self.number}+{self.run}"

    @classmethod
    def parse(cls, raw: str) -> CourseKey:
        match = _COURSE_RE.fullmatch(raw or "") if len(raw or "") <= MAX_KEY_LENGTH else None
        if match is None:
            raise Invalid(
                CommonErrorCode.INVALID_COURSE_KEY,
                MSG_COURSE_KEY.format(key=raw),
                fields={"course_key": raw},
            )
        return cls(match["org"], match["number"], match["run"])


@dataclass(frozen=True, slots=True)
class LibraryKey:
    org: str
    slug: str

    def __str__(self) -> str:
        return f"lib:{self.org}:{self.slug}"

    @classmethod
    def parse(cls, raw: str) -> LibraryKey:
        match = _LIBRARY_RE.fullmatch(raw or "") if len(raw or "") <= MAX_KEY_LENGTH else None
        if match is None:
            raise Invalid(
                CommonErrorCode.INVALID_LIBRARY_KEY,
                MSG_LIBRARY_KEY.format(key=raw),
                fields={"library_key": raw},
            )
        return cls(match["org"], match["slug"])


ContextKey = CourseKey | LibraryKey


@lru_cache(maxsize=16384)
def parse_context_key(raw: str) -> ContextKey:
    """A course key or a library key: the things a course-level role grant may name.

    Memoised: role checks parse the same few keys over and over, and the parse (a regular
    expression) would cost more than the check. Refusals raise and are not remembered."""
    if raw.startswith("lib:"):
        match = _LIBRARY_RE.fullmatch(raw)
        if match and len(raw) <= MAX_KEY_LENGTH:
            return LibraryKey(match["org"], match["slug"])
    else:
        match = _COURSE_RE.fullmatch(raw)
        if match and len(raw) <= MAX_KEY_LENGTH:
            return CourseKey(match["org"], match["number"], match["run"])
    raise Invalid(
        CommonErrorCode.INVALID_CONTEXT_KEY,
        MSG_CONTEXT_KEY.format(key=raw),
        fields={"course_key": raw},
    )


def validate_org(org: str) -> str:
    if not org or len(org) > MAX_KEY_LENGTH or not _ORG_RE.fullmatch(org):
        raise Invalid(CommonErrorCode.INVALID_ORG, MSG_ORG.format(org=org), fields={"org": org})
    return org


def parse_uuid(value: object) -> uuid.UUID | None:
    """A public id as a UUID (any form `uuid.UUID` reads), or None when it is not one: the
    caller answers "not found", as for an unknown id."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
