from __future__ import annotations

from ninja import Field, Schema


class GrantIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    role: str = Field(..., min_length=1, max_length=64)
    course_key: str | None = Field(
        None, max_length=255, description="A course key, or a library key for library roles."
    )
    org: str | None = Field(None, max_length=255, description="For org-level roles.")


class GrantOut(Schema):
    username: str
    role: str
    org: str
    course_key: str


class GrantResult(Schema):
    grant: GrantOut
    created: bool


class RevokeResult(Schema):
    grant: GrantOut
    revoked: bool


class CheckQuery(Schema):
    username: str
    role: str
    course_key: str | None = None
    org: str | None = None
    strict: bool = False


class CheckOut(Schema):
    allowed: bool


class LibraryOut(Schema):
    key: str
    org: str
    title: str
