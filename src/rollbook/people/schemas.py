from __future__ import annotations

import datetime as dt

from ninja import Field, Schema


class UserIn(Schema):
    email: str | None = Field(None, max_length=254)
    name: str | None = Field(None, max_length=255)
    is_active: bool | None = None
    is_staff: bool | None = None
    idnumber: str | None = Field(None, max_length=255, description="Banner SCTID / ID number")
    sis_sourcedid: str | None = Field(None, max_length=255)
    allow_certificate: bool | None = Field(None, description="False: certificate restricted")


class UserOut(Schema):
    username: str
    email: str
    name: str
    is_active: bool
    is_staff: bool
    idnumber: str
    sis_sourcedid: str
    allow_certificate: bool
    date_joined: dt.datetime
    modified: dt.datetime


class UserSearchQuery(Schema):
    search: str | None = Field(None, description="Part of the username, email or name.")
