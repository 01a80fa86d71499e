"""The live LMB feed: a durable inbox in the database, applied in arrival order.

`accept_message` records a message (or recognises its id as already recorded) before the
endpoint answers 200; `process_inbox` applies pending messages one at a time, in the order
they arrived, through the same staging and apply as files. One processor runs at a time: a
PostgreSQL advisory lock across processes, a lock in the process on SQLite (one writer).
A message that fails is marked failed with its error and the others go on.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from rollbook.audit.data import Actor
from rollbook.jobs import api as jobs
from rollbook.lib import clock
from rollbook.sis_import import parser
from rollbook.sis_import.apply import Applier
from rollbook.sis_import.config import SisConfig
from rollbook.sis_import.models import InboxMessage, InboxState
from rollbook.sis_import.staging import Stager

log = logging.getLogger(__name__)

PROCESS_TASK = "sis.process_inbox"
_ADVISORY_KEY = 7_301_446_511  # "rollbook LMB inbox"
_local_lock = threading.Lock()
_PASSWORD = re.compile(rb"""(\bpassword\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Accepted:
    message_id: str
    seq: int
    duplicate: bool


def blank_passwords(xml: bytes) -> bytes:
    """`password="..."` attributes emptied: passwords are never stored or logged."""
    return _PASSWORD.sub(lambda m: m.group(1) + m.group(2) + m.group(2), xml)


def accept_message(body: bytes, *, message_id: str) -> Accepted:
    """Validate one message and record it durably; the same id again is a duplicate.

    Raises FeedError for malformed or hostile XML (nothing recorded). Processing is dispatched
    once the record is committed.
    """
    parser.parse_message(body, max_bytes=int(settings.LMB["MAX_BYTES"]))  # or FeedError
    text = body if SisConfig.load().local_passwords else blank_passwords(body)
    seq = _recorded(message_id)
    if seq is None:
        try:
            with transaction.atomic():
                row = InboxMessage.objects.create(
                    message_id=message_id, received_at=clock.now(), body=text
                )
                jobs.dispatch_task(PROCESS_TASK)
        except IntegrityError:  # the same id, posted twice at once
            seq = _recorded(message_id)
        else:
            _log(message_id, "accepted", text)
            return Accepted(message_id, row.id, duplicate=False)
    if seq is None:  # pragma: no cover (the IntegrityError says the row exists)
        raise RuntimeError(f"message {message_id} conflicted but is not recorded")
    _log(message_id, "duplicate", None)
    return Accepted(message_id, seq, duplicate=True)


def _recorded(message_id: str) -> int | None:
    """The inbox id of a message already recorded under this id, or None."""
    return InboxMessage.objects.filter(message_id=message_id).values_list("id", flat=True).first()


@contextmanager
def _single_processor() -> Iterator[bool]:
    """True when this caller is the one processor; False when another is already at work."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_ADVISORY_KEY])
            got = bool(cursor.fetchone()[0])
        try:
            yield got
        finally:
            if got:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [_ADVISORY_KEY])
        return
    got = _local_lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            _local_lock.release()


def process_inbox(*, limit: int | None = None) -> int:
    """Apply pending messages in arrival order; returns how many were processed. A caller that
    finds another processor at work returns 0 at once (that one drains the inbox)."""
    done = 0
    with _single_processor() as mine:
        if not mine:
            return 0
        config = SisConfig.load()
        while limit is None or done < limit:
            row = InboxMessage.objects.filter(state=InboxState.PENDING).order_by("id").first()
            if row is None:
                break
            _apply_one(row, config)
            done += 1
    return done


def _apply_one(row: InboxMessage, config: SisConfig) -> None:
    actor = Actor.system(f"lmb:{row.message_id}")
    row.attempts += 1
    try:
        with transaction.atomic():
            records = parser.parse_message(bytes(row.body), max_bytes=len(row.body) + 1)
            stager = Stager(changed_by=f"lmb:{row.message_id}", now=clock.now())
            staged = stager.add_all(records)
            applier = Applier(config=config, actor=actor)
            applier.apply_all()
            if staged.errors:
                first = staged.errors[0]
                raise ValueError(f"{first.code}: {first.message} (line {first.line})")
    except Exception as exc:
        log.warning("LMB message %s failed: %s", row.message_id, exc)
        row.state = InboxState.FAILED
        row.error = f"{type(exc).__name__}: {exc}"
    else:
        row.state = InboxState.APPLIED
        row.error = ""
        row.applied_at = clock.now()
    row.save(update_fields=["state", "error", "attempts", "applied_at"])
    _log(row.message_id, row.state, None, error=row.error)


def retry_failed(message_ids: list[str] | None = None) -> int:
    """Put failed messages back in line (all of them, or those named); returns how many."""
    rows = InboxMessage.objects.filter(state=InboxState.FAILED)
    if message_ids:
        rows = rows.filter(message_id__in=message_ids)
    count = rows.update(state=InboxState.PENDING)
    if count:
        jobs.dispatch_task(PROCESS_TASK)
    return count


def inbox_counts() -> dict[str, int]:
    return {state: InboxMessage.objects.filter(state=state).count() for state in InboxState.values}


def prune(*, now: dt.datetime | None = None) -> int:
    """Applied inbox rows and log files older than the retention period go."""
    now = now or clock.now()
    cutoff = now - dt.timedelta(days=int(settings.LMB["RETENTION_DAYS"]))
    deleted, _ = InboxMessage.objects.filter(
        state=InboxState.APPLIED, received_at__lt=cutoff
    ).delete()
    for path in _log_dir().glob("lmb-*.log"):
        day = path.stem.removeprefix("lmb-")
        try:
            if dt.date.fromisoformat(day) < cutoff.date():
                path.unlink()
        except ValueError:
            continue
    return deleted


def _log_dir() -> Path:
    path = Path(settings.DATA_DIR) / "sis" / "lmb-log"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _log(message_id: str, outcome: str, xml: bytes | None, *, error: str = "") -> None:
    """One JSON line per event in the day's file: time, message id, outcome, the XML."""
    now = clock.now()
    entry: dict[str, Any] = {"time": now.isoformat(), "message_id": message_id, "outcome": outcome}
    if error:
        entry["error"] = error
    if xml is not None and settings.LMB["LOG_XML"]:
        entry["xml"] = blank_passwords(xml).decode("utf-8", errors="replace")
    with (_log_dir() / f"lmb-{now.date().isoformat()}.log").open("a") as handle:
        handle.write(json.dumps(entry) + "\n")
