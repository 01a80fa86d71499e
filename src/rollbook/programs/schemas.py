"""Program enrollments over HTTP, in the shapes of Open edX's program_enrollments v1.

The write bodies are JSON arrays (and the link body a map), which the API's object parser
does not take: `rest.py` reads them itself and checks them with the `*In` models below,
answering 400 `malformed_request` (Open edX's status) instead of the project's 422.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ninja import Field, Schema
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, TypeAdapter
from pydantic import Field as PydanticField

from rollbook.lib.pagination import MAX_PAGE_SIZE

# The longest student key, username, org or external id the database keeps.
MAX_KEY = 255
DEFAULT_CURSOR_PAGE_SIZE = 100

# ---------------------------------------------------------------- programs


class CurriculumIn(Schema):
    uuid: uuid.UUID
    courses: list[str] = Field(default_factory=list, description="Course keys.")


class ProgramIn(Schema):
    title: str = Field(..., min_length=1, max_length=255)
    org: str = Field(..., min_length=1, max_length=255, description="The org's short name.")
    type: str = Field("", max_length=64, description="e.g. Masters.")
    curricula: list[CurriculumIn] = Field(default_factory=list)


class CurriculumOut(Schema):
    uuid: uuid.UUID
    courses: list[str]


class ProgramOut(Schema):
    uuid: uuid.UUID
    title: str
    org: str
    type: str
    curricula: list[CurriculumOut]
    created: dt.datetime
    modified: dt.datetime


# ---------------------------------------------------------------- write bodies (read by rest.py)


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")

    student_key: StrictStr = PydanticField(min_length=1, max_length=MAX_KEY)
    status: StrictStr


class ProgramRecordIn(_Record):
    """POST and PUT: the curriculum is needed to create."""

    curriculum_uuid: uuid.UUID


class ProgramRecordPatchIn(_Record):
    """PATCH: the curriculum, when given, narrows the update to that curriculum."""

    curriculum_uuid: uuid.UUID | None = None


class CourseRecordIn(_Record):
    course_staff: StrictBool | None = None


PROGRAM_RECORDS = TypeAdapter(list[ProgramRecordIn])
PROGRAM_PATCH_RECORDS = TypeAdapter(list[ProgramRecordPatchIn])
COURSE_RECORDS = TypeAdapter(list[CourseRecordIn])
KEY_MAP = TypeAdapter(dict[str, StrictStr])


def _array_of(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    return {"type": "array", "items": schema}


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """An OpenAPI requestBody for a body rest.py reads itself."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


PROGRAM_RECORDS_SCHEMA = _array_of(ProgramRecordIn)
PROGRAM_PATCH_RECORDS_SCHEMA = _array_of(ProgramRecordPatchIn)
COURSE_RECORDS_SCHEMA = _array_of(CourseRecordIn)
LINK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "example": {"STU-0001": "jdoe"},
}
EXTERNAL_IDS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "example": {"NorthU": "STU-0001"},
}

# ---------------------------------------------------------------- answers

# Each key of the request mapped to its new status or its error (duplicated, invalid-status,
# conflict, not-in-program, not-found, invalid-curriculum, internal-error).
ResultsOut = dict[str, str]


class EnrollmentRowOut(Schema):
    student_key: str
    status: str
    account_exists: bool
    curriculum_uuid: uuid.UUID


class CursorPageOut(Schema):
    next: str | None = Field(description="The next page's URL; null on the last page.")
    previous: str | None = Field(description="The previous page's URL; null on the first.")
    results: list[EnrollmentRowOut]


class CursorQuery(Schema):
    cursor: str | None = Field(None, description="Opaque, from `next` or `previous`.")
    page_size: int = Field(
        DEFAULT_CURSOR_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"Rows per page (1 to {MAX_PAGE_SIZE}).",
    )


class LinkOut(Schema):
    errors: dict[str, str] = Field(
        description="Each key that did not link, with why; empty when every key linked."
    )


class UploadAccepted(Schema):
    job_id: str


class ExternalIdsOut(Schema):
    external_ids: dict[str, str] = Field(description="All of the user's keys, by org.")


class ExternalIdsPutOut(ExternalIdsOut):
    linked_errors: dict[str, str] = Field(
        description='Automatic linking\'s failures, by "program_uuid:key"; empty when none.'
    )
