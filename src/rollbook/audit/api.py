"""The append-only change log: every state change in rollbook writes one row here."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Max, Q, QuerySet

from rollbook.audit.data import Actor, AuditEventData, EventData
from rollbook.audit.models import AuditEvent
from rollbook.lib import clock
from rollbook.lib.pagination import Page, PageRequest, paginate

__all__ = [
    "MAX_EVENTS",
    "Actor",
    "AuditEventData",
    "EventData",
    "event_rows",
    "events_after",
    "events_by_seq",
    "last_seq",
    "list_events",
    "numbering_batched",
    "on_events_numbered",
    "record",
    "record_many",
    "sequence_events",
]

log = logging.getLogger(__name__)

MAX_EVENTS = 1000


def _row(
    event: str,
    subject: str,
    actor: Actor,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> AuditEvent:
    return AuditEvent(
        time=clock.now(),
        event=event,
        subject=subject,
        actor_id=actor.user_id,
        actor_username=actor.username,
        source=actor.source,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
    )


def record(
    event: str,
    subject: str,
    *,
    actor: Actor,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Append one change. Call it inside the transaction that makes the change, after locking
    what it changes (ADR 0013: the row's id then follows the subject's order)."""
    _row(event, subject, actor, before, after).save(force_insert=True)
    _sequence_after_commit()


def record_many(
    changes: Iterable[tuple[str, str, Mapping[str, Any] | None, Mapping[str, Any] | None]],
    *,
    actor: Actor,
) -> None:
    """Append many changes in one INSERT: (event, subject, before, after) each."""
    rows = [_row(event, subject, actor, before, after) for event, subject, before, after in changes]
    if rows:
        AuditEvent.objects.bulk_create(rows, batch_size=500)
        _sequence_after_commit()


# ---------------------------------------------------------------- the sequencer (ADR 0013)

# Any constant: the advisory lock's key ("rollbook audit seq"); sis_import's inbox uses another.
_ADVISORY_KEY = 0x524F_4C4C_5345_51
_TABLE = AuditEvent._meta.db_table
# Committed rows without a number get the next numbers in id order, in one statement. Rows of
# transactions not yet committed are invisible here and are numbered by a later run.
_NUMBER_SQL = (
    f"UPDATE {_TABLE} SET seq = numbered.seq FROM ("  # noqa: S608 - constant table name
    f" SELECT id, (SELECT COALESCE(MAX(seq), 0) FROM {_TABLE})"
    f" + ROW_NUMBER() OVER (ORDER BY id) AS seq FROM {_TABLE} WHERE seq IS NULL"
    f") AS numbered WHERE {_TABLE}.id = numbered.id"
)


def sequence_events() -> int:
    """Number the committed audit rows that have no number yet; returns how many it numbered.

    One run at a time: on PostgreSQL a transaction-scoped advisory lock, taken in a statement
    before the UPDATE so that the UPDATE's snapshot sees every earlier run's numbers; on SQLite
    the one writer (BEGIN IMMEDIATE, settings' `transaction_mode`). Call it outside a
    transaction: inside one, the caller's own uncommitted rows would be numbered too, and on
    PostgreSQL the lock would be held until the caller commits."""
    connection = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_KEY])
        cursor.execute(_NUMBER_SQL)
        numbered = max(cursor.rowcount, 0)
    if numbered:
        _notify_numbered(numbered)
    return numbered


_LISTENERS: list[Callable[[int], None]] = []


def on_events_numbered(listener: Callable[[int], None]) -> None:
    """Call `listener(count)` after each run of the sequencer that numbered events (an app
    above audit that consumes the events, webhooks say, registers it in AppConfig.ready: audit
    cannot import it). It runs where the numbering ran, after its transaction; it must be
    quick and must not raise (what it raises is logged and swallowed)."""
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def _notify_numbered(count: int) -> None:
    for listener in list(_LISTENERS):
        try:
            listener(count)
        except Exception:
            log.exception("an events-numbered listener failed")


# The transaction's registered callback, per thread: (the connection's on-commit list, the
# callback's index in it). Django replaces that list when the transaction ends and when a
# savepoint rolls back (dropping the callbacks registered in it), so the mark is only trusted
# while the list is the same one and still holds the callback where it was put; the callback
# clears it when it runs (tests that capture on-commit callbacks keep the list).
_registered = threading.local()


def _sequence_after_commit() -> None:
    """Number this transaction's rows after it commits: one callback a transaction, however
    many rows it records. Outside a transaction the rows are committed: number them now."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.in_atomic_block:
        hooks = connection.run_on_commit
        mark = getattr(_registered, "mark", None)
        if mark is not None:
            marked, index = mark
            if marked is hooks and index < len(hooks) and hooks[index][1] is _sequence_soon:
                return
        transaction.on_commit(_sequence_soon)
        _registered.mark = (hooks, len(hooks) - 1)
        return
    _sequence_soon()


def _sequence_soon() -> None:
    """The after-commit run. It never fails the request that committed: a row it leaves
    without a number gets one from the next run (the next commit, or the next read). Inside
    `numbering_batched` it runs at most once an interval; the block's end runs it once more."""
    _registered.mark = None
    if getattr(_batched, "depth", 0):
        now = time.monotonic()
        if now - _batched.last < _batched.every:
            _batched.pending = True
            return
        _batched.last, _batched.pending = now, False
    try:
        sequence_events()
    except Exception:
        log.exception("numbering the audit events failed; the next run numbers them")


# This thread's `numbering_batched` block: depth, interval, last run, whether a run was skipped.
_batched = threading.local()

BATCHED_EVERY_SECONDS = 0.5


@contextmanager
def numbering_batched(*, every: float = BATCHED_EVERY_SECONDS) -> Iterator[None]:
    """For bulk paths that commit many small transactions (an import granting roles one by
    one, say): inside, the after-commit numbering runs at most once every `every` seconds
    instead of after each commit, and once more as the outermost block ends, so no event
    waits longer than that. Each run is a transaction of its own (a lock and one UPDATE): the
    outbox's cost on bulk paths is mostly those runs (bench/RESULTS.md, "Outbound"). Readers
    number first anyway (ADR 0013), so what they see is never behind."""
    depth = getattr(_batched, "depth", 0)
    if depth == 0:
        _batched.every, _batched.last, _batched.pending = every, time.monotonic(), False
    _batched.depth = depth + 1
    try:
        yield
    finally:
        _batched.depth = depth
        if depth == 0 and _batched.pending:
            _batched.pending = False
            _sequence_after_commit()  # after the caller's own transaction, if it is in one


def _event(row: AuditEvent) -> EventData:
    return EventData(
        seq=cast(int, row.seq),  # read with seq > after: numbered
        event=row.event,
        subject=row.subject,
        time=row.time,
        actor_username=row.actor_username,
        source=row.source,
        before=row.before,
        after=row.after,
    )


def _matching(field: str, patterns: Sequence[str]) -> Q:
    """Exact values, or prefixes where a pattern ends with '*' ('*' alone: everything)."""
    exact = [pattern for pattern in patterns if not pattern.endswith("*")]
    condition = Q(**{f"{field}__in": exact}) if exact else Q(pk__in=[])
    for pattern in patterns:
        if pattern.endswith("*"):
            condition |= Q(**{f"{field}__startswith": pattern[:-1]})
    return condition


def events_after(
    after: int,
    *,
    types: Sequence[str] | None = None,
    subject: str | None = None,
    limit: int = 100,
    upto: int | None = None,
) -> list[EventData]:
    """The events numbered after `after`, in number order, at most `limit` (1 to 1000).

    Numbers the committed rows first, so a reader sees every committed change. `types`: event
    names (`enrollment.created`), or prefixes ending in '*' (`enrollment.*`); empty or None:
    all. `subject`: exact, or a prefix ending in '*' (`enrollment:KEY:*`). `upto`: only the
    events numbered up to it, and no numbering run (the caller numbered them and read `upto`
    from `last_seq()`; a reader that scans in pages to a fixed end, inside a transaction)."""
    if not 1 <= limit <= MAX_EVENTS:
        raise ValueError(f"limit must be 1 to {MAX_EVENTS}")
    rows = AuditEvent.objects.filter(seq__gt=after)
    if upto is None:
        sequence_events()
    else:
        rows = rows.filter(seq__lte=upto)
    if types:
        rows = rows.filter(_matching("event", types))
    if subject:
        rows = rows.filter(_matching("subject", [subject]))
    return [_event(row) for row in rows.order_by("seq")[:limit]]


def events_by_seq(seqs: Sequence[int]) -> dict[int, EventData]:
    """The events with these numbers (those that exist), by number: one query."""
    if not seqs:
        return {}
    rows = AuditEvent.objects.filter(seq__in=list(seqs))
    return {cast(int, row.seq): _event(row) for row in rows}


def event_rows(after: int, upto: int) -> QuerySet[Any]:
    """Read contract for projections (ADR 0015, 0017): the events numbered `after < seq <=
    upto`, with the columns `seq`, `event`, `subject`, `before` and `after` (JSON). It does not
    run the sequencer: take `upto` from `last_seq()` (after `sequence_events()` when the caller
    must see every committed change), so that the window is fixed while it is paged."""
    return AuditEvent.objects.filter(seq__gt=after, seq__lte=upto)


def last_seq() -> int:
    """The highest number given so far (0 when none)."""
    return AuditEvent.objects.aggregate(last=Max("seq"))["last"] or 0


def _data(row: AuditEvent) -> AuditEventData:
    return AuditEventData(
        id=row.id,
        time=row.time,
        event=row.event,
        subject=row.subject,
        actor_username=row.actor_username,
        source=row.source,
        before=row.before,
        after=row.after,
    )


def list_events(
    *, subject: str | None = None, event: str | None = None, page: PageRequest
) -> Page[AuditEventData]:
    """Newest first. `subject` matches exactly, or a prefix when it ends with '*'."""
    rows = AuditEvent.objects.order_by("-id")
    if subject:
        if subject.endswith("*"):
            rows = rows.filter(subject__startswith=subject[:-1])
        else:
            rows = rows.filter(subject=subject)
    if event:
        rows = rows.filter(event=event)
    return paginate(rows, page, _data)
