from __future__ import annotations

import datetime as dt

from ninja import Schema


class ImportAccepted(Schema):
    job_id: str


class AlreadyImported(Schema):
    code: str
    message: str
    fields: dict[str, str]


class ImportStateOut(Schema):
    job_id: str
    state: str
    message: str


class PendingOut(Schema):
    group_sourcedid: str
    person_sourcedid: str
    roletype: str
    reason: str
    waiting_since: dt.datetime


class CollisionOut(Schema):
    id: int
    sourcedid: str
    name: str
    email: str
    reason: str
    held_since: dt.datetime
