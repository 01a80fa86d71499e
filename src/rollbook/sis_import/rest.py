from __future__ import annotations

import uuid
from pathlib import Path

from django.http import FileResponse, HttpRequest
from ninja import File, Form, Router, Status
from ninja.files import UploadedFile

from rollbook.audit.data import Actor
from rollbook.jobs.data import JobData
from rollbook.lib.errors import NotFound
from rollbook.lib.rest import require_staff
from rollbook.sis_import import api
from rollbook.sis_import.errors import SisErrorCode
from rollbook.sis_import.schemas import AlreadyImported, ImportAccepted, ImportStateOut

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
    """Import an IMS Enterprise 1.1 file (multipart field `file`) as a job (global staff).

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
