from __future__ import annotations

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
