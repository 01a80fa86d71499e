from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Literal

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from rollbook.audit.data import Actor
from rollbook.jobs.data import JobData
from rollbook.lib.errors import NotFound
from rollbook.lib.pagination import PageOut, PageQuery
from rollbook.lib.rest import require_staff
from rollbook.sis_import import api, inbox, lmb_auth
from rollbook.sis_import.errors import (
    MSG_LMB_ADDRESS,
    MSG_LMB_CREDENTIALS,
    MSG_LMB_DISABLED,
    MSG_NO_MESSAGE_ID,
    FeedError,
    SisErrorCode,
)
from rollbook.sis_import.schemas import (
    AlreadyImported,
    CollisionOut,
    DropHoldOut,
    DropReleaseOut,
    ImportAccepted,
    ImportStateOut,
    MessageOut,
    PendingOut,
    ResolveIn,
    RetryIn,
    RetryOut,
    StatusOut,
)

router = Router(tags=["sis"])

MSG_ALREADY_IMPORTED = "This file was already imported as job {job_id}; send force=true to run it."
MSG_NO_REPORT = "Job {job_id} has no {what}."


@router.post("/sis/imports", response={202: ImportAccepted, 409: AlreadyImported})
def start_import(
    request: HttpRequest,
    file: File[UploadedFile],
    dry_run: Form[bool] = False,
    comprehensive: Form[bool] = False,
    force: Form[bool] = False,
    commit_preview: Form[str] = "",
) -> Status[dict[str, object]]:
    """Import an IMS Enterprise 1.1 file or a OneRoster 1.2 CSV zip (multipart field `file`;
    a zip is known by its content) as a job (global staff).

    Options as form fields: `dry_run`, `comprehensive`, `force`, `commit_preview` (a dry
    run's job id). The same file again answers 409 `already_imported` unless `force`.
    """
    principal = require_staff(request)
    result = api.start_import(
        file,
        filename=file.name or "upload.xml",
        actor=Actor.of(principal),
        options=api.ImportOptions(
            dry_run=dry_run,
            comprehensive=comprehensive,
            force=force,
            commit_preview=commit_preview or None,
        ),
    )
    if result.job is None:
        return Status(
            409,
            {
                "code": SisErrorCode.ALREADY_IMPORTED.value,
                "message": MSG_ALREADY_IMPORTED.format(job_id=result.already_imported_as),
                "fields": {"job_id": result.already_imported_as or ""},
            },
        )
    return Status(202, {"job_id": str(result.job.uuid)})


def _report(job_id: uuid.UUID, path: Path, what: str) -> FileResponse:
    if not path.exists():
        raise NotFound(SisErrorCode.NOT_AN_IMPORT, MSG_NO_REPORT.format(job_id=job_id, what=what))
    return FileResponse(path.open("rb"), content_type="text/csv", filename=path.name)


_CSV = {
    "responses": {
        200: {
            "description": "CSV",
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.get("/sis/imports/{job_id}/errors.csv", response={200: None}, openapi_extra=_CSV)
def errors_csv(request: HttpRequest, job_id: uuid.UUID) -> FileResponse:
    """Every refused record of an import: file, line, record id, code, message (global staff)."""
    require_staff(request)
    return _report(job_id, api.errors_csv_path(job_id), "error report")


@router.get("/sis/imports/{job_id}/preview.csv", response={200: None}, openapi_extra=_CSV)
def preview_csv(request: HttpRequest, job_id: uuid.UUID) -> FileResponse:
    """Every destructive change a dry run would make (global staff)."""
    require_staff(request)
    return _report(job_id, api.preview_csv_path(job_id), "preview")


@router.get("/sis/pending", response=PageOut[PendingOut])
def pending(request: HttpRequest, paging: Query[PageQuery]) -> object:
    """Memberships waiting for a person or a section, oldest first (global staff)."""
    require_staff(request)
    return api.list_pending(page=paging.request())


@router.get("/sis/collisions", response=PageOut[CollisionOut])
def collisions(request: HttpRequest, paging: Query[PageQuery]) -> object:
    """SIS persons held by an identity collision, with the account and the other SIS person
    they collide with in the reason (global staff)."""
    require_staff(request)
    return api.list_collisions(page=paging.request())


@router.post("/sis/collisions/{person_id}/resolve", response=CollisionOut)
def resolve_collision(request: HttpRequest, person_id: int, body: ResolveIn) -> object:
    """Settle an identity collision (global staff): `link_existing` links the SIS person to the
    account it collides with (or to `username`), which lets go of the other SIS person;
    `create_with_username` makes a new account; `ignore` leaves the person out. The
    memberships that waited are then applied (skipped when ignored). Answers the collision as
    it was."""
    principal = require_staff(request)
    return api.resolve_collision(
        person_id, body.action, actor=Actor.of(principal), username=body.username
    )


class MessageQuery(PageQuery):
    state: Literal["pending", "applied", "failed", "blocked"] | None = None


@router.get("/sis/messages", response=PageOut[MessageOut])
def messages(request: HttpRequest, query: Query[MessageQuery]) -> object:
    """Live LMB messages, newest first; `state=failed` lists the failures (global staff)."""
    require_staff(request)
    return api.list_messages(page=query.request(), state=query.state)


@router.post("/sis/messages/retry", response=RetryOut)
def retry_messages(request: HttpRequest, body: RetryIn) -> dict[str, int]:
    """Put failed messages (those named, or all) back in line, with the messages waiting
    behind them, once the cause is fixed (global staff)."""
    require_staff(request)
    return {"retried": api.retry_failed_messages(body.message_ids or None)}


@router.get("/sis/drop-holds", response=PageOut[DropHoldOut])
def drop_holds(request: HttpRequest, paging: Query[PageQuery]) -> object:
    """Terms whose live-feed drops are held by drop safety (global staff)."""
    require_staff(request)
    return api.list_drop_holds(page=paging.request())


@router.post("/sis/drop-holds/{term}/approve", response=DropReleaseOut)
def approve_drops(request: HttpRequest, term: str) -> dict[str, object]:
    """Apply the term's held drops (global staff)."""
    principal = require_staff(request)
    count = api.approve_drops(term, actor=Actor.of(principal))
    return {"term": term, "action": "approved", "drops": count}


@router.post("/sis/drop-holds/{term}/discard", response=DropReleaseOut)
def discard_drops(request: HttpRequest, term: str) -> dict[str, object]:
    """Leave the term's held drops unapplied: the enrollments stay (global staff)."""
    principal = require_staff(request)
    count = api.discard_drops(term, actor=Actor.of(principal))
    return {"term": term, "action": "discarded", "drops": count}


def _state(job: JobData) -> dict[str, str]:
    return {"job_id": str(job.uuid), "state": job.state, "message": job.message}


@router.post("/sis/imports/{job_id}/approve", response=ImportStateOut)
def approve(request: HttpRequest, job_id: uuid.UUID) -> dict[str, str]:
    """Approve the drops a comprehensive import held back: the job runs them (global staff)."""
    principal = require_staff(request)
    return _state(api.approve_import(str(job_id), actor=Actor.of(principal)))


@router.post("/sis/imports/{job_id}/discard", response=ImportStateOut)
def discard(request: HttpRequest, job_id: uuid.UUID) -> dict[str, str]:
    """Discard the held drops: nothing is dropped, the job ends cancelled (global staff)."""
    principal = require_staff(request)
    return _state(api.discard_import(str(job_id), actor=Actor.of(principal)))


# ---------------------------------------------------------------- the live LMB endpoint

MESSAGE_ID_HEADERS = ("RDI-Message-Id", "RDI-Message-SeqNo", "JMSMessageID", "ldisp_id", "ldisp-id")


class LmbAccepted(Schema):
    status: str
    message_id: str
    seq: int


def _lmb_error(status: int, code: str, message: str) -> HttpResponse:
    body = {"code": code, "message": message, "fields": {}}
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    if status == 401:
        response["WWW-Authenticate"] = lmb_auth.challenge()
    return response


def _lmb_credentials_ok(request: HttpRequest) -> bool:
    return lmb_auth.authenticated(request, settings.LMB["USERNAME"], settings.LMB["PASSWORD"])


@router.post(
    "/sis/lmb",
    auth=None,
    response={200: LmbAccepted},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/xml": {"schema": {"type": "string"}}},
        },
        "security": [{"LmbBasic": []}],
    },
)
def lmb_message(request: HttpRequest) -> HttpResponse:
    """The URL Luminis Message Broker posts to: one IMS Enterprise message per request.

    HTTP Basic with ROLLBOOK_LMB_USERNAME / ROLLBOOK_LMB_PASSWORD; a message id header
    (RDI-Message-Id, RDI-Message-SeqNo, JMSMessageID or ldisp_id). 200 once the message is
    durably recorded; the same id again is acknowledged and not applied twice.
    """
    return _lmb(request)


@csrf_exempt
@require_POST
def lmb_view(request: HttpRequest) -> HttpResponse:
    """`lmb_message` as a plain Django view, which urls.py routes ahead of the API: LMB posts
    hundreds of messages a second at term start, and this skips resolving the API's other
    routes and the API's own request handling (the API keeps the route for its schema)."""
    return _lmb(request)


def _lmb(request: HttpRequest) -> HttpResponse:
    conf = settings.LMB
    if not conf["ENABLED"]:
        return _lmb_error(503, SisErrorCode.LMB_DISABLED, MSG_LMB_DISABLED)
    if conf["ALLOWED_IPS"] and request.META.get("REMOTE_ADDR") not in conf["ALLOWED_IPS"]:
        return _lmb_error(403, "forbidden", MSG_LMB_ADDRESS)
    if conf["AUTH_REQUIRED"] and not _lmb_credentials_ok(request):
        return _lmb_error(401, "not_authenticated", MSG_LMB_CREDENTIALS)
    message_id = next(
        (request.headers[name].strip() for name in MESSAGE_ID_HEADERS if request.headers.get(name)),
        "",
    )
    if not message_id:
        return _lmb_error(400, SisErrorCode.NO_MESSAGE_ID, MSG_NO_MESSAGE_ID)
    sync = bool(conf["SYNC"])
    try:
        accepted = inbox.accept_message(request.body, message_id=message_id, dispatch=not sync)
    except FeedError as exc:
        where = f" (line {exc.line}, column {exc.column})" if exc.line else ""
        return _lmb_error(400, exc.code, exc.message + where)
    status = "duplicate" if accepted.duplicate else "accepted"
    if sync:
        outcome = inbox.apply_now(accepted)
        status = outcome.state
        if outcome.state != "applied" and not conf["SYNC_200_ON_ERROR"]:
            return _lmb_error(500, SisErrorCode.LMB_APPLY_FAILED, outcome.error)
    body = {"status": status, "message_id": accepted.message_id, "seq": accepted.seq}
    return HttpResponse(json.dumps(body), content_type="application/json")


# ---------------------------------------------------------------- the feed monitor


@router.get("/sis/status", response=StatusOut)
def feed_status(request: HttpRequest) -> object:
    """The LMB feed's health (global staff): when the last message came, messages in the last
    hour, memberships pending, failed messages, collisions, the inbox depth and apply lag, and
    whether the feed is stale by the ROLLBOOK_SIS_MONITOR_* rules (with the reason)."""
    require_staff(request)
    return api.feed_status()
