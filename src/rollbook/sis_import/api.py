"""SIS import (IMS Enterprise 1.1 from Banner): the pipeline from a file to the domain.

intake (hash, same-file check, a copy under the data dir) -> validate (a parse-only pass: a
malformed or hostile file applies nothing) -> stage by natural key -> apply dirty rows ->
comprehensive drops (held over the threshold) -> report (counts, error CSV, preview CSV).
The live LMB endpoint (part 2) feeds the same staging and apply.
"""

from __future__ import annotations

import csv
import hashlib
import json
import uuid as uuid_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Min, OuterRef, QuerySet, Subquery, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, Greatest, NullIf

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.jobs import api as jobs
from rollbook.jobs.data import JobData
from rollbook.lib import clock
from rollbook.lib.errors import Conflict, Invalid, NotFound
from rollbook.lib.keys import parse_uuid
from rollbook.lib.pagination import Page, PageRequest, paginate
from rollbook.people import api as people
from rollbook.sis_import import dropsafety, inbox, onerostercsv, parser
from rollbook.sis_import.apply import Applier, ApplyResult
from rollbook.sis_import.config import LEARNER, SisConfig
from rollbook.sis_import.data import (
    GroupRecord,
    HeldPerson,
    LmbMessage,
    PendingMembership,
    PersonRecord,
    Resolution,
)
from rollbook.sis_import.errors import (
    MSG_BAD_ACTION,
    MSG_NOT_HELD,
    MSG_USERNAME_NEEDED,
    MSG_USERNAME_TAKEN,
    FeedError,
    SisErrorCode,
)
from rollbook.sis_import.models import (
    Feed,
    InboxMessage,
    RowState,
    StagedGroup,
    StagedMembership,
    StagedPerson,
)
from rollbook.sis_import.monitor import (
    METRICS_CONTENT_TYPE,
    FeedStatus,
    alert_recipients,
    feed_status,
    metrics_text,
    send_stale_alert,
)
from rollbook.sis_import.staging import Stager, StageResult

__all__ = [
    "IMPORT_JOB_KIND",
    "METRICS_CONTENT_TYPE",
    "FeedError",
    "FeedStatus",
    "ImportOptions",
    "StartResult",
    "alert_recipients",
    "approve_drops",
    "approve_import",
    "course_term_rows",
    "course_terms",
    "discard_drops",
    "discard_import",
    "errors_csv_path",
    "feed_status",
    "inbox_counts",
    "list_collisions",
    "list_drop_holds",
    "list_messages",
    "list_pending",
    "metrics_text",
    "preview_csv_path",
    "process_messages",
    "reapply",
    "resolve_collision",
    "retry_failed_messages",
    "send_stale_alert",
    "start_import",
    "term_rows",
]

IMPORT_JOB_KIND = "sis.import"
MSG_NOT_AN_IMPORT = "Job {job_id} is not an SIS import."
MSG_PREVIEW_NOT_DRY = "Job {job_id} is not a dry run: only a dry run's preview can be committed."
MSG_PREVIEW_STALE = (
    "The preview of job {job_id} is stale: applying it now would differ in {count} change(s), "
    "first {first}. Run a new dry run."
)


@dataclass(frozen=True, slots=True)
class ImportOptions:
    dry_run: bool = False
    comprehensive: bool = False
    force: bool = False
    commit_preview: str | None = None


@dataclass(frozen=True, slots=True)
class StartResult:
    job: JobData | None
    already_imported_as: str | None = None


def _dir(kind: str) -> Path:
    path = Path(settings.DATA_DIR) / "sis" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def errors_csv_path(job_uuid: uuid_module.UUID | str) -> Path:
    return _dir("reports") / f"{job_uuid}.errors.csv"


def preview_csv_path(job_uuid: uuid_module.UUID | str) -> Path:
    return _dir("reports") / f"{job_uuid}.preview.csv"


def _changes_path(job_uuid: uuid_module.UUID | str) -> Path:
    return _dir("reports") / f"{job_uuid}.changes.jsonl"


def _copy_and_hash(stream: BinaryIO, target: Path, max_bytes: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        while chunk := stream.read(1024 * 1024):
            size += len(chunk)
            if size > max_bytes:
                out.close()
                target.unlink(missing_ok=True)
                raise Invalid(
                    SisErrorCode.TOO_LARGE,
                    f"The file is over the limit of {max_bytes} bytes.",
                    fields={"limit": max_bytes},
                )
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def start_import(
    stream: BinaryIO | Any,
    *,
    filename: str,
    actor: Actor,
    options: ImportOptions = ImportOptions(),
    foreground: bool = False,
) -> StartResult:
    """Take a file in: keep a copy, recognise a file already imported, and start the job.

    `foreground=True` leaves the job for the caller to run (`jobs.api.run_job`, the CLI);
    otherwise it is dispatched to the worker (or the embedded runner).
    """
    config = SisConfig.load()
    if options.commit_preview:
        _check_preview(options.commit_preview)
    job_uuid = uuid_module.uuid4()
    stored = _dir("imports") / f"{job_uuid}.xml"
    sha256, size = _copy_and_hash(stream, stored, config.max_file_bytes)
    if onerostercsv.is_zip(stored):  # a OneRoster CSV zip, known by its content (ADR 0016)
        stored = stored.rename(stored.with_suffix(".zip"))
    if not (options.force or options.dry_run or options.commit_preview):
        previous = (
            Feed.objects.filter(sha256=sha256, completed=True, dry_run=False)
            .order_by("-created")
            .first()
        )
        if previous is not None:
            stored.unlink(missing_ok=True)
            return StartResult(job=None, already_imported_as=str(previous.job_uuid))
    params = {
        "path": str(stored),
        "filename": filename,
        "sha256": sha256,
        "size": size,
        "dry_run": options.dry_run,
        "comprehensive": options.comprehensive,
        "force": options.force,
        "commit_preview": options.commit_preview,
    }
    with transaction.atomic():
        job = jobs.start_job(IMPORT_JOB_KIND, params, actor=actor, dispatch=not foreground)
        Feed.objects.create(
            job_uuid=job.uuid,
            sha256=sha256,
            filename=filename,
            size=size,
            stored_path=str(stored),
            dry_run=options.dry_run,
            comprehensive=options.comprehensive,
            forced=options.force,
            created=clock.now(),
        )
    return StartResult(job=job)


def _check_preview(job_id: str) -> Feed:
    key = parse_uuid(job_id)
    feed = Feed.objects.filter(job_uuid=key).first() if key else None
    if feed is None:
        raise NotFound(SisErrorCode.NOT_AN_IMPORT, MSG_NOT_AN_IMPORT.format(job_id=job_id))
    if not feed.dry_run or not feed.completed:
        raise Conflict(SisErrorCode.NOT_A_PREVIEW, MSG_PREVIEW_NOT_DRY.format(job_id=job_id))
    return feed


# ---------------------------------------------------------------- the job


class _Rollback(Exception):
    """Leaves a dry run's transaction without writing anything."""


def _validate(path: Path, config: SisConfig, notify: Callable[..., None]) -> int:
    """The parse-only pass: a malformed, hostile or badly encoded file fails here, before
    anything is written. Returns the number of records (rows of a OneRoster zip)."""
    if onerostercsv.is_zip(path):
        return onerostercsv.OneRosterFeed(path, config).validate()
    records = 0
    with path.open("rb") as stream:
        for _record in parser.iter_records(
            stream,
            max_bytes=config.max_file_bytes,
            progress=lambda n: notify("validate", bytes=n),
        ):
            records += 1
    return records


def _stage_and_apply(
    path: Path,
    context: jobs.JobContext,
    config: SisConfig,
    *,
    comprehensive: bool,
) -> tuple[StageResult, ApplyResult, dict[str, Any]]:
    passwords: dict[str, str] = {}
    stager = Stager(changed_by=f"import:{context.job_uuid}", now=clock.now())
    if onerostercsv.is_zip(path):
        return _stage_and_apply_zip(path, context, config, stager, comprehensive=comprehensive)
    with path.open("rb") as stream:
        # Parsed on a background thread while this one writes; the byte count it reaches is
        # passed on from here, so that the job's own writes stay on this thread's connection.
        read = [0]
        records = parser.read_ahead(
            parser.iter_records(
                stream,
                max_bytes=config.max_file_bytes,
                progress=lambda n: read.__setitem__(0, n),
            )
        )
        for seen, record in enumerate(records, start=1):
            if config.local_passwords and isinstance(record, PersonRecord) and record.passwords:
                passwords[record.sourcedid] = next(iter(record.passwords.values()))
            stager.add(record)
            if seen % 5000 == 0:
                context.notify("stage", bytes=read[0])
                context.notify("records", count=seen)
        context.notify("stage", bytes=read[0])
        stager.flush()
    staged = stager.result
    applier = Applier(config=config, actor=context.actor, passwords=passwords)
    applier.apply_all(progress=lambda kind, n: context.notify("apply", kind=kind, count=n))
    held: dict[str, Any] = {}
    if comprehensive:
        held = _comprehensive(staged, applier, config, context)
    return staged, applier.result, held


def _stage_and_apply_zip(
    path: Path,
    context: jobs.JobContext,
    config: SisConfig,
    stager: Stager,
    *,
    comprehensive: bool,
) -> tuple[StageResult, ApplyResult, dict[str, Any]]:
    """A OneRoster CSV zip: its rows staged as the same records, then the same apply. A bulk
    file is the whole set: the OneRoster users, classes and memberships it no longer lists
    are dropped (users as ROLLBOOK_SIS_PERSON_DELETE says, classes closed, memberships
    ended), each held when more than the threshold of them would go."""
    feed = onerostercsv.OneRosterFeed(path, config)
    persons: set[str] = set()
    sections: set[str] = set()
    for seen, record in enumerate(feed.records(), start=1):
        if isinstance(record, PersonRecord):
            persons.add(record.sourcedid)
        elif isinstance(record, GroupRecord) and record.grouptype == onerostercsv.SECTION:
            sections.add(record.sourcedid)
        stager.add(record)
        if seen % 5000 == 0:
            context.notify("records", count=seen)
    stager.flush()
    context.notify("stage", bytes=int(context.params.get("size") or 0))
    staged = stager.result
    applier = Applier(config=config, actor=context.actor)
    applier.apply_all(progress=lambda kind, n: context.notify("apply", kind=kind, count=n))
    bulk = onerostercsv.spec.Mode.BULK
    held: dict[str, Any] = {}
    if feed.modes.get("users") is bulk:
        held.update(_bulk_drops(USERS_HELD, persons, applier, config))
    if feed.modes.get("classes") is bulk:
        held.update(_bulk_drops(CLASSES_HELD, sections, applier, config))
    if comprehensive or feed.modes.get("enrollments") is bulk:
        terms = set(
            StagedGroup.objects.filter(
                grouptype=onerostercsv.SECTION, data__source=onerostercsv.SOURCE
            ).values_list("term", flat=True)
        )
        held.update(
            _comprehensive(
                staged, applier, config, context, terms=terms, source=onerostercsv.SOURCE
            )
        )
    return staged, applier.result, held


# Keys of a held OneRoster bulk drop in the job's result (beside the terms' membership drops).
USERS_HELD = "users.csv"
CLASSES_HELD = "classes.csv"


def _bulk_rows(kind: str) -> QuerySet[Any]:
    """The OneRoster persons (or sections) in force: applied from a zip and not deleted."""
    rows: QuerySet[Any] = (
        StagedPerson.objects.all()
        if kind == USERS_HELD
        else StagedGroup.objects.filter(grouptype=onerostercsv.SECTION)
    )
    return rows.filter(data__source=onerostercsv.SOURCE, state=RowState.APPLIED).exclude(
        recstatus=3
    )


def _bulk_drops(kind: str, listed: set[str], applier: Applier, config: SisConfig) -> dict[str, Any]:
    """Users or classes a bulk file no longer lists: deleted, unless more than the threshold
    of them would go; then they wait in the job's result for approval."""
    total = 0
    missing: list[str] = []
    for sourcedid in _bulk_rows(kind).values_list("sourcedid", flat=True).iterator():
        total += 1
        if sourcedid not in listed:
            missing.append(sourcedid)
    if not missing:
        return {}
    if len(missing) / total > config.drop_threshold:
        return {kind: {"gone": sorted(missing), "learner_drops": len(missing), "learners": total}}
    _delete_missing(kind, missing, applier)
    return {}


def _delete_missing(kind: str, sourcedids: list[str], applier: Applier) -> None:
    """Mark them deleted (recstatus 3) and apply that, as a delta's `tobedeleted` would."""
    model: Any = StagedPerson if kind == USERS_HELD else StagedGroup
    for start in range(0, len(sourcedids), 500):
        for row in model.objects.filter(sourcedid__in=sourcedids[start : start + 500]):
            row.recstatus = 3
            row.digest = ""  # listed again later, it is a change again
            row.state = RowState.NEW
            row.data = {**row.data, "dropped": "absent from a bulk file"}
            row.save(update_fields=["recstatus", "digest", "state", "data"])
    if kind == USERS_HELD:
        applier.apply_persons()
    else:
        applier.apply_groups()


def _key(row: StagedMembership) -> tuple[str, str, str]:
    return (row.group_sourcedid, row.person_sourcedid, row.roletype)


def _comprehensive(
    staged: StageResult,
    applier: Applier,
    config: SisConfig,
    context: jobs.JobContext,
    *,
    terms: set[str] | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """For each term of the feed, drop the SIS memberships the feed no longer lists, unless
    more than the threshold of the term's SIS enrollments would go: then that term waits.
    `terms` and `source` narrow it (a OneRoster bulk file: every term of its classes, "" for
    classes without one, and only sections that came from OneRoster)."""
    held: dict[str, Any] = {}
    for term in sorted(staged.terms if terms is None else terms):
        groups = StagedGroup.objects.filter(term=term, grouptype="CourseSection")
        if source is not None:
            groups = groups.filter(data__source=source)
        sections = groups.values_list("sourcedid", flat=True)
        unreadable = staged.groups_with_errors
        active = StagedMembership.objects.filter(
            group_sourcedid__in=[s for s in sections if s not in unreadable],
            status=1,
            state=RowState.APPLIED,
        ).exclude(recstatus=3)
        learners = 0
        missing: list[StagedMembership] = []
        for row in active.iterator(chunk_size=2000):
            is_learner = config.role_map.get(row.roletype) == LEARNER
            learners += is_learner
            if _key(row) not in staged.seen_memberships:
                missing.append(row)
        learner_drops = sum(config.role_map.get(r.roletype) == LEARNER for r in missing)
        if not missing:
            continue
        if learners and learner_drops / learners > config.drop_threshold:
            held[term] = {
                "drops": [list(_key(row)) for row in missing],
                "learner_drops": learner_drops,
                "learners": learners,
            }
            continue
        _drop(missing, applier)
    return held


def _drop(rows: list[StagedMembership], applier: Applier) -> None:
    """Mark memberships ended and apply that: enrollments and grants lose this SIS source."""
    for row in rows:
        row.status = 0
        row.digest = ""  # the same membership listed again later is a change again
        row.state = RowState.NEW
        row.data = {**row.data, "dropped": "absent from a comprehensive feed"}
        row.save(update_fields=["status", "digest", "state", "data"])
    applier.apply_memberships()


def _change_lines(result: ApplyResult) -> list[str]:
    return sorted(json.dumps(change.as_row()) for change in result.changes)


def _write_reports(
    job_uuid: uuid_module.UUID,
    staged: StageResult,
    applied: ApplyResult,
    *,
    filename: str,
    preview: bool,
) -> None:
    with errors_csv_path(job_uuid).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "line", "record_id", "code", "message"])
        for error in staged.errors:
            writer.writerow([filename, error.line, error.record_id, error.code, error.message])
        for record_id, code, message in applied.errors:
            writer.writerow([filename, "", record_id, code, message])
    if preview:
        with preview_csv_path(job_uuid).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["kind", "action", "subject", "detail"])
            for change in applied.changes:
                if change.destructive:
                    writer.writerow(change.as_row())
        _changes_path(job_uuid).write_text("\n".join(_change_lines(applied)))


def _summary(staged: StageResult, applied: ApplyResult) -> dict[str, Any]:
    return {
        "staged": {kind: counts.as_dict() for kind, counts in staged.counts.items()},
        "applied": applied.summary(),
        "record_errors": len(staged.errors),
        "apply_errors": len(applied.errors),
        "destructive": sum(change.destructive for change in applied.changes),
        "changes": len(applied.changes),
    }


def _count(context: jobs.JobContext, staged: StageResult, applied: ApplyResult) -> None:
    for kind, counts in staged.counts.items():
        for outcome, n in counts.as_dict().items():
            if n:
                context.count(f"staged.{kind}.{outcome}", n)
    for kind, counter in applied.counts.items():
        for outcome, n in counter.items():
            context.count(f"{kind}.{outcome}", n)
    for error in staged.errors[:25]:
        context.error(f"line {error.line}: {error.record_id}", error.code, error.message)
    for record_id, code, message in applied.errors[: max(0, 25 - len(staged.errors))]:
        context.error(record_id, code, message)
    extra = len(staged.errors) + len(applied.errors) - len(context.errors)
    if extra > 0:
        context.count("errors", extra)


def run_import(context: jobs.JobContext) -> dict[str, Any]:
    params = context.params
    feed = Feed.objects.get(job_uuid=context.job_uuid)
    config = SisConfig.load()
    if context.held_result.get("held"):
        return _apply_held(context, feed, config)
    path = Path(params["path"])
    _report_progress(context, size=int(params.get("size") or 0))
    try:
        records = _validate(path, config, context.notify)
    except FeedError as exc:
        raise ImportFailed(exc) from exc
    context.count("records", records)
    if params.get("dry_run") or params.get("commit_preview"):
        outcome: dict[str, Any] = {}
        try:
            with transaction.atomic():
                staged, applied, held = _stage_and_apply(
                    path, context, config, comprehensive=bool(params.get("comprehensive"))
                )
                outcome = {"staged": staged, "applied": applied, "held": held}
                if params.get("commit_preview"):
                    _compare_with_preview(params["commit_preview"], applied)
                if params.get("dry_run"):
                    raise _Rollback
        except _Rollback:
            pass
        staged, applied, held = outcome["staged"], outcome["applied"], outcome["held"]
    else:
        staged, applied, held = _stage_and_apply(
            path, context, config, comprehensive=bool(params.get("comprehensive"))
        )
    _write_reports(
        context.job_uuid, staged, applied, filename=feed.filename, preview=bool(params["dry_run"])
    )
    _count(context, staged, applied)
    summary = {
        **_summary(staged, applied),
        "format": "oneroster_csv" if onerostercsv.is_zip(path) else "ims_enterprise",
    }
    feed.summary = {**summary, "held_terms": sorted(held)}
    feed.completed = True
    feed.save(update_fields=["summary", "completed"])
    result = {
        "summary": summary,
        "errors_csv": f"/api/v1/sis/imports/{context.job_uuid}/errors.csv",
    }
    if params.get("dry_run"):
        result["preview_csv"] = f"/api/v1/sis/imports/{context.job_uuid}/preview.csv"
    if held:
        terms = ", ".join(
            f"{key} ({info['learner_drops']} of {info['learners']} rows)"
            if "gone" in info
            else f"term {key or '(none)'} ({info['learner_drops']} of {info['learners']} "
            "enrollments)"
            for key, info in sorted(held.items())
        )
        raise jobs.HoldJob(
            f"Comprehensive drops over the {config.drop_threshold:.0%} threshold wait for "
            f"approval in {terms}.",
            {**result, "held": held},
        )
    return result


# Share of the job's progress (per mille) at the end of each phase: the parse-only pass,
# staging (both by bytes read), then apply, kind by kind.
_VALIDATED, _STAGED = 200, 500
_APPLIED = {"person": 600, "group": 700, "membership": 990}


def _report_progress(context: jobs.JobContext, *, size: int) -> None:
    """Turn the pipeline's notifications into the job's progress (0-100), so that
    `GET /api/v1/jobs/{id}` shows how far a running import is, and pass them on."""
    outer = context.observer
    total = max(size, 1)

    def observe(event: str, data: dict[str, Any]) -> None:
        if outer is not None:
            outer(event, data)
        if event == "validate":
            context.progress(_VALIDATED * data["bytes"] // total, 1000)
        elif event == "stage":
            context.progress(_VALIDATED + (_STAGED - _VALIDATED) * data["bytes"] // total, 1000)
        elif event == "apply":
            context.progress(_APPLIED.get(data["kind"], _STAGED), 1000)

    context.observer = observe


def _apply_held(context: jobs.JobContext, feed: Feed, config: SisConfig) -> dict[str, Any]:
    """After approval: drop what the comprehensive run held back."""
    held = context.held_result["held"]
    applier = Applier(config=config, actor=context.actor)
    for kind in (USERS_HELD, CLASSES_HELD):  # a OneRoster bulk file's users and classes
        if kind in held:
            _delete_missing(kind, held[kind]["gone"], applier)
            context.count(f"{kind}.dropped_after_approval", len(held[kind]["gone"]))
    keys = {tuple(key) for info in held.values() for key in info.get("drops", [])}
    rows = [
        row
        for row in StagedMembership.objects.filter(
            group_sourcedid__in={key[0] for key in keys}, status=1
        )
        if _key(row) in keys
    ]
    _drop(rows, applier)
    context.count("membership.dropped_after_approval", len(rows))
    feed.summary = {**feed.summary, "held_terms": [], "approved_drops": len(rows)}
    feed.save(update_fields=["summary"])
    return {k: v for k, v in context.held_result.items() if k != "held"}


class ImportFailed(Exception):
    """The file cannot be imported at all (the job fails; nothing was applied)."""

    def __init__(self, error: FeedError) -> None:
        where = f" at line {error.line}" if error.line else ""
        if error.line and error.column:
            where += f", column {error.column}"
        if error.file:
            where = f" in {error.file}{where}"
        super().__init__(f"{error.code}{where}: {error.message}")
        self.error = error


def _compare_with_preview(preview_job: str, applied: ApplyResult) -> None:
    expected = _changes_path(preview_job).read_text().splitlines()
    actual = _change_lines(applied)
    if expected == actual:
        return
    gone = sorted(set(expected) - set(actual))
    new = sorted(set(actual) - set(expected))
    differences = [f"no longer: {line}" for line in gone] + [f"now also: {line}" for line in new]
    raise Conflict(
        SisErrorCode.STALE_PREVIEW,
        MSG_PREVIEW_STALE.format(
            job_id=preview_job, count=len(differences), first="; ".join(differences[:5])
        ),
        fields={"differences": differences[:100]},
    )


# ---------------------------------------------------------------- operators


def _held_import(job_id: str) -> JobData:
    job = jobs.get_job(job_id)
    if job.kind != IMPORT_JOB_KIND:
        raise NotFound(SisErrorCode.NOT_AN_IMPORT, MSG_NOT_AN_IMPORT.format(job_id=job_id))
    return job


def approve_import(job_id: str, *, actor: Actor) -> JobData:
    """Approve the drops a comprehensive import held back: the job runs them."""
    _held_import(job_id)
    return jobs.approve_job(job_id, actor=actor)


def discard_import(job_id: str, *, actor: Actor) -> JobData:
    """Discard the held drops: nothing is dropped, the job ends cancelled."""
    _held_import(job_id)
    return jobs.cancel_job(job_id, actor=actor)


def reapply(*, actor: Actor) -> dict[str, Any]:
    """Apply what waits (filtered terms after a filter change, pending, errors)."""
    StagedGroup.objects.filter(state=RowState.FILTERED).update(state=RowState.NEW)
    StagedMembership.objects.filter(state=RowState.FILTERED).update(state=RowState.NEW)
    applier = Applier(config=SisConfig.load(), actor=actor)
    applier.apply_all()
    return applier.result.summary()


def retry_failed_messages(message_ids: list[str] | None = None) -> int:
    """Failed LMB messages back in line (all, or those named)."""
    return inbox.retry_failed(message_ids)


def list_messages(*, page: PageRequest, state: str | None = None) -> Page[LmbMessage]:
    """LMB inbox messages, newest first, optionally of one state (failed, blocked, ...)."""
    rows = InboxMessage.objects.defer("body").order_by("-id")
    if state:
        rows = rows.filter(state=state)
    return paginate(rows, page, _message)


def _message(row: InboxMessage) -> LmbMessage:
    return LmbMessage(
        row.message_id, row.state, row.received_at, row.applied_at, row.attempts, row.error
    )


def process_messages() -> int:
    """Apply pending LMB messages now, in arrival order."""
    return inbox.process_inbox()


def inbox_counts() -> dict[str, int]:
    """LMB inbox rows by state (pending, applied, failed)."""
    return inbox.inbox_counts()


def _pending(row: StagedMembership) -> PendingMembership:
    return PendingMembership(
        row.group_sourcedid, row.person_sourcedid, row.roletype, row.reason, row.changed_at
    )


def _held(row: StagedPerson) -> HeldPerson:
    account = row.collision_user
    return HeldPerson(
        row.id,
        row.sourcedid,
        str(row.data.get("full_name") or ""),
        str(row.data.get("email") or ""),
        row.reason,
        row.changed_at,
        kind=row.collision_kind,
        account_id=account.id if account else None,
        account_username=account.username if account else "",
        other_sourcedid=row.collision_person,
    )


def resolve_collision(
    person_id: int, action: str, *, actor: Actor, username: str = ""
) -> HeldPerson:
    """Settle an identity collision; the memberships that waited for the person are applied
    (or, when it is ignored, skipped). `username`: the new account's (create_with_username),
    or another account to link than the one collided with (link_existing)."""
    try:
        resolution = Resolution(action)
    except ValueError:
        raise Invalid(
            SisErrorCode.BAD_RESOLUTION, MSG_BAD_ACTION, fields={"action": action}
        ) from None
    with transaction.atomic():
        row = (
            StagedPerson.objects.select_for_update(of=("self",))
            .select_related("collision_user")
            .filter(id=person_id, state=RowState.HELD)
            .first()
        )
        if row is None:
            raise NotFound(SisErrorCode.NOT_HELD, MSG_NOT_HELD.format(id=person_id))
        before = _held(row)
        who = actor.username or actor.source
        if resolution is Resolution.IGNORE:
            row.state, row.reason = RowState.SKIPPED, f"identity collision ignored by {who}"
            row.save(update_fields=["state", "reason"])
            StagedMembership.objects.filter(
                person_sourcedid=row.sourcedid, state=RowState.PENDING
            ).update(
                state=RowState.SKIPPED,
                reason=f"person {row.sourcedid} is left out (collision ignored by {who})",
            )
        else:
            row.user_id = _resolution_account(row, resolution, username, actor=actor)
            row.state, row.reason = RowState.NEW, ""
            row.save(update_fields=["user", "state", "reason"])
            Applier(config=SisConfig.load(), actor=actor, live=True).apply_all()
        audit.record(
            "sis.collision_resolved",
            subject=f"sis-person:{row.sourcedid}",
            actor=actor,
            before={"reason": before.reason, "account": before.account_username},
            after={"action": resolution.value, "username": username},
        )
    return before


def _resolution_account(
    row: StagedPerson, resolution: Resolution, username: str, *, actor: Actor
) -> int:
    if resolution is Resolution.CREATE_WITH_USERNAME:
        if not username:
            raise Invalid(SisErrorCode.BAD_RESOLUTION, MSG_USERNAME_NEEDED, fields={"username": ""})
        if people.user_refs([username]):
            raise Conflict(
                SisErrorCode.USERNAME_TAKEN,
                MSG_USERNAME_TAKEN.format(username=username),
                fields={"username": username},
            )
        created, _ = people.put_user(username, actor=actor, sis_sourcedid=row.sourcedid)
        return created.id
    account = people.get_user_ref(username) if username else None
    if account is None:
        if row.collision_user_id is None:
            raise Invalid(SisErrorCode.BAD_RESOLUTION, MSG_USERNAME_NEEDED, fields={"username": ""})
        account = people.get_user_ref_by_id(row.collision_user_id)
    # The account moves to this SIS person: the one it was linked to lets go of it.
    for other in (
        StagedPerson.objects.select_for_update().filter(user_id=account.id).exclude(id=row.id)
    ):
        other.user_id = None
        other.reason = f"its account '{account.username}' was linked to SIS person {row.sourcedid}"
        other.save(update_fields=["user", "reason"])
    return account.id


def list_pending(*, page: PageRequest) -> Page[PendingMembership]:
    """Memberships waiting for a person or a section, oldest first, with the reason."""
    rows = StagedMembership.objects.filter(state=RowState.PENDING).order_by("changed_at", "id")
    return paginate(rows, page, _pending)


def list_collisions(*, page: PageRequest) -> Page[HeldPerson]:
    """SIS persons held by an identity collision, oldest first, with both sides in the reason."""
    rows = StagedPerson.objects.filter(state=RowState.HELD).order_by("changed_at", "id")
    return paginate(rows.select_related("collision_user"), page, _held)


def list_drop_holds(*, page: PageRequest) -> Page[dropsafety.DropHold]:
    """Terms whose live-feed drops are held by drop safety, with how many wait."""
    return dropsafety.list_holds(page=page)


def approve_drops(term: str, *, actor: Actor) -> int:
    """Apply a term's held drops; counting starts afresh. Returns how many were held."""
    return dropsafety.release(term, approve=True, actor=actor)


def discard_drops(term: str, *, actor: Actor) -> int:
    """Leave a term's held drops unapplied (the enrollments stay). Returns how many."""
    return dropsafety.release(term, approve=False, actor=actor)


def _json_text(key: str) -> NullIf:
    """A staged row's `data[key]` as text; a JSON null is NULL (SQLite reads it as 'null')."""
    return NullIf(KT(f"data__{key}"), Value("null"), output_field=TextField())


def term_rows() -> QuerySet[Any]:
    """Read contract for projections (ADR 0015): the SIS terms staged groups name, one row
    each, with the columns `term`, `first_seen` and `last_changed` (the earliest and latest
    change of a group in that term or of the term's own group), and from the term's own
    `Term` group when the feed sent one: `title` (its full, long or short description),
    `begins` and `ends` (ISO dates, else the earliest begin and latest end of its sections;
    None when nothing gave one). One query."""
    term = StagedGroup.objects.filter(sourcedid=OuterRef("term"), grouptype="Term")

    def own(column: str) -> Subquery:
        value = F(column) if column == "changed_at" else _json_text(column)
        return Subquery(term.values(value=value)[:1])

    return (
        StagedGroup.objects.exclude(term="")
        .values("term")
        .annotate(
            first_seen=Min("changed_at"),
            sections_changed=Max("changed_at"),
            term_changed=own("changed_at"),
            full=own("full"),
            long=own("long"),
            short=own("short"),
            own_begins=own("begin"),
            own_ends=own("end"),
            sections_begin=Min(_json_text("begin")),
            sections_end=Max(_json_text("end")),
        )
        .annotate(
            last_changed=Greatest("sections_changed", Coalesce("term_changed", "sections_changed")),
            title=Coalesce(
                NullIf("full", Value("")),
                NullIf("long", Value("")),
                NullIf("short", Value("")),
                output_field=TextField(),
            ),
            begins=Coalesce("own_begins", "sections_begin", output_field=TextField()),
            ends=Coalesce("own_ends", "sections_end", output_field=TextField()),
        )
        .values("term", "first_seen", "last_changed", "title", "begins", "ends")
    )


def course_term_rows() -> QuerySet[Any]:
    """Read contract for projections (ADR 0016): one row per (course run, SIS term) of the
    staged groups applied to a course, with the columns `course_key` and `term`; callers
    order and stream it (the CSV export merges it with the classes in key order)."""
    return (
        StagedGroup.objects.exclude(course_key="")
        .exclude(term="")
        .values("course_key", "term")
        .distinct()
    )


def course_terms(course_keys: Iterable[str]) -> dict[str, list[str]]:
    """The SIS terms of the staged groups applied to each course run (one query)."""
    terms: dict[str, list[str]] = {}
    rows = (
        StagedGroup.objects.filter(course_key__in=list(course_keys))
        .exclude(term="")
        .values_list("course_key", "term")
        .distinct()
        .order_by("course_key", "term")
    )
    for key, term in rows:
        terms.setdefault(key, []).append(term)
    return terms
