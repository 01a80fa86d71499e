"""The live LMB endpoint under load, on real processes: `rollbook serve` (gunicorn) and, with
Redis, `rollbook worker` (Celery), on a fresh database.

    .venv/bin/python bench/bench_lmb.py --db postgresql [--clients 16] [--workers 2]
        [--messages 30000] [--burst 200000] [--backlog 10000] [--runner celery|embedded]
        [--persons 20000] [--sections 1000] [--profile 3000] [--json PATH]

Steps, each on the same database (PostgreSQL: `rollbook_bench_lmb` on
postgresql://postgres@127.0.0.1:5432, created and dropped; SQLite: a file in a temporary
ROLLBOOK_DATA_DIR):

0. seed: persons and sections imported from a generated IMS Enterprise file (the file
   import, in this process), so that every membership message below applies at once;
1. sustained: `--clients` threads, each on its own kept-alive connection, post `--messages`
   membership messages (one member each, a new enrollment each) as fast as they are
   answered: accepted messages a second, request latency (p50, p99), the inbox depth
   (sampled every 0.25 s: the maximum), and the apply lag of every message (`applied_at -
   received_at` of its inbox row: p50, p99, max);
2. burst: `--burst` more as fast as possible: the time to post them, and the time from the
   first post until the last is applied;
3. backlog (with a worker): the worker is stopped, `--backlog` messages are posted, the
   worker is started again: how fast the processor alone drains them;
4. profile (`--profile N`, in this process, servers stopped): cProfile of N requests through
   Django's handler (the accept path) and of the processor applying N messages, in batches
   as a backlog and two at a time (as when it keeps up with the clients).

CPU seconds of each component (this process with its client threads, gunicorn, the Celery
worker, PostgreSQL's backends) are read from /proc for steps 1-3. Membership messages are all
adds (roletype 01, status 1): a burst of drops would be held by live-feed drop safety.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import common

sys.path.insert(0, str(common.ROOT))  # tests.sis_import.servers: the process harness
from tests.sis_import import servers

PG_DATABASE = "rollbook_bench_lmb"
TERM = "201740"
TARGET_RATE = 500.0  # membership messages a second, sustained, PostgreSQL
TARGET_LAG = 5.0  # seconds from accept to applied at that rate
TARGET_BURST = 600.0  # seconds for the burst of 200,000 to be applied
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the messages


def section_id(n: int) -> str:
    return f"{40000 + n}.{TERM}"


def person_id(n: int) -> str:
    return f"P{n:06d}"


def seed_feed(persons: int, sections: int) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<enterprise>']
    for n in range(sections):
        sid = section_id(n)
        parts.append(
            f"<group><sourcedid><source>Banner</source><id>{sid}</id></sourcedid>"
            '<grouptype><scheme>Luminis</scheme><typevalue level="1">CourseSection</typevalue>'
            f"</grouptype><description><short>{sid.split('.')[0]}</short>"
            f"<long>LMB-{n:04d}-01</long><full>Load test section {n}</full></description>"
            '<timeframe><begin restrict="0">2017-08-28</begin><end restrict="1">2017-12-15'
            '</end></timeframe><relationship relation="1"><sourcedid><source>Banner</source>'
            f"<id>{TERM}</id></sourcedid><label>Term</label></relationship></group>"
        )
    for n in range(persons):
        pid = person_id(n)
        parts.append(
            f"<person><sourcedid><source>Banner</source><id>{pid}</id></sourcedid>"
            f'<userid useridtype="SCTID">{pid}</userid><name><fn>Load Tester {n}</fn><n>'
            f"<family>Tester</family><given>Load</given></n></name>"
            f"<email>lmb{n:06d}@example.edu</email></person>"
        )
    parts.append("</enterprise>\n")
    return "\n".join(parts).encode()


def membership_body(section: int, person: int) -> bytes:
    return (
        "<enterprise><membership><sourcedid><source>Banner</source>"
        f"<id>{section_id(section)}</id></sourcedid><member><sourcedid><source>Banner</source>"
        f"<id>{person_id(person)}</id></sourcedid><idtype>1</idtype>"
        '<role roletype="01"><status>1</status></role></member></membership></enterprise>'
    ).encode()


class Memberships:
    """Distinct (section, person) pairs in a random order, as message bodies, thread-safe."""

    def __init__(self, persons: int, sections: int, seed: int = 1) -> None:
        self.persons, self.sections = persons, sections
        self.rng = random.Random(seed)
        self.used: set[int] = set()
        self.lock = threading.Lock()
        self.count = 0

    def take(self, prefix: str, n: int) -> Iterator[tuple[str, bytes]]:
        space = self.persons * self.sections
        for _ in range(n):
            with self.lock:
                if len(self.used) >= space:
                    raise RuntimeError("more messages than (section, person) pairs")
                while True:
                    pair = self.rng.randrange(space)
                    if pair not in self.used:
                        self.used.add(pair)
                        break
                self.count += 1
                number = self.count
            yield f"{prefix}-{number}", membership_body(pair % self.sections, pair // self.sections)


# ---------------------------------------------------------------- CPU accounting


def _proc_stats() -> dict[int, tuple[str, int, float]]:
    """pid -> (command, process group, CPU seconds) for every process we may read."""
    return {p.pid: (p.command, p.pgrp, p.cpu_ticks / CLOCK_TICKS) for p in servers.proc_stats()}


class CpuMeter:
    """CPU seconds used by each component between start() and stop(), per process (a process
    that started meanwhile counts whole; one that ended meanwhile is lost)."""

    def __init__(self, groups: Callable[[], dict[str, int]]) -> None:
        self.groups = groups  # component name -> process group id (read at each sample)
        self.before: dict[int, tuple[str, int, float]] = {}
        self.own_before = 0.0

    @staticmethod
    def _own() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def start(self) -> None:
        self.before = _proc_stats()
        self.own_before = self._own()

    def stop(self) -> dict[str, float]:
        after = _proc_stats()
        names = {pgid: name for name, pgid in self.groups().items()}
        used: dict[str, float] = {"bench process (clients)": self._own() - self.own_before}
        used.update(dict.fromkeys(names.values(), 0.0))
        used["postgresql"] = used["redis"] = 0.0
        for pid, (comm, pgrp, cpu) in after.items():
            previous = self.before.get(pid)
            delta = cpu - previous[2] if previous and previous[0] == comm else cpu
            if pgrp in names:
                used[names[pgrp]] += delta
            elif comm.startswith("postgres"):
                used["postgresql"] += delta
            elif comm.startswith("redis-server"):
                used["redis"] += delta
        return {name: round(value, 1) for name, value in used.items()}


# ---------------------------------------------------------------- posting and watching


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    depths: list[tuple[float, int]] = field(default_factory=list)
    first_seq: int | None = None
    last_seq: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def post_all(base_url: str, messages: Iterator[tuple[str, bytes]], clients: int) -> Run:
    """`clients` threads post every message once, each on its own connection."""
    run = Run()
    source_lock = threading.Lock()

    def client() -> None:
        lmb = servers.LmbClient(base_url)
        mine: list[float] = []
        seqs: list[int] = []
        try:
            while True:
                with source_lock:
                    item = next(messages, None)
                if item is None:
                    break
                message_id, body = item
                start = time.perf_counter()
                try:
                    status, answer = lmb.post(body, message_id)
                except Exception as exc:
                    status, answer = 0, {"code": type(exc).__name__}
                mine.append(time.perf_counter() - start)
                if status == 200:
                    seqs.append(int(answer["seq"]))
                else:
                    key = f"{status} {answer.get('code')}"
                    with run.lock:
                        run.errors[key] = run.errors.get(key, 0) + 1
        finally:
            lmb.close()
            with run.lock:
                run.latencies.extend(mine)
                if seqs:
                    low = min(seqs)
                    run.first_seq = low if run.first_seq is None else min(run.first_seq, low)
                    run.last_seq = max(run.last_seq, max(seqs))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return run


class DepthSampler:
    """The number of pending inbox rows every `every` seconds, on a thread of its own."""

    def __init__(self, every: float = 0.25) -> None:
        self.every = every
        self.samples: list[tuple[float, int]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.start_time = time.monotonic()

    def _run(self) -> None:
        from django.db import connection

        from rollbook.sis_import.models import InboxMessage

        try:
            while not self.stopping.is_set():
                depth = InboxMessage.objects.filter(state="pending").count()
                self.samples.append((time.monotonic() - self.start_time, depth))
                self.stopping.wait(self.every)
        finally:
            connection.close()

    def __enter__(self) -> DepthSampler:
        self.start_time = time.monotonic()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join()

    @property
    def max_depth(self) -> int:
        return max((depth for _t, depth in self.samples), default=0)


def wait_drained(seq_range: tuple[int, int], *, timeout: float) -> float:
    """Seconds until every inbox row in the range is applied (or failed); raises on timeout."""
    from rollbook.sis_import.models import InboxMessage

    start = time.monotonic()
    low, high = seq_range
    while True:
        left = InboxMessage.objects.filter(id__gte=low, id__lte=high, state="pending").count()
        if left == 0:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise SystemExit(f"{left} messages still pending after {timeout:.0f} s")
        time.sleep(0.2)


def lag_stats(seq_range: tuple[int, int]) -> dict[str, Any]:
    """accept -> applied, for every inbox row of the range, from its timestamps."""
    from rollbook.sis_import.models import InboxMessage

    low, high = seq_range
    rows = InboxMessage.objects.filter(id__gte=low, id__lte=high)
    states: dict[str, int] = {}
    for state in rows.values_list("state", flat=True):
        states[state] = states.get(state, 0) + 1
    lags = [
        (applied - received).total_seconds()
        for received, applied in rows.filter(state="applied").values_list(
            "received_at", "applied_at"
        )
        if applied is not None
    ]
    if not lags:
        return {"states": states}
    return {
        "states": states,
        "n": len(lags),
        "p50_s": round(statistics.median(lags), 3),
        "p99_s": round(common.percentile(lags, 99), 3),
        "max_s": round(max(lags), 3),
    }


def latency_stats(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    return {
        "p50_ms": round(statistics.median(samples) * 1e3, 1),
        "p99_ms": round(common.percentile(samples, 99) * 1e3, 1),
        "max_ms": round(max(samples) * 1e3, 1),
    }


# ---------------------------------------------------------------- the steps


def seed(persons: int, sections: int) -> dict[str, Any]:
    from rollbook.audit.data import Actor
    from rollbook.jobs import api as jobs
    from rollbook.sis_import import api as sis

    started = time.perf_counter()
    data = seed_feed(persons, sections)
    run = sis.start_import(
        io.BytesIO(data),
        filename="seed.xml",
        actor=Actor.system("bench"),
        options=sis.ImportOptions(),
        foreground=True,
    )
    assert run.job is not None
    job = jobs.run_job(run.job.uuid)
    if job.state != "succeeded":
        raise SystemExit(f"seeding failed: {job.state} {job.message}")
    common.settle()
    return {
        "persons": persons,
        "sections": sections,
        "seconds": round(time.perf_counter() - started, 1),
    }


def timed_post(
    rollbook: Any, messages: Iterator[tuple[str, bytes]], clients: int, meter: CpuMeter
) -> dict[str, Any]:
    """Post, then wait until applied; the numbers of both."""
    meter.start()
    with DepthSampler() as depth:
        start = time.monotonic()
        run = post_all(rollbook.base_url, messages, clients)
        posted = time.monotonic() - start
        if run.first_seq is None:
            raise SystemExit(f"nothing was accepted: {run.errors}\n{rollbook.logs()}")
        seqs = (run.first_seq, run.last_seq)
        drained = wait_drained(seqs, timeout=3600)
    cpu = meter.stop()
    accepted = len(run.latencies) - sum(run.errors.values())
    return {
        "posted": len(run.latencies),
        "accepted": accepted,
        "errors": run.errors,
        "post_seconds": round(posted, 1),
        "accepted_per_s": round(accepted / posted, 1),
        "latency": latency_stats(run.latencies),
        "applied_after_last_post_s": round(drained, 1),
        "all_applied_s": round(posted + drained, 1),
        "max_inbox_depth": depth.max_depth,
        "apply_lag": lag_stats(seqs),
        "cpu_s": cpu,
    }


def backlog(rollbook: Any, messages: Iterator[tuple[str, bytes]], clients: int) -> dict[str, Any]:
    """With the worker stopped, post; then start it and time the drain."""
    rollbook.kill("worker")
    run = post_all(rollbook.base_url, messages, clients)
    if run.first_seq is None:
        raise SystemExit(f"nothing was accepted: {run.errors}")
    seqs = (run.first_seq, run.last_seq)
    start = time.monotonic()
    rollbook.start_worker()
    drained = wait_drained(seqs, timeout=3600)
    count = len(run.latencies) - sum(run.errors.values())
    return {
        "messages": count,
        "drain_s_incl_worker_start": round(time.monotonic() - start, 1),
        "drain_s_after_start": round(drained, 1),
        "applied_per_s": round(count / (time.monotonic() - start), 1),
    }


def _top(profile: cProfile.Profile, sort: str, limit: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(limit)
    return out.getvalue()


def profile_step(n: int, memberships: Memberships) -> dict[str, Any]:
    """cProfile, in this process: n requests through Django's handler (the accept path, no
    dispatch), then the processor on them (as a backlog), then n more two at a time."""
    from django.test import Client

    from rollbook.jobs import api as jobs
    from rollbook.sis_import import inbox

    auth = servers.basic_auth()
    client = Client()
    result: dict[str, Any] = {"messages": n}
    with mock.patch.object(jobs, "dispatch_task", return_value=None):  # accept only

        def accept(items: list[tuple[str, bytes]]) -> None:
            for message_id, body in items:
                response = client.post(
                    "/api/v1/sis/lmb",
                    data=body,
                    content_type="application/xml",
                    headers={"Authorization": auth, "RDI-Message-Id": message_id},
                )
                assert response.status_code == 200, response.content

        items = list(memberships.take("prof", n))
        accept(items[:50])  # warm-up
        inbox.process_inbox()
        profile = cProfile.Profile()
        start = time.perf_counter()
        profile.enable()
        accept(items[50:])
        profile.disable()
        seconds = time.perf_counter() - start
        result["accept_ms_per_request_profiled"] = round(seconds / (n - 50) * 1e3, 2)
        start = time.perf_counter()
        accept(list(memberships.take("prof-plain", 500)))
        result["accept_ms_per_request"] = round((time.perf_counter() - start) / 500 * 1e3, 2)
        result["accept_profile"] = _top(profile, "cumulative", 40)

        profile = cProfile.Profile()
        start = time.perf_counter()
        profile.enable()
        done = inbox.process_inbox()
        profile.disable()
        seconds = time.perf_counter() - start
        result["backlog_applied"] = done
        result["backlog_ms_per_message"] = round(seconds / max(done, 1) * 1e3, 2)
        result["backlog_profile"] = _top(profile, "cumulative", 40)

        items = list(memberships.take("prof-pairs", n))
        profile = cProfile.Profile()
        start = time.perf_counter()
        applied = 0
        for i in range(0, len(items), 2):
            accept(items[i : i + 2])
            profile.enable()
            applied += inbox.process_inbox()
            profile.disable()
        seconds = time.perf_counter() - start
        result["pairs_applied"] = applied
        result["pairs_ms_per_message_incl_accept"] = round(seconds / max(applied, 1) * 1e3, 2)
        result["pairs_profile"] = _top(profile, "cumulative", 40)
        result["pairs_profile_own"] = _top(profile, "tottime", 25)
    return result


# ---------------------------------------------------------------- main


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{common.PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "postgres"], default="postgresql")
    parser.add_argument("--runner", choices=["celery", "embedded"], default="celery")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--messages", type=int, default=30_000, help="sustained step")
    parser.add_argument("--burst", type=int, default=200_000)
    parser.add_argument("--backlog", type=int, default=10_000, help="0: skip")
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--sections", type=int, default=1_000)
    parser.add_argument("--profile", type=int, default=0, help="N messages; 0: skip")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    postgres = args.db.startswith("postgres")

    data_dir = Path(tempfile.mkdtemp(prefix="rollbook-bench-lmb-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "rollbook.settings",
            "ROLLBOOK_DATA_DIR": str(data_dir / "bench"),
            "ROLLBOOK_SECRET_KEY": "bench-not-secret",
            "ROLLBOOK_ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
            "ROLLBOOK_LOG_LEVEL": "ERROR",
            "ROLLBOOK_LMB_USERNAME": servers.LMB_USERNAME,
            "ROLLBOOK_LMB_PASSWORD": servers.LMB_PASSWORD,
        }
    )
    for name in ("ROLLBOOK_DEBUG", "ROLLBOOK_REDIS_URL", "ROLLBOOK_JOBS_RUNNER"):
        os.environ.pop(name, None)
    if postgres:
        _pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        _pg_admin(f"CREATE DATABASE {PG_DATABASE}")
        database_url = f"{common.PG_SERVER}/{PG_DATABASE}"
    else:
        database_url = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    os.environ["ROLLBOOK_DATABASE_URL"] = database_url
    common._install_signal_handlers()
    options = {**vars(args), "json": str(args.json) if args.json else None}
    results: dict[str, Any] = {"db": "postgresql" if postgres else "sqlite", "args": options}
    rollbook = None
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
        results["machine"] = common.machine()
        results["database"] = common.database_version()
        common.log(f"seeding {args.persons:,} persons and {args.sections:,} sections")
        results["seed"] = seed(args.persons, args.sections)
        memberships = Memberships(args.persons, args.sections)

        rollbook = servers.Rollbook(
            data_dir=data_dir / "servers",
            database_url=database_url,
            workers=args.workers,
            threads=args.threads,
            with_worker=args.runner == "celery",
        )
        rollbook.start()
        live = rollbook

        def groups() -> dict[str, int]:
            found = {}
            for name, proc in (("gunicorn", live.server), ("celery worker", live.worker)):
                if proc is not None and proc.popen is not None:
                    found[name] = proc.popen.pid
            return found

        meter = CpuMeter(groups)
        if args.messages:
            common.log(f"sustained: {args.messages:,} messages, {args.clients} clients")
            results["sustained"] = timed_post(
                rollbook, memberships.take("sus", args.messages), args.clients, meter
            )
            common.log(json.dumps(results["sustained"]))
        if args.burst:
            common.log(f"burst: {args.burst:,} messages")
            results["burst"] = timed_post(
                rollbook, memberships.take("burst", args.burst), args.clients, meter
            )
            common.log(json.dumps(results["burst"]))
        if args.backlog and rollbook.worker is not None:
            common.log(f"backlog: {args.backlog:,} messages posted with the worker stopped")
            results["backlog"] = backlog(
                rollbook, memberships.take("backlog", args.backlog), args.clients
            )
            common.log(json.dumps(results["backlog"]))
        rollbook.stop()
        rollbook = None
        if args.profile:
            common.log(f"profile: {args.profile:,} messages in this process")
            results["profile"] = profile_step(args.profile, memberships)
            for key in ("accept_ms_per_request", "backlog_ms_per_message"):
                common.log(f"{key}: {results['profile'][key]}")
            common.log(
                "pairs_ms_per_message_incl_accept: "
                f"{results['profile']['pairs_ms_per_message_incl_accept']}"
            )
        results["verdict"] = verdict(results, postgres=postgres)
        common.log(json.dumps(results["verdict"], indent=2))
    finally:
        if rollbook is not None:
            rollbook.stop()
        try:
            from django.db import connections

            connections.close_all()
        except Exception as exc:
            print(f"closing connections: {exc}", file=sys.stderr)
        if postgres:
            _pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=str))
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def verdict(results: dict[str, Any], *, postgres: bool) -> dict[str, str]:
    out = {}
    sustained = results.get("sustained")
    if sustained:
        rate = sustained["accepted_per_s"]
        lag = sustained["apply_lag"].get("max_s")
        out["sustained rate"] = (
            f"{rate} msg/s ({'pass' if rate >= TARGET_RATE else 'FAIL'} against "
            f"{TARGET_RATE:.0f}{'' if postgres else ', a PostgreSQL target'})"
        )
        out["apply lag"] = (
            f"max {lag} s at {rate} msg/s "
            f"({'pass' if lag is not None and lag < TARGET_LAG else 'FAIL'} against {TARGET_LAG} s"
            f"{'' if rate >= TARGET_RATE else ', at a lower rate than the target'})"
        )
    burst = results.get("burst")
    if burst:
        total = burst["all_applied_s"]
        out["burst"] = (
            f"{burst['accepted']:,} applied in {total} s "
            f"({'pass' if total <= TARGET_BURST and burst['accepted'] >= 200_000 else 'FAIL'}"
            f" against 200,000 in {TARGET_BURST:.0f} s)"
        )
    return out


if __name__ == "__main__":
    raise SystemExit(main())
