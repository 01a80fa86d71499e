"""The outbound event numbers (ADR 0013): gapless, increasing, in the order changes commit."""

from __future__ import annotations

import importlib
import threading
from collections import defaultdict
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.audit.models import AuditEvent

ACTOR = Actor.system("test")

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    pass


def write(subject: str = "user:mary", n: int = 1, event: str = "user.updated") -> None:
    for i in range(n):
        audit.record(event, subject, actor=ACTOR, after={"n": i})


def write_and_roll_back(subject: str, n: int) -> None:
    try:
        with transaction.atomic():
            write(subject, n)
            raise Rollback
    except Rollback:
        pass


def numbers_by_id() -> list[int | None]:
    return list(AuditEvent.objects.order_by("id").values_list("seq", flat=True))


def assert_gapless() -> None:
    """Every numbered row: exactly 1..N, increasing with the id within each run."""
    seqs = sorted(AuditEvent.objects.exclude(seq=None).values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


# ---------------------------------------------------------------- the sequencer


def test_numbers_the_rows_without_one_in_id_order() -> None:
    write("user:mary", 3)
    audit.record_many(
        [("enrollment.created", f"enrollment:K:{u}", None, {"mode": "audit"}) for u in "ab"],
        actor=ACTOR,
    )
    assert numbers_by_id() == [None] * 5  # not numbered inside the transaction
    assert audit.sequence_events() == 5
    assert numbers_by_id() == [1, 2, 3, 4, 5]
    assert audit.sequence_events() == 0
    write("user:bob", 2)
    assert audit.sequence_events() == 2
    assert numbers_by_id() == [1, 2, 3, 4, 5, 6, 7]
    assert audit.last_seq() == 7


def test_an_empty_log_has_nothing_to_number() -> None:
    assert audit.sequence_events() == 0
    assert audit.last_seq() == 0
    assert audit.events_after(0) == []


@pytest.mark.parametrize("rows", [1, 300])
def test_numbering_costs_the_same_queries_whatever_the_rows(
    rows: int, django_assert_num_queries: Any
) -> None:
    write("user:mary", rows)
    # SAVEPOINT, (PostgreSQL: the advisory lock), the UPDATE, RELEASE SAVEPOINT.
    with django_assert_num_queries(4 if connection.vendor == "postgresql" else 3):
        assert audit.sequence_events() == rows


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.booleans(), st.booleans()), min_size=1, max_size=12)
)
def test_the_numbers_are_gapless_and_follow_the_ids(steps: list[tuple[int, bool, bool]]) -> None:
    """Batches of rows, some rolled back, with numbering runs in between: the numbered rows
    are always 1..N, and in id order."""
    with transaction.atomic():
        kept = 0
        for rows, rolled_back, run in steps:
            try:
                with transaction.atomic():
                    write("user:h", rows)
                    if rolled_back:
                        raise Rollback
                kept += rows
            except Rollback:
                pass
            if run:
                audit.sequence_events()
                assert_gapless()
        audit.sequence_events()
        assert numbers_by_id() == list(range(1, kept + 1))
        transaction.set_rollback(True)


def test_the_migration_numbers_the_existing_rows_in_id_order() -> None:
    migration = importlib.import_module("rollbook.audit.migrations.0003_event_sequence")
    write("user:mary", 4)
    AuditEvent.objects.filter(id=AuditEvent.objects.order_by("id")[0].id).update(seq=None)

    class Editor:
        def __init__(self) -> None:
            self.connection = connection

        def quote_name(self, name: str) -> str:
            return connection.ops.quote_name(name)

    migration.number_existing_rows(django_apps, Editor())
    assert numbers_by_id() == [1, 2, 3, 4]
    write("user:mary", 1)
    migration.number_existing_rows(django_apps, Editor())  # a second run numbers only the new
    assert numbers_by_id() == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------- the after-commit trigger


def test_a_transaction_registers_one_callback_and_is_numbered_after_commit(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        write("user:mary", 3)
        audit.record_many([("user.updated", "user:bob", None, {})] * 2, actor=ACTOR)
        assert numbers_by_id() == [None] * 5
    assert callbacks.count(audit._sequence_soon) == 1
    assert numbers_by_id() == [1, 2, 3, 4, 5]

    # The next transaction registers again.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        write("user:ann", 2)
    assert callbacks.count(audit._sequence_soon) == 1
    assert numbers_by_id() == [1, 2, 3, 4, 5, 6, 7]


def test_an_empty_batch_registers_nothing(django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        audit.record_many([], actor=ACTOR)
    assert callbacks == []


def test_a_callback_dropped_with_its_savepoint_is_registered_again(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        write_and_roll_back("user:mary", 1)
        write("user:bob")
        write("user:bob")
    assert callbacks.count(audit._sequence_soon) == 1
    assert numbers_by_id() == [1, 2]


def test_a_failing_sequencer_does_not_fail_the_write(
    django_capture_on_commit_callbacks: Any, monkeypatch: Any, caplog: Any
) -> None:
    def broken() -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(audit, "sequence_events", broken)
    with django_capture_on_commit_callbacks(execute=True):
        write("user:mary", 2)
    assert numbers_by_id() == [None, None]
    assert "numbering the audit events failed" in caplog.text
    monkeypatch.undo()
    assert audit.sequence_events() == 2  # the next run numbers them
    assert numbers_by_id() == [1, 2]


# ---------------------------------------------------------------- real transactions


def in_thread(target: Any) -> threading.Thread:
    def run() -> None:
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_committed_rows_are_numbered_after_commit_and_rolled_back_ones_leave_no_gap() -> None:
    write("user:mary")  # autocommit: committed, and numbered at once
    assert numbers_by_id() == [1]
    with transaction.atomic():
        write("user:mary", 2)
        assert numbers_by_id() == [1, None, None]
    assert numbers_by_id() == [1, 2, 3]
    write_and_roll_back("user:mary", 5)
    with transaction.atomic():
        write("user:bob", 1)
    assert numbers_by_id() == [1, 2, 3, 4]
    assert [e.seq for e in audit.events_after(0)] == [1, 2, 3, 4]


@pytest.mark.django_db(transaction=True)
def test_a_failing_sequencer_after_an_autocommit_write_is_logged(
    monkeypatch: Any, caplog: Any
) -> None:
    monkeypatch.setattr(audit, "_NUMBER_SQL", "UPDATE no_such_table SET seq = 1")
    write("user:mary")
    assert numbers_by_id() == [None]
    assert "numbering the audit events failed" in caplog.text
    monkeypatch.undo()
    assert [e.seq for e in audit.events_after(0)] == [1]


@pytest.mark.django_db(transaction=True)
def test_a_row_committed_later_gets_a_later_number_whatever_its_id() -> None:
    """A long transaction inserts first (lower id) and commits last: it is numbered last, and
    a reader that has read everything numbered so far still finds it after `after`."""
    inserted, release = threading.Event(), threading.Event()

    def long_transaction() -> None:
        with transaction.atomic():
            write("user:long")
            inserted.set()
            assert release.wait(30)

    if connection.vendor == "postgresql":
        thread = in_thread(long_transaction)
        assert inserted.wait(30)
        write("user:short")  # commits (and is numbered) while the long one is open
        seen = audit.events_after(0)
        assert [(e.seq, e.subject) for e in seen] == [(1, "user:short")]
        release.set()
        thread.join()
        later = audit.events_after(seen[-1].seq)
        assert [(e.seq, e.subject) for e in later] == [(2, "user:long")]
        long_id, short_id = (
            AuditEvent.objects.get(subject=s).id for s in ("user:long", "user:short")
        )
        assert long_id < short_id  # numbered in commit order, not in id order
    else:
        # SQLite has one writer: the short transaction waits for the long one to commit, so
        # commit order is id order; the long one is numbered first.
        release.set()
        thread = in_thread(long_transaction)
        thread.join()
        write("user:short")
        assert [(e.seq, e.subject) for e in audit.events_after(0)] == [
            (1, "user:long"),
            (2, "user:short"),
        ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_gapless_numbers_in_subject_order() -> None:
    """4 writers x 50 transactions (every 7th rolled back) and a reader paging meanwhile: the
    numbers are exactly 1..N, each subject's changes in the order they were made, and every
    page the reader gets continues exactly where the previous one stopped."""
    writers, transactions = 4, 50
    errors: list[BaseException] = []
    done = threading.Event()
    read: list[int] = []

    def writer(w: int) -> None:
        try:
            for t in range(transactions):
                try:
                    with transaction.atomic():
                        for s in range(1 + t % 3):
                            audit.record(
                                "user.updated", f"user:w{w}-{s}", actor=ACTOR, after={"t": t}
                            )
                        if t % 7 == 6:
                            raise Rollback
                except Rollback:
                    pass
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def reader() -> None:
        try:
            after = 0
            while True:
                finished = done.is_set()
                page = audit.events_after(after, limit=37)
                assert [e.seq for e in page] == list(range(after + 1, after + 1 + len(page)))
                read.extend(e.seq for e in page)
                after = page[-1].seq if page else after
                if finished and not page:
                    return
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [in_thread(lambda w=w: writer(w)) for w in range(writers)]
    reading = in_thread(reader)
    for thread in threads:
        thread.join()
    done.set()
    reading.join()
    assert errors == []

    kept = sum(1 + t % 3 for t in range(transactions) if t % 7 != 6) * writers
    audit.sequence_events()
    assert AuditEvent.objects.count() == kept
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, kept + 1))
    assert read == list(range(1, kept + 1))
    by_subject: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for event in audit.events_after(0, limit=1000):
        assert event.after is not None
        by_subject[event.subject].append((event.seq, event.after["t"]))
    for changes in by_subject.values():
        assert [t for _, t in changes] == sorted(t for _, t in changes)


def test_listeners_hear_of_each_run_that_numbered_events() -> None:
    heard: list[int] = []
    audit.on_events_numbered(heard.append)
    try:
        write(n=3)  # inside the test's transaction: numbered by the next run
        assert audit.sequence_events() == 3
        assert audit.sequence_events() == 0
        assert heard == [3]  # a run that numbered nothing is not reported
    finally:
        audit._LISTENERS.remove(heard.append)


def test_a_failing_listener_does_not_fail_the_numbering() -> None:
    def broken(count: int) -> None:
        raise RuntimeError("boom")

    audit.on_events_numbered(broken)
    try:
        write(n=1)
        assert audit.sequence_events() == 1
    finally:
        audit._LISTENERS.remove(broken)


# ---------------------------------------------------------------- the read contract (ADR 0017)


def test_event_rows_is_the_numbered_window() -> None:
    write("user:mary", 4)
    write("user:ann", 1, event="user.created")
    assert audit.sequence_events() == 5
    assert audit.last_seq() == 5
    rows = audit.event_rows(1, 4).order_by("seq")
    assert [row["seq"] for row in rows.values("seq")] == [2, 3, 4]
    first = rows.values("seq", "event", "subject", "before", "after").first()
    assert first == {
        "seq": 2,
        "event": "user.updated",
        "subject": "user:mary",
        "before": None,
        "after": {"n": 1},
    }
    # JSON keys of the snapshots can be filtered on (the LTI feed does)
    assert list(audit.event_rows(0, 5).filter(after__n=3).values_list("seq", flat=True)) == [4]
    assert not audit.event_rows(5, 5).exists()
    assert not audit.event_rows(3, 2).exists()


def test_event_rows_leaves_out_rows_without_a_number() -> None:
    write("user:mary", 2)
    # not numbered yet (the test's transaction has not committed): outside every window
    assert not audit.event_rows(0, 10**9).exists()
    audit.sequence_events()
    assert audit.event_rows(0, audit.last_seq()).count() == 2


# ---------------------------------------------------------------- bulk paths


def committed_writes(n: int) -> None:
    """`n` transactions of one event each (as an import granting roles one by one commits)."""
    for i in range(n):
        with transaction.atomic():
            write(f"user:u{i}")


@pytest.fixture
def runs() -> Any:
    heard: list[int] = []
    audit.on_events_numbered(heard.append)
    yield heard
    audit._LISTENERS.remove(heard.append)


@pytest.mark.django_db(transaction=True)
def test_a_batched_block_numbers_at_most_once_an_interval_and_once_at_its_end(
    runs: list[int],
) -> None:
    with audit.numbering_batched(every=3600):
        committed_writes(5)
        assert numbers_by_id() == [None] * 5  # committed, waiting for the block's run
        assert runs == []
    assert numbers_by_id() == [1, 2, 3, 4, 5]
    assert runs == [5]  # one run for the five commits
    committed_writes(2)  # outside a block: each commit is numbered at once
    assert runs == [5, 1, 1]


@pytest.mark.django_db(transaction=True)
def test_with_no_interval_a_batched_block_numbers_each_commit(runs: list[int]) -> None:
    with audit.numbering_batched(every=0):
        committed_writes(3)
        assert numbers_by_id() == [1, 2, 3]
    assert runs == [1, 1, 1]


@pytest.mark.django_db(transaction=True)
def test_nested_blocks_number_when_the_outermost_ends(runs: list[int]) -> None:
    with audit.numbering_batched(every=3600):
        with audit.numbering_batched(every=0):  # the outermost block's interval holds
            committed_writes(2)
        assert numbers_by_id() == [None, None]
        committed_writes(1)
    assert numbers_by_id() == [1, 2, 3]
    assert runs == [3]


@pytest.mark.django_db(transaction=True)
def test_a_block_ending_inside_a_transaction_numbers_after_that_commits(
    runs: list[int],
) -> None:
    with transaction.atomic():
        with audit.numbering_batched(every=3600):
            write("user:a")
        write("user:b")
        assert runs == []
    assert numbers_by_id() == [1, 2]  # both, once the caller's transaction committed
    assert runs == [2]


@pytest.mark.django_db(transaction=True)
def test_a_block_ended_by_an_exception_still_numbers_what_committed(runs: list[int]) -> None:
    def failing_bulk_path() -> None:
        with audit.numbering_batched(every=3600):
            committed_writes(2)
            raise Rollback

    with pytest.raises(Rollback):
        failing_bulk_path()
    assert numbers_by_id() == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_a_job_numbers_its_events_together() -> None:
    """Every job runs in a batched block (jobs.api.run_job): an import's many commits share
    a few numbering runs."""
    from rollbook.jobs import api as jobs

    heard: list[int] = []

    def handler(context: Any) -> dict[str, Any]:
        committed_writes(4)
        heard.append(sum(1 for seq in numbers_by_id() if seq is not None))
        return {}

    jobs.register_job_kind("test.audit_writes", handler)
    try:
        job = jobs.start_job("test.audit_writes", {}, actor=ACTOR, dispatch=False)
        jobs.run_job(job.uuid)
    finally:
        jobs._HANDLERS.pop("test.audit_writes", None)
    assert heard == [1]  # inside the job, within the interval: only the job.created event
    assert AuditEvent.objects.filter(seq=None).count() == 0  # all numbered when it ended
