"""The live LMB feed: a durable inbox in the database, applied in arrival order.

`accept_message` records a message (or recognises its id as already recorded) before the
endpoint answers 200; `process_inbox` applies pending messages in the order they arrived,
through the same staging and apply as files, a batch at a time. One processor runs at a
time: a PostgreSQL advisory lock across processes; on SQLite, a lock in the process, and
across processes the database's one writer (each batch is read, applied and marked applied
in one transaction, which takes SQLite's write lock at BEGIN, so a second processor waits and
then reads only what is still pending). A batch is marked applied in the transaction that
applies it: a crash rolls both back, and nothing is applied twice. A message that fails is
marked failed with its error and the others go on.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F

from rollbook.audit.data import Actor
from rollbook.jobs import api as jobs
from rollbook.lib import clock
from rollbook.sis_import import parser
from rollbook.sis_import.apply import Applier
from rollbook.sis_import.config import SisConfig
from rollbook.sis_import.data import (
    GroupRecord,
    IdType,
    MembershipRecord,
    PersonRecord,
    Record,
    RecordError,
)
from rollbook.sis_import.errors import FeedError
from rollbook.sis_import.models import InboxMessage, InboxState, InboxTally
from rollbook.sis_import.staging import Stager

log = logging.getLogger(__name__)

PROCESS_TASK = "sis.process_inbox"
BATCH = 200  # messages staged and applied in one transaction
# Running totals (InboxTally) for the metrics' counters, which never go back.
APPLIED = "applied"
FAILED_ATTEMPTS = "failed_attempts"
PRUNED_ACCEPTED = "pruned_accepted"
_ONE_AT_A_TIME = ("person:", "group:")
_ADVISORY_KEY = 7_301_446_511  # "rollbook LMB inbox"
# Held while a dispatched processor has not started yet or one is at work: accepts then
# dispatch no other one (jobs.api.dispatch_task_once).
WAKE_KEY = jobs.wake_key(PROCESS_TASK)
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


def accept_message(body: bytes, *, message_id: str, dispatch: bool = True) -> Accepted:
    """Validate one message and record it durably; the same id again is a duplicate.

    Raises FeedError for malformed or hostile XML (nothing recorded). Processing is dispatched
    once the record is committed (unless the caller applies it itself: synchronous mode).
    """
    parser.parse_message(body, max_bytes=int(settings.LMB["MAX_BYTES"]))  # or FeedError
    text = body if SisConfig.load().local_passwords else blank_passwords(body)
    # Insert first: a new message (nearly all of them) costs one statement; the unique index
    # on the message id tells a duplicate, posted again or twice at once. Outside a
    # transaction the INSERT commits by itself (one round trip, durable when it returns);
    # inside a caller's, a savepoint keeps that transaction usable after a conflict.
    try:
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            seq = _insert(message_id, clock.now(), text)
    except IntegrityError:  # recorded before: a duplicate
        pass
    else:
        if dispatch:  # at once in autocommit; after the caller's commit otherwise
            transaction.on_commit(request_processing)
        _log(message_id, "accepted", text)
        return Accepted(message_id, seq, duplicate=False)
    recorded = _recorded(message_id)
    if recorded is None:  # pragma: no cover (the IntegrityError says the row exists)
        raise RuntimeError(f"message {message_id} conflicted but is not recorded")
    _log(message_id, "duplicate", None)
    return Accepted(message_id, recorded, duplicate=True)


_INSERTED = ("message_id", "received_at", "body", "state", "error", "attempts", "entities")


@functools.cache
def _inserted_fields() -> tuple[models.Field[Any, Any], ...]:
    fields = tuple(InboxMessage._meta.get_field(name) for name in _INSERTED)
    return tuple(field for field in fields if isinstance(field, models.Field))


@functools.cache
def _insert_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in _inserted_fields())
    marks = ", ".join(["%s"] * len(_INSERTED))
    table = quote(str(InboxMessage._meta.db_table))
    # Only the model's own table and column names, quoted: no value is in the text.
    return f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING {quote('id')}"  # noqa: S608


def _insert(message_id: str, received_at: dt.datetime, body: bytes) -> int:
    """One new pending inbox row; its id. The statement the ORM would run for
    `InboxMessage.objects.create(...)`, less the ORM's cost of building it each time (the
    accept path runs it hundreds of times a second); values go through the fields' own
    conversion, as the ORM's would. Raises IntegrityError for a message id already recorded.
    """
    values: tuple[Any, ...] = (message_id, received_at, body, InboxState.PENDING, "", 0, [])
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(_inserted_fields(), values, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor), params)
        return int(cursor.fetchone()[0])


def _recorded(message_id: str) -> int | None:
    """The inbox id of a message already recorded under this id, or None."""
    return InboxMessage.objects.filter(message_id=message_id).values_list("id", flat=True).first()


@contextmanager
def _single_processor() -> Iterator[bool]:
    """True when this caller is the one processor; False when another is already at work."""
    if connection.vendor == "postgresql":
        with jobs.try_advisory_lock(_ADVISORY_KEY) as held:
            yield held
        return
    got = _local_lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            _local_lock.release()


def request_processing() -> None:
    """Dispatch the processor, unless one was dispatched and has not started yet or is at work
    (it will see this message): at 500 messages a second, one task a message would cost more
    than the messages (`jobs.api.dispatch_task_once`)."""
    jobs.dispatch_task_once(PROCESS_TASK)


def process_inbox(
    *, limit: int | None = None, until: int | None = None, linger: float = 0.0
) -> int:
    """Apply pending messages in arrival order; returns how many were processed. A caller that
    finds another processor at work returns at once: that one drains the inbox, and looks
    again once it lets go, so a message recorded meanwhile is not left behind.

    `until` stops after the message with that inbox id (synchronous mode). `linger` (seconds):
    after a small batch, wait that long for more messages before reading the next one, so
    that under a steady stream a batch holds many messages (see `process_inbox_task`)."""
    done = 0
    while True:
        with _single_processor() as mine:
            if not mine:
                # The wake key stays: the processor at work clears it when it lets go, and
                # until then accepted messages need no other dispatch.
                return done
            # From here on an accepted message dispatches again.
            _clear_wake()
            done += _drain(limit=limit, until=until, linger=linger)
            _prune_when_due()
        if limit is not None or until is not None:
            return done
        # Cleared before the last look: a message accepted after the look dispatches anew,
        # and one accepted before it (whose dispatch the key held back) is seen by it.
        _clear_wake()
        if not InboxMessage.objects.filter(state=InboxState.PENDING).exists():
            return done


LINGER_SECONDS = 0.25
LINGER_BELOW = BATCH // 2


def process_inbox_task() -> int:
    """The dispatched processor (task `sis.process_inbox`): lingers after small batches."""
    return process_inbox(linger=LINGER_SECONDS)


def _clear_wake() -> None:
    jobs.clear_wake(PROCESS_TASK)


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str
    error: str


def apply_now(accepted: Accepted, *, timeout: float = 30.0) -> Outcome:
    """Synchronous mode: apply the inbox up to this message before answering, and say how it
    went. The same id posted again after a failure is LMB retrying: it is applied again."""
    if accepted.duplicate:
        InboxMessage.objects.filter(id=accepted.seq, state=InboxState.FAILED).update(
            state=InboxState.PENDING
        )
    deadline = time.monotonic() + timeout
    while True:
        with _single_processor() as mine:
            if mine:
                _drain(limit=None, until=accepted.seq)
                break
        if time.monotonic() > deadline:
            break  # another processor holds the inbox: the message stays pending
        time.sleep(0.02)
    state, error = InboxMessage.objects.filter(id=accepted.seq).values_list("state", "error").get()
    if state == InboxState.PENDING:
        error = "another processor is busy: the message is queued and will be applied"
    return Outcome(state, error)


def _drain(*, limit: int | None, until: int | None, linger: float = 0.0) -> int:
    config = SisConfig.load()
    done = 0
    while limit is None or done < limit:
        size = BATCH if limit is None else min(BATCH, limit - done)
        # One transaction a batch: what is pending and what is held back are read in it, so
        # that a processor that waited for SQLite's write lock sees the other one's outcome.
        with transaction.atomic():
            rows = InboxMessage.objects.filter(state=InboxState.PENDING)
            if until is not None:
                rows = rows.filter(id__lte=until)
            batch = list(rows.order_by("id")[:size])
            if batch:
                _apply_batch(batch, config, _blocked_entities())
        if not batch:
            break
        done += len(batch)
        if linger and len(batch) < LINGER_BELOW:
            # A batch costs a few dozen statements whatever its size: under a steady stream,
            # waiting a moment for more costs far less than reading them a few at a time.
            time.sleep(linger)
    return done


@dataclass
class _Parsed:
    row: InboxMessage
    records: list[Record]
    entities: list[str]
    error: str = ""


def _parse(row: InboxMessage) -> _Parsed:
    try:
        records = parser.parse_message(bytes(row.body), max_bytes=len(row.body) + 1)
    except FeedError as exc:
        return _Parsed(row, [], [], error=f"{exc.code}: {exc.message}")
    entities = message_entities(records)
    for record in records:
        if isinstance(record, RecordError):
            where = f" (line {record.line})" if record.line else ""
            return _Parsed(row, records, entities, error=f"{record.code}: {record.message}{where}")
    return _Parsed(row, records, entities)


def message_entities(records: list[Record]) -> list[str]:
    """What a message is about, by natural key: a failed message holds back later messages
    about any of these until it is retried."""
    keys: list[str] = []
    for record in records:
        if isinstance(record, PersonRecord):
            keys.append(f"person:{record.sourcedid}")
        elif isinstance(record, GroupRecord):
            keys.append(f"group:{record.sourcedid}")
        elif isinstance(record, MembershipRecord):
            for member in record.members:
                if member.idtype == IdType.GROUP:
                    keys.append(f"crosslist:{record.group_sourcedid}|{member.sourcedid}")
                else:
                    keys.append(
                        f"membership:{record.group_sourcedid}|{member.sourcedid}|{member.roletype}"
                    )
        elif record.record_id:
            keys.append(f"{record.kind}:{record.record_id}")
    return sorted(set(keys))


def _blocked_entities() -> set[str]:
    blocked: set[str] = set()
    for entities in InboxMessage.objects.filter(
        state__in=(InboxState.FAILED, InboxState.BLOCKED)
    ).values_list("entities", flat=True):
        blocked.update(entities or ())
    return blocked


def _apply_batch(batch: list[InboxMessage], config: SisConfig, blocked: set[str]) -> None:
    """Messages behind a failed one about the same entity wait (blocked); those that cannot
    be read fail alone; the rest are staged and applied together in one transaction. When
    that fails, each is applied alone, so that the one at fault fails alone."""
    ready: list[_Parsed] = []
    seen: set[str] = set()
    for row in batch:
        parsed = _parse(row)
        # A person or a section already in this batch: the batch is applied first, so that a
        # record is applied as it was (an account's username comes from its first record).
        repeats = {key for key in parsed.entities if key.startswith(_ONE_AT_A_TIME)} & seen
        if repeats and ready:
            _apply_ready(ready, config, blocked)
            ready, seen = [], set()
        if blocked.intersection(parsed.entities):
            _settle(row, InboxState.BLOCKED, "waits behind a failed message", parsed.entities)
            blocked.update(parsed.entities)
        elif parsed.error:
            _settle(row, InboxState.FAILED, parsed.error, parsed.entities, attempted=True)
            blocked.update(parsed.entities)
        else:
            ready.append(parsed)
            seen.update(parsed.entities)
    _apply_ready(ready, config, blocked)


def _apply_ready(ready: list[_Parsed], config: SisConfig, blocked: set[str]) -> None:
    if not ready:
        return
    try:
        with transaction.atomic():
            _stage_and_apply(ready, config)
            _mark_applied([parsed.row for parsed in ready])
    except Exception as exc:
        if len(ready) == 1:
            _settle(
                ready[0].row,
                InboxState.FAILED,
                f"{type(exc).__name__}: {exc}",
                ready[0].entities,
                attempted=True,
            )
            blocked.update(ready[0].entities)
            return
        for parsed in ready:  # one by one: the one at fault fails alone
            if blocked.intersection(parsed.entities):
                _settle(
                    parsed.row, InboxState.BLOCKED, "waits behind a failed message", parsed.entities
                )
                blocked.update(parsed.entities)
                continue
            _apply_batch([parsed.row], config, blocked)


def _stage_and_apply(ready: list[_Parsed], config: SisConfig) -> None:
    first, last = ready[0].row.message_id, ready[-1].row.message_id
    source = f"lmb:{first}" if len(ready) == 1 else f"lmb:{first}..{last}"
    stager = Stager(changed_by=source[:128], now=clock.now())
    for parsed in ready:
        stager.changed_by = f"lmb:{parsed.row.message_id}"[:128]
        for record in parsed.records:
            stager.add(record)
    stager.flush()
    Applier(config=config, actor=Actor.system(source[:128]), live=True).apply_all()


def _settle(
    row: InboxMessage, state: str, error: str, entities: list[str], *, attempted: bool = False
) -> None:
    if state == InboxState.FAILED:
        log.warning("LMB message %s failed: %s", row.message_id, error)
    row.state = state
    row.error = error
    row.entities = entities
    row.attempts += 1 if attempted else 0
    with transaction.atomic():
        row.save(update_fields=["state", "error", "entities", "attempts"])
        if attempted and state == InboxState.FAILED:
            add_tally(FAILED_ATTEMPTS, 1)
    message_id = row.message_id
    transaction.on_commit(lambda: _log(message_id, state, None, error=error))


def _mark_applied(rows: list[InboxMessage]) -> None:
    now = clock.now()
    with transaction.atomic():
        InboxMessage.objects.filter(id__in=[row.id for row in rows]).update(
            state=InboxState.APPLIED, error="", applied_at=now, attempts=F("attempts") + 1
        )
        add_tally(APPLIED, len(rows))
    events = [(row.message_id, InboxState.APPLIED.value) for row in rows]
    transaction.on_commit(lambda: _log_many(events))


def retry_failed(message_ids: list[str] | None = None) -> int:
    """Put failed messages back in line (all of them, or those named), with the messages that
    wait behind them; returns how many failed ones were put back."""
    rows = InboxMessage.objects.filter(state=InboxState.FAILED)
    if message_ids:
        rows = rows.filter(message_id__in=message_ids)
    count = rows.update(state=InboxState.PENDING)
    if count:
        # Blocked messages go back in line too: behind a failure that remains they block again.
        InboxMessage.objects.filter(state=InboxState.BLOCKED).update(state=InboxState.PENDING)
        jobs.dispatch_task(PROCESS_TASK)
    return count


def inbox_counts() -> dict[str, int]:
    return {state: InboxMessage.objects.filter(state=state).count() for state in InboxState.values}


def prune(*, now: dt.datetime | None = None) -> int:
    """Applied inbox rows and log files older than the retention period go; how many rows
    is added to a running total (the accepted counter never goes back)."""
    now = now or clock.now()
    cutoff = now - dt.timedelta(days=int(settings.LMB["RETENTION_DAYS"]))
    old = InboxMessage.objects.filter(state=InboxState.APPLIED, received_at__lt=cutoff)
    with transaction.atomic():
        deleted, _ = old.delete()
        if deleted:
            add_tally(PRUNED_ACCEPTED, deleted)
    for path in _log_dir().glob("lmb-*.log"):
        day = path.stem.removeprefix("lmb-")
        try:
            if dt.date.fromisoformat(day) < cutoff.date():
                path.unlink()
        except ValueError:
            continue
    return deleted


def add_tally(name: str, amount: int) -> None:
    """Add to a running total (the row is created the first time)."""
    if not InboxTally.objects.filter(name=name).update(value=F("value") + amount):
        try:
            with transaction.atomic():
                InboxTally.objects.create(name=name, value=amount)
        except IntegrityError:  # created meanwhile by another process
            InboxTally.objects.filter(name=name).update(value=F("value") + amount)


PRUNE_EVERY = dt.timedelta(hours=6)


def _prune_when_due() -> None:
    """The processor prunes now and then (at most every six hours), so no cron is needed."""
    now = clock.now()
    stamp = int(now.timestamp())
    with transaction.atomic():
        last, _ = InboxTally.objects.select_for_update().get_or_create(name="last_pruned_at")
        if stamp - last.value < PRUNE_EVERY.total_seconds():
            return
        last.value = stamp
        last.save(update_fields=["value"])
    try:
        prune(now=now)
    except Exception:  # pruning must never stop the feed; it is retried next time
        log.exception("pruning the LMB inbox failed")


_made_dirs: set[Path] = set()


def _log_dir() -> Path:
    path = Path(settings.DATA_DIR) / "sis" / "lmb-log"
    if path not in _made_dirs:  # once a process, not once a message
        path.mkdir(parents=True, exist_ok=True)
        _made_dirs.add(path)
    return path


def _append(day: dt.date, lines: str) -> None:
    """Append to the day's file in one write (append mode: processes add whole lines)."""
    for attempt in (1, 2):
        try:
            with (_log_dir() / f"lmb-{day.isoformat()}.log").open("a") as handle:
                handle.write(lines)
            return
        except FileNotFoundError:  # the folder was removed meanwhile: make it again
            _made_dirs.clear()
            if attempt == 2:
                raise


def _log(message_id: str, outcome: str, xml: bytes | None, *, error: str = "") -> None:
    """One JSON line per event in the day's file: time, message id, outcome, the XML."""
    now = clock.now()
    entry: dict[str, Any] = {"time": now.isoformat(), "message_id": message_id, "outcome": outcome}
    if error:
        entry["error"] = error
    if xml is not None and settings.LMB["LOG_XML"]:
        entry["xml"] = blank_passwords(xml).decode("utf-8", errors="replace")
    _append(now.date(), json.dumps(entry) + "\n")


def _log_many(events: list[tuple[str, str]]) -> None:
    """Several outcomes at once (one write)."""
    now = clock.now()
    stamp = now.isoformat()
    _append(
        now.date(),
        "".join(
            json.dumps({"time": stamp, "message_id": message_id, "outcome": outcome}) + "\n"
            for message_id, outcome in events
        ),
    )
