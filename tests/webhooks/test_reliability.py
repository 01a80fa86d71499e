"""Issue 9's reliability test: a real `rollbook worker` (Celery through Redis, the
tests/sis_import/servers.py harness) delivers 2,000 events to a receiver process that is
killed (SIGKILL) mid-stream and started again. Afterwards every event has arrived at least
once, in order per subject, and a duplicate carries the same seq as the original."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.webhooks import api as webhooks
from rollbook.webhooks import dispatcher
from rollbook.webhooks.models import PendingDelivery, Subscription
from tests.sis_import.servers import free_port, running_rollbook

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]
EVENTS = int(os.environ.get("ROLLBOOK_TEST_WEBHOOK_EVENTS", "2000"))
SUBJECTS = 40
KILL_AFTER = EVENTS // 5
RECEIVER = Path(__file__).with_name("receiver.py")
ACTOR = Actor.system("test")


class ReceiverProcess:
    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.popen = subprocess.Popen(  # noqa: S603 (our own script)
            [sys.executable, str(RECEIVER), str(self.port), str(self.log), "0.002"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.popen.stdout is not None
        assert self.popen.stdout.readline().strip() == b"listening"

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=30)

    def lines(self) -> list[tuple[int, str, int]]:
        if not self.log.exists():
            return []
        rows = []
        for line in self.log.read_text().splitlines():
            seq, subject, header = line.split(" ")
            rows.append((int(seq), subject, int(header)))
        return rows


def test_a_receiver_killed_mid_stream_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, webhook_settings: dict[str, Any]
) -> None:
    # The worker delivers, not this process: its own after-commit dispatch is off.
    monkeypatch.setattr(dispatcher, "request_delivery", lambda: None)
    receiver = ReceiverProcess(free_port(), tmp_path / "received.log")
    receiver.start()
    try:
        sub = webhooks.create_subscription(
            f"http://127.0.0.1:{receiver.port}/hook", actor=ACTOR, max_attempts=50
        )
        for start in range(0, EVENTS, 500):
            with transaction.atomic():
                audit.record_many(
                    [
                        ("enrollment.updated", f"user:u{n % SUBJECTS}", None, {"n": n})
                        for n in range(start, min(EVENTS, start + 500))
                    ],
                    actor=ACTOR,
                )
        audit.sequence_events()
        last = audit.last_seq()
        expected = set(range(last - EVENTS + 1, last + 1))
        env = {
            "ROLLBOOK_WEBHOOKS_ALLOW_PRIVATE": "true",
            "ROLLBOOK_WEBHOOKS_BACKOFF_BASE": "0.05",
            "ROLLBOOK_WEBHOOKS_BACKOFF_CAP": "0.5",
            "ROLLBOOK_WEBHOOKS_CONCURRENCY": "4",
            "ROLLBOOK_WEBHOOKS_BATCH": "200",
        }
        with running_rollbook(
            tmp_path / "server", with_worker=True, workers=1, extra_env=env
        ) as rollbook:
            # The worker's start-up dispatch delivers what is waiting.
            deadline = time.monotonic() + 120
            while len(receiver.lines()) < KILL_AFTER:
                assert time.monotonic() < deadline, rollbook.logs()
                time.sleep(0.005)
            receiver.kill()
            at_kill = {seq for seq, _subject, _header in receiver.lines()}
            assert len(at_kill) < EVENTS, "the stream ended before the kill"
            time.sleep(1.5)
            receiver.start()
            deadline = time.monotonic() + 180
            while True:
                row = Subscription.objects.get(uuid=sub.uuid)
                if row.delivered_seq >= last and not PendingDelivery.objects.exists():
                    break
                assert time.monotonic() < deadline, (row.delivered_seq, last, rollbook.logs())
                time.sleep(0.1)
        lines = receiver.lines()
        assert {seq for seq, _s, _h in lines} >= expected  # every event arrived
        assert all(seq == header for seq, _s, header in lines)  # the header says the same
        per_subject: dict[str, list[int]] = defaultdict(list)
        for seq, subject, _header in lines:
            per_subject[subject].append(seq)
        for subject, seqs in per_subject.items():
            # In order; a duplicate (sent again after the kill) repeats the same seq in place.
            assert seqs == sorted(seqs), subject
        assert webhooks.subscription_status(sub.uuid).dead_letters == 0
    finally:
        receiver.kill()
