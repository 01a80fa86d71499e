"""Certificates: batch generation for a big course, and the status lookup.

    .venv/bin/python bench/bench_certificates.py [--db sqlite|postgres|both] [--learners 100000]
        [--quick] [--lookups 2000] [--profile] [--json PATH]

Targets (the certificates issue, docs/decisions/0010):

1. Generating for 100,000 enrolled learners with precomputed grades
   (`certificates.api.start_generation(course, usernames=None, statuses_to_regenerate=None,
   actor=..., dispatch=False)` then `jobs.api.run_job(job.uuid)`, end to end) in at most
   2 minutes on PostgreSQL (SQLite is measured and reported against the same bound, for
   information), with a constant number of queries per batch of 1,000.
2. `GET /api/v1/courses/{course_key}/certificates/{username}` in at most 5 ms on the server.

Each database runs in a child process on a fresh, migrated database (SQLite: a file in WAL
mode in a temporary ROLLBOOK_DATA_DIR; PostgreSQL: the database `rollbook_bench_certificates`,
created and dropped here, so that this bench does not collide with another one using
`rollbook_bench`).

Setup (not timed; its steps are timed and reported for information): one course with the
modes audit, verified and honor (passing grade 0.6); --learners users
(`people.api.create_users`, chunks of 5,000); as many enrollments through
`enrollments.api.apply_sources` (chunks of 5,000; 90% verified, 10% audit: the verified ones
are enrolled while the course's default mode is verified, the rest after it is switched to
audit; `bulk_enroll`, a savepoint per user, is about 5x slower); a grade for every learner
through `certificates.api.put_grades` (chunks of 5,000; 70% passing by the course cutoff);
then, per 1,000 learners, 1 allowlisted failing learner, 1 restricted (`people.api.put_user(...,
allow_certificate=False)`; spread over both modes) and 1 invalidated passing learner
(`certificates.api.invalidate`); then VACUUM ANALYZE on PostgreSQL, a WAL checkpoint on SQLite.
Every learner's expected outcome is computed from the generated plan, and the job's counts and
the certificates written are checked against it.

Measured, in this order:

- the first generation (all new) and a second one (nothing new), each timed end to end (wall
  and CPU time of this process, time inside the database driver's execute, statements by
  verb, and the statements and time of each batch, through the job's observer);
- the queries of one batch of 1,000 (`CaptureQueriesContext` around
  `certificates.api._generate_batch`, the body of each batch of the job) for 1,000 new
  learners added afterwards: first generation, again with nothing new, and regenerating their
  downloadable certificates;
- `certificates.api.certificate_status` in-process for --lookups random learners (p50/p95);
- the same lookups over HTTP against a real `rollbook serve` (2 workers, 2 threads; a
  keep-alive connection from a client on the same machine, with a staff bearer token), and
  through Django's test `Client` (the whole handler, no network). When the certificate
  route is not there, both are measured on `GET /api/v1/courses/{key}/enrollments/{username}`
  (the same shape: a user look-up and one row) as a stand-in, and the results say so.

Before the look-ups, 10% of them are timed once more right after the generations, with the
planner statistics left as they were (PostgreSQL analyzed the certificate table when it was
empty, during setup; autovacuum may have analyzed it since: the results say), then
`common.settle()` runs again (what autovacuum soon does) and the look-ups are timed.

With --profile, one more child per database on a fresh database of the same size runs the
two generations and then the look-ups (in-process and through the test Client) under cProfile
instead (the top functions by own and cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import itertools
import json
import os
import pstats
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import common

sys.path.insert(0, str(common.ROOT))  # tests.sis_import.servers: the /proc reader
from tests.sis_import import servers

PG_DATABASE = "rollbook_bench_certificates"
COURSE = "course-v1:BenchX+Cert101+2026"
TARGET_GENERATE_S = 120.0
TARGET_STATUS_MS = 5.0
CHUNK = 5000
PASSING_GRADE = 0.6
STAFF = "bench-staff"
EXTRA = 1000  # the learners added afterwards for the per-batch query capture
DB_TITLES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


# ---------------------------------------------------------------- the plan


@dataclass
class Plan:
    """Who is who among the learners, and what each must come to."""

    usernames: list[str]
    audit: set[int] = field(default_factory=set)
    passing: set[int] = field(default_factory=set)
    allowlisted: set[int] = field(default_factory=set)
    restricted: set[int] = field(default_factory=set)
    invalidated: set[int] = field(default_factory=set)
    percent: list[float] = field(default_factory=list)

    def outcome(self, i: int, *, second: bool) -> str:
        if i in self.restricted:
            return "restricted"
        if i in self.audit:
            return "audit"
        if i in self.invalidated:
            return "invalidated"
        if i in self.allowlisted or i in self.passing:
            return "already_downloadable" if second else "generated"
        return "notpassing"

    def status(self, i: int) -> str:
        """What the status look-up must answer once generation has run."""
        if i in self.restricted:
            return "unavailable" if i in self.audit else "restricted"
        return "downloadable" if self.outcome(i, second=False) == "generated" else "unavailable"

    def expected(self, *, second: bool) -> Counter[str]:
        return Counter(self.outcome(i, second=second) for i in range(len(self.usernames)))


def make_plan(learners: int, seed: int = 11) -> Plan:
    rng = random.Random(seed)
    plan = Plan([f"learner{i:06d}" for i in range(learners)])
    everyone = range(learners)
    plan.audit = set(rng.sample(everyone, learners // 10))
    plan.passing = set(rng.sample(everyone, learners * 7 // 10))
    few = max(1, learners // 1000)
    verified_failing = sorted(set(everyone) - plan.audit - plan.passing)
    plan.allowlisted = set(rng.sample(verified_failing, few))
    rest = sorted(set(everyone) - plan.allowlisted)
    plan.restricted = set(rng.sample(rest, few))
    verified_passing = sorted(plan.passing - plan.audit - plan.restricted)
    plan.invalidated = set(rng.sample(verified_passing, few))
    plan.percent = [
        round(rng.uniform(PASSING_GRADE, 1.0) if i in plan.passing else rng.uniform(0, 0.59), 4)
        for i in everyone
    ]
    return plan


# ---------------------------------------------------------------- setup


def setup(plan: Plan) -> dict[str, Any]:
    from rollbook.audit.data import Actor
    from rollbook.catalog import api as catalog
    from rollbook.certificates import api as certs
    from rollbook.enrollments import api as enrollments
    from rollbook.people import api as people

    actor = Actor.system("bench")
    steps: dict[str, float] = {}
    watch = common.Stopwatch()
    catalog.put_course(
        COURSE,
        actor=actor,
        title="Certificates at scale",
        modes=["audit", "verified", "honor"],
        default_mode="verified",
        passing_grade=PASSING_GRADE,
    )
    people.put_user(STAFF, actor=actor, is_staff=True, email="staff@example.com")
    refs: list[Any] = []
    names = plan.usernames
    for start in range(0, len(names), CHUNK):
        made = people.create_users(
            [
                people.NewUser(name, email=f"{name}@example.com", name=f"Learner {i:06d}")
                for i, name in enumerate(names[start : start + CHUNK], start=start)
            ],
            actor=actor,
        )
        refs += [made[name.lower()] for name in names[start : start + CHUNK]]
    steps["create_users"] = watch()
    for audit_group in (False, True):
        if audit_group:
            catalog.put_course(COURSE, actor=actor, default_mode="audit")
        group = [ref for i, ref in enumerate(refs) if (i in plan.audit) is audit_group]
        for start in range(0, len(group), CHUNK):
            enrollments.apply_sources(
                COURSE,
                [
                    enrollments.SourceChange(ref, "manual", True)
                    for ref in group[start : start + CHUNK]
                ],
                actor=actor,
            )
    steps["apply_sources"] = watch() - sum(steps.values())
    for start in range(0, len(names), CHUNK):
        certs.put_grades(
            COURSE,
            [
                certs.GradeRecord(names[i], plan.percent[i])
                for i in range(start, min(start + CHUNK, len(names)))
            ],
            actor=actor,
        )
    steps["put_grades"] = watch() - sum(steps.values())
    for i in sorted(plan.allowlisted):
        certs.add_to_allowlist(COURSE, names[i], notes="bench", actor=actor)
    for i in sorted(plan.restricted):
        people.put_user(names[i], actor=actor, allow_certificate=False)
    for i in sorted(plan.invalidated):
        certs.invalidate(COURSE, names[i], notes="bench", actor=actor)
    steps["allowlist_restrict_invalidate"] = watch() - sum(steps.values())
    common.settle()
    steps["settle"] = watch() - sum(steps.values())
    return {
        "steps_s": {k: round(v, 2) for k, v in steps.items()},
        "setup_s": round(watch(), 1),
        "learners": len(names),
        "verified": len(names) - len(plan.audit),
        "audit": len(plan.audit),
        "passing": len(plan.passing),
        "allowlisted": len(plan.allowlisted),
        "restricted": len(plan.restricted),
        "restricted_verified": len(plan.restricted - plan.audit),
        "invalidated": len(plan.invalidated),
    }


def compare_bulk_enroll(sample: int = 1000) -> dict[str, float]:
    """Why the setup enrolls with apply_sources: both on `sample` new users of a new course."""
    from rollbook.audit.data import Actor
    from rollbook.catalog import api as catalog
    from rollbook.enrollments import api as enrollments
    from rollbook.people import api as people

    actor = Actor.system("bench")
    key = "course-v1:BenchX+Enroll1+2026"
    catalog.put_course(key, actor=actor, title="Enrollment", modes=["audit", "verified"])
    made = people.create_users(
        [people.NewUser(f"enrolltest{i:05d}") for i in range(2 * sample)], actor=actor
    )
    refs = sorted(made.values(), key=lambda r: r.id)
    watch = common.Stopwatch()
    enrollments.apply_sources(
        key, [enrollments.SourceChange(r, "manual", True) for r in refs[:sample]], actor=actor
    )
    apply_s = watch()
    watch = common.Stopwatch()
    enrollments.bulk_enroll(key, [r.username for r in refs[sample:]], actor=actor, mode="audit")
    bulk_s = watch()
    return {
        "users": sample,
        "apply_sources_s": round(apply_s, 3),
        "bulk_enroll_s": round(bulk_s, 3),
    }


# ---------------------------------------------------------------- generation


class StatementMeter:
    """An execute wrapper: statements by verb, and the time inside the driver's execute in
    all and by statement (verb and first table)."""

    TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)

    def __init__(self) -> None:
        self.total = 0
        self.seconds = 0.0
        self.verbs: Counter[str] = Counter()
        self.by_statement: Counter[str] = Counter()
        self.seconds_by_statement: Counter[str] = Counter()

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.total += 1
        verb = sql.lstrip().split(None, 1)[0].upper()
        self.verbs[verb] += 1
        table = self.TABLE.search(sql)
        key = f"{verb} {table.group(1)}" if table else verb
        self.by_statement[key] += 1
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - start
            self.seconds += elapsed
            self.seconds_by_statement[key] += elapsed


def generate(label: str) -> dict[str, Any]:
    """start_generation + run_job for every enrolled learner, timed; statements per batch."""
    from django.db import connection

    from rollbook.audit.data import Actor
    from rollbook.certificates import api as certs
    from rollbook.jobs import api as jobs

    meter = StatementMeter()
    marks: list[tuple[float, int]] = []

    def observer(event: str, _data: dict[str, Any]) -> None:
        if event == "batch":
            marks.append((time.perf_counter(), meter.total))

    backend = backend_cpu_s()
    with connection.execute_wrapper(meter):
        cpu = time.process_time()
        start = time.perf_counter()
        job = certs.start_generation(
            COURSE,
            usernames=None,
            statuses_to_regenerate=None,
            actor=Actor.system("bench"),
            dispatch=False,
        )
        started = time.perf_counter()
        marks.append((started, meter.total))
        done = jobs.run_job(job.uuid, observer=observer)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
    backend = backend_cpu_s() - backend
    assert done.state == "succeeded", (done.state, done.message)
    per_batch = [b[1] - a[1] for a, b in itertools.pairwise(marks)]
    batch_ms = [(b[0] - a[0]) * 1000 for a, b in itertools.pairwise(marks)]
    common.log(f"[certificates] {label}: {seconds:.1f} s, {len(per_batch)} batches")
    return {
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "db_execute_s": round(meter.seconds, 2),
        "pg_backend_cpu_s": round(backend, 2),
        "start_generation_s": round(started - start, 3),
        "statements": meter.total,
        "verbs": dict(meter.verbs),
        "execute_by_statement": {
            key: {"n": meter.by_statement[key], "seconds": round(seconds, 2)}
            for key, seconds in meter.seconds_by_statement.most_common()
        },
        "batches": len(per_batch),
        "statements_per_batch": sorted(Counter(per_batch).items()),
        "batch_ms": {
            "first": round(batch_ms[0], 1) if batch_ms else None,
            "last": round(batch_ms[-1], 1) if batch_ms else None,
            "p50": round(common.percentile(batch_ms, 50), 1) if batch_ms else None,
            "max": round(max(batch_ms), 1) if batch_ms else None,
        },
        "counts": dict(done.counts),
    }


def capture_batches(plan: Plan) -> dict[str, Any]:
    """CaptureQueriesContext around one batch of EXTRA new learners (90% verified, 70%
    passing): generated, again with nothing new, and regenerating the downloadable ones."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rollbook.audit.data import Actor
    from rollbook.catalog import api as catalog
    from rollbook.certificates import api as certs
    from rollbook.enrollments import api as enrollments
    from rollbook.people import api as people

    actor = Actor.system("bench")
    names = [f"extra{i:05d}" for i in range(EXTRA)]
    made = people.create_users([people.NewUser(n, name=n.title()) for n in names], actor=actor)
    refs = [made[n] for n in names]
    catalog.put_course(COURSE, actor=actor, default_mode="verified")
    enrollments.apply_sources(
        COURSE,
        [enrollments.SourceChange(r, "manual", True) for r in refs[: EXTRA * 9 // 10]],
        actor=actor,
    )
    catalog.put_course(COURSE, actor=actor, default_mode="audit")
    enrollments.apply_sources(
        COURSE,
        [enrollments.SourceChange(r, "manual", True) for r in refs[EXTRA * 9 // 10 :]],
        actor=actor,
    )
    certs.put_grades(
        COURSE,
        [certs.GradeRecord(n, 0.9 if i % 10 < 7 else 0.3) for i, n in enumerate(names)],
        actor=actor,
    )
    course = catalog.get_course(COURSE)
    ids = sorted(r.id for r in refs)
    out: dict[str, Any] = {}
    for case, regenerate in (
        ("new", frozenset()),
        ("nothing_new", frozenset()),
        ("regenerate_downloadable", frozenset({"downloadable"})),
    ):
        with CaptureQueriesContext(connection) as queries:
            counts = certs._generate_batch(
                course, ids, by_name=False, regenerate=regenerate, actor=actor
            )
        verbs = Counter(
            q["sql"].lstrip().split(None, 1)[0].upper() for q in queries.captured_queries
        )
        out[case] = {
            "learners": len(ids),
            "queries": len(queries),
            "verbs": dict(verbs),
            "outcomes": dict(counts),
            "statements": [_shorten(q["sql"]) for q in queries.captured_queries],
        }
    return out


def _shorten(sql: str, width: int = 110) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= width else sql[: width - 3] + "..."


# ---------------------------------------------------------------- status look-ups


def lookups(plan: Plan, count: int, seed: int = 5) -> list[int]:
    rng = random.Random(seed)
    return rng.sample(range(len(plan.usernames)), min(count, len(plan.usernames)))


def time_status_inprocess(plan: Plan, sample: list[int]) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rollbook.certificates import api as certs

    for i in sample[:20]:
        certs.certificate_status(COURSE, plan.usernames[i])
    samples: list[int] = []
    by_kind: dict[str, list[int]] = {"with_record": [], "without_record": []}
    backend = backend_cpu_s()
    cpu = time.process_time()
    for i in sample:
        start = time.perf_counter_ns()
        body = certs.certificate_status(COURSE, plan.usernames[i])
        elapsed = time.perf_counter_ns() - start
        samples.append(elapsed)
        assert body["status"] == plan.status(i), (plan.usernames[i], body, plan.status(i))
        kind = "without_record" if plan.status(i) == "unavailable" else "with_record"
        by_kind[kind].append(elapsed)
    cpu = time.process_time() - cpu
    backend = backend_cpu_s() - backend
    # Then, untimed: what one look-up runs, and the share of the time spent in execute().
    meter = StatementMeter()
    with connection.execute_wrapper(meter):
        start = time.perf_counter()
        for i in sample:
            certs.certificate_status(COURSE, plan.usernames[i])
        metered = time.perf_counter() - start
    with CaptureQueriesContext(connection) as queries:
        certs.certificate_status(COURSE, plan.usernames[sample[0]])
    return {
        "all": common.summarize_ms(samples),
        **{kind: common.summarize_ms(s) for kind, s in by_kind.items() if s},
        "cpu_ms_per_lookup": cpu * 1000 / len(sample),
        "pg_backend_cpu_ms_per_lookup": backend * 1000 / len(sample),
        "queries_per_lookup": meter.total / len(sample),
        "execute_ms_per_lookup": meter.seconds * 1000 / len(sample),
        "metered_ms_per_lookup": metered * 1000 / len(sample),
        "statements": [
            {"sql": q["sql"], "plan": common.explain(q["sql"], [])}
            for q in queries.captured_queries
        ],
    }


def status_route() -> tuple[str, bool]:
    """The path template to time over HTTP, and whether it is the certificate route."""
    from django.urls import Resolver404, resolve

    certificate = "/api/v1/courses/{course}/certificates/{username}"
    try:
        resolve(certificate.format(course=quote(COURSE, safe=":+"), username="learner000000"))
    except Resolver404:
        return "/api/v1/courses/{course}/enrollments/{username}", False
    return certificate, True


def check_body(plan: Plan, i: int, body: dict[str, Any], certificate: bool) -> None:
    if certificate:
        assert body.get("status") == plan.status(i), (plan.usernames[i], body, plan.status(i))
    else:
        assert body.get("mode") == ("audit" if i in plan.audit else "verified"), body


def time_status_client(plan: Plan, sample: list[int], token: str) -> dict[str, Any]:
    from django.test import Client

    route, certificate = status_route()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def get(i: int) -> None:
        path = route.format(course=quote(COURSE, safe=":+"), username=plan.usernames[i])
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.content[:200])
        check_body(plan, i, response.json(), certificate)

    for i in sample[:50]:
        get(i)
    samples = []
    cpu = time.process_time()
    for i in sample:
        start = time.perf_counter_ns()
        get(i)
        samples.append(time.perf_counter_ns() - start)
    cpu = time.process_time() - cpu
    return {
        "route": route,
        "certificate_route": certificate,
        **common.summarize_ms(samples),
        "cpu_ms_per_request": cpu * 1000 / len(sample),
    }


def time_status_http(plan: Plan, sample: list[int], token: str) -> dict[str, Any]:
    from bench_content import free_port, serve

    route, certificate = status_route()
    port = free_port()
    server = serve(port)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}"}

        def get(i: int) -> float:
            """One look-up; the server's own time for it (its Server-Timing header), in ms."""
            path = route.format(course=quote(COURSE, safe=":+"), username=plan.usernames[i])
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            assert response.status == 200, (path, response.status, raw[:200])
            check_body(plan, i, json.loads(raw), certificate)
            return float(response.getheader("Server-Timing", "app;dur=nan").split("dur=")[1])

        for i in sample[:50]:
            get(i)
        samples = []
        server_ns = []
        cpu = server_cpu_s(server.pid)
        for i in sample:
            start = time.perf_counter_ns()
            server_ms = get(i)
            samples.append(time.perf_counter_ns() - start)
            server_ns.append(int(server_ms * 1e6))
        cpu = server_cpu_s(server.pid) - cpu
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "route": route,
        "certificate_route": certificate,
        **common.summarize_ms(samples),
        "server_timing": common.summarize_ms(server_ns),
        "server_cpu_ms_per_request": cpu * 1000 / len(sample),
    }


def backend_cpu_s() -> float:
    """PostgreSQL: the CPU time (user + system) of this connection's server process so far,
    from /proc (the server runs on this machine); 0 on SQLite (it runs in this process)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return _cpu_of(pid)


def _cpu_of(pid: int) -> float:
    stat = servers.proc_stat(pid)
    return stat.cpu_ticks / os.sysconf("SC_CLK_TCK") if stat is not None else 0.0


def server_cpu_s(pid: int) -> float:
    """CPU time (user + system) of the server process and its descendants (the gunicorn
    workers), from /proc; 0 where there is no /proc."""
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        total += _cpu_of(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total


# ---------------------------------------------------------------- one database


def row_counts() -> dict[str, int]:
    from django.db import connection

    tables = ("certificates_certificate", "audit_auditevent", "enrollments_courseenrollment")
    with connection.cursor() as cursor:
        found = {}
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            found[table] = cursor.fetchone()[0]
    return found


def last_analyze(table: str) -> str | None:
    """PostgreSQL: when the table was last analyzed and how many rows the planner believes it
    holds; None on SQLite."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT GREATEST(s.last_analyze, s.last_autoanalyze), c.reltuples, s.n_live_tup "
            "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.relname = %s",
            [table],
        )
        when, reltuples, live = cursor.fetchone()
    return f"last analyzed {when}; planner estimate {reltuples:.0f} rows, {live} live rows"


def certificate_statuses() -> dict[str, int]:
    from django.db.models import Count

    from rollbook.certificates.models import Certificate

    rows = Certificate.objects.values("status").annotate(n=Count("id")).order_by("status")
    return {row["status"]: row["n"] for row in rows}


def run_once(db: str, args: argparse.Namespace) -> dict[str, Any]:
    common.PG_DATABASE = PG_DATABASE  # common.django_on creates and drops this database
    plan = make_plan(args.learners)
    result: dict[str, Any] = {"machine": common.machine(), "learners": args.learners}
    with common.django_on(db):
        from rollbook.people import api as people

        result["database"] = common.database_version()
        common.log(f"[certificates/{db}] setup: {args.learners:,} learners ({result['database']})")
        result["enroll_comparison"] = compare_bulk_enroll()
        result["setup"] = setup(plan)
        common.log(f"[certificates/{db}] setup done in {result['setup']['setup_s']} s")
        result["rows_before"] = row_counts()
        result["loadavg_before_generation"] = os.getloadavg()
        for label, second in (("first", False), ("second", True)):
            run = generate(f"{db} {label} run")
            expected = plan.expected(second=second)
            got = {k: v for k, v in run["counts"].items() if k != "learners"}
            assert got == dict(expected), (label, got, dict(expected))
            assert run["counts"].get("learners") == args.learners
            run["rows_after"] = row_counts()
            run["certificates"] = certificate_statuses()
            result[label] = run
        expected_certs = {
            "downloadable": result["first"]["counts"].get("generated", 0),
            "restricted": result["setup"]["restricted_verified"],
        }
        assert result["second"]["certificates"] == expected_certs, result["second"]["certificates"]
        assert result["second"]["rows_after"]["certificates_certificate"] == sum(
            expected_certs.values()
        )
        sample = lookups(plan, args.lookups)
        # Right after the generations, before any ANALYZE of ours: PostgreSQL plans the
        # certificate look-up with the statistics it had (autovacuum may or may not have
        # analyzed the table by now: `analyzed` says).
        result["status_before_analyze"] = {
            "analyzed": last_analyze("certificates_certificate"),
            **time_status_inprocess(plan, sample[: max(1, len(sample) // 10)]),
        }
        common.settle()  # what autovacuum soon does after 60,000+ new certificates
        result["loadavg_before_lookups"] = os.getloadavg()
        result["status_inprocess"] = time_status_inprocess(plan, sample)
        common.log(f"[certificates/{db}] certificate_status: {result['status_inprocess']['all']}")
        token = people.create_token(STAFF, actor=_actor())
        result["status_client"] = time_status_client(plan, sample, token)
        common.log(f"[certificates/{db}] test Client: {result['status_client']}")
        result["status_http"] = time_status_http(plan, sample, token)
        common.log(f"[certificates/{db}] HTTP: {result['status_http']}")
        result["batch_queries"] = capture_batches(plan)
        common.log(
            f"[certificates/{db}] queries per batch of {EXTRA}: "
            + ", ".join(f"{k} {v['queries']}" for k, v in result["batch_queries"].items())
        )
    return result


def _actor() -> Any:
    from rollbook.audit.data import Actor

    return Actor.system("bench")


def profile_once(db: str, args: argparse.Namespace, top: int = 40) -> dict[str, Any]:
    """The two generations, then the status look-ups (in-process and through the test
    Client), under cProfile, on a fresh database of the same size."""
    common.PG_DATABASE = PG_DATABASE
    plan = make_plan(args.learners)
    out: dict[str, Any] = {}

    def profiled(label: str, fn: Callable[[], Any]) -> None:
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.runcall(fn)
        entry: dict[str, Any] = {"seconds_profiled": round(time.perf_counter() - start, 2)}
        for sort in ("tottime", "cumulative"):
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text)
            stats.strip_dirs().sort_stats(sort).print_stats(top)
            entry[sort] = text.getvalue()
        out[label] = entry
        common.log(f"[certificates/{db}] profiled {label}: {entry['seconds_profiled']} s")

    with common.django_on(db):
        from django.test import Client

        from rollbook.certificates import api as certs
        from rollbook.people import api as people

        setup(plan)
        for label in ("first", "second"):
            profiled(f"{label} generation", lambda label=label: generate(f"{db} {label} run"))
        common.settle()
        sample = lookups(plan, args.lookups)
        profiled(
            f"{len(sample)} certificate_status calls",
            lambda: [certs.certificate_status(COURSE, plan.usernames[i]) for i in sample],
        )
        client = Client(HTTP_AUTHORIZATION=f"Bearer {people.create_token(STAFF, actor=_actor())}")
        route, _certificate = status_route()
        course = quote(COURSE, safe=":+")
        profiled(
            f"{len(sample)} GETs through the test Client",
            lambda: [
                client.get(route.format(course=course, username=plan.usernames[i])) for i in sample
            ],
        )
    return out


# ---------------------------------------------------------------- summary


def table(results: dict[str, Any]) -> str:
    dbs = list(results)
    head = "| Measure | Target | " + " | ".join(DB_TITLES[db] for db in dbs) + " |"
    lines = [head, "|---|---|" + "---:|" * len(dbs)]

    def row(name: str, target: str, cell: Callable[[dict[str, Any]], str]) -> None:
        lines.append(f"| {name} | {target} | " + " | ".join(cell(results[db]) for db in dbs) + " |")

    def verdict(ok: bool) -> str:
        return "**pass**" if ok else "**FAIL**"

    n = next(iter(results.values()))["learners"]
    row(
        f"First generation, {n:,} learners (start_generation + run_job)",
        f"≤ {TARGET_GENERATE_S:g} s (PostgreSQL)",
        lambda r: (
            f"{r['first']['seconds']:.1f} s {verdict(r['first']['seconds'] <= TARGET_GENERATE_S)}"
        ),
    )
    row(
        "Second generation (nothing new)",
        "(info)",
        lambda r: f"{r['second']['seconds']:.1f} s",
    )
    row(
        "Statements per job batch of 1,000 (first run; second run)",
        "constant",
        lambda r: f"{_per_batch(r['first'])}; {_per_batch(r['second'])}",
    )
    row(
        "Queries for one batch of 1,000 (CaptureQueriesContext): new; nothing new; regenerate",
        "constant",
        lambda r: "; ".join(str(v["queries"]) for v in r["batch_queries"].values()),
    )
    row(
        "`certificate_status` in-process, p50 / p95",
        f"≤ {TARGET_STATUS_MS:g} ms",
        lambda r: (
            _ms(r["status_inprocess"]["all"])
            + f" (CPU {r['status_inprocess'].get('cpu_ms_per_lookup', 0):.2f} ms/call)"
            + f" {verdict(r['status_inprocess']['all']['p95'] <= TARGET_STATUS_MS)}"
        ),
    )
    row(
        "`certificate_status` in-process right after generating, before ANALYZE, p50 / p95",
        "(info)",
        lambda r: _ms(r["status_before_analyze"]["all"]),
    )
    row(
        "GET over HTTP (`rollbook serve`), on the server (its Server-Timing), p50 / p95",
        f"≤ {TARGET_STATUS_MS:g} ms",
        lambda r: (
            _ms(r["status_http"]["server_timing"])
            + f" {verdict(r['status_http']['server_timing']['p50'] <= TARGET_STATUS_MS)} (p50)"
        ),
    )
    row(
        "GET over HTTP (keep-alive), as the client on the same machine sees it, p50 / p95",
        "(info)",
        lambda r: (
            _ms(r["status_http"])
            + f" (server CPU {r['status_http'].get('server_cpu_ms_per_request', 0):.2f} ms/req)"
            + ("" if r["status_http"]["certificate_route"] else " (stand-in route)")
        ),
    )
    row(
        "GET through Django's test Client, p50 / p95",
        f"≤ {TARGET_STATUS_MS:g} ms",
        lambda r: (
            _ms(r["status_client"])
            + f" (CPU {r['status_client'].get('cpu_ms_per_request', 0):.2f} ms/req)"
            + ("" if r["status_client"]["certificate_route"] else " (stand-in route)")
        ),
    )
    return "\n".join(lines)


def _per_batch(run: dict[str, Any]) -> str:
    return ", ".join(f"{k} (x{v})" for k, v in run["statements_per_batch"])


def _ms(s: dict[str, Any]) -> str:
    return f"{s['p50']:.2f} / {s['p95']:.2f} ms"


def describe(db: str, r: dict[str, Any]) -> str:
    lines = [
        f"{DB_TITLES[db]}: load average at start {r['machine']['loadavg_at_start']}, before "
        f"generating {r['loadavg_before_generation']}, before the look-ups "
        f"{r['loadavg_before_lookups']}",
        f"{DB_TITLES[db]} ({r['database']}): setup {r['setup']['setup_s']} s "
        f"{r['setup']['steps_s']} (not timed); enrolling 1,000: apply_sources "
        f"{r['enroll_comparison']['apply_sources_s']} s, bulk_enroll "
        f"{r['enroll_comparison']['bulk_enroll_s']} s",
    ]
    for label in ("first", "second"):
        run = r[label]
        lines.append(
            f"  {label}: {run['seconds']} s wall, {run['cpu_s']} s CPU in this process, "
            f"{run.get('pg_backend_cpu_s', 0)} s CPU in the PostgreSQL backend, "
            f"{run['db_execute_s']} s in execute(); {run['statements']} statements "
            f"{run['verbs']}; batch ms {run['batch_ms']}; outcomes {run['counts']}; "
            f"certificates {run['certificates']}"
        )
        lines.append(f"    execute() by statement: {run.get('execute_by_statement')}")
    for case, cap in r["batch_queries"].items():
        lines.append(
            f"  one batch, {case}: {cap['queries']} queries {cap['verbs']} {cap['outcomes']}"
        )
    for key in ("status_before_analyze", "status_inprocess"):
        found = r[key]
        lines.append(
            f"  {key}: {found['all']}; {found['queries_per_lookup']:g} queries per look-up, "
            f"{found['execute_ms_per_lookup']:.2f} ms of {found['metered_ms_per_lookup']:.2f} "
            f"in execute(); analyzed: {found.get('analyzed', 'n/a')}"
        )
        lines.append("    plan of the certificate query:")
        lines += [f"      {line}" for line in found["statements"][-1]["plan"].splitlines()]
    lines.append(f"  status HTTP: {r['status_http']}")
    lines.append(f"  status test Client: {r['status_client']}")
    return "\n".join(lines)


# ---------------------------------------------------------------- command line


def _child(db: str, args: argparse.Namespace, tmp: Path, step: str) -> dict[str, Any]:
    out = tmp / f"{step}-{db}.json"
    command = [sys.executable, __file__, "--step", step, "--db", db, "--json", str(out)]
    command += ["--learners", str(args.learners), "--lookups", str(args.lookups)]
    subprocess.run(command, check=True)  # noqa: S603 (our own script)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--db", choices=["sqlite", "postgres", "postgresql", "both"], default="both"
    )
    parser.add_argument("--learners", type=int, help="default 100,000 (10,000 with --quick)")
    parser.add_argument("--lookups", type=int, help="default 2,000 (500 with --quick)")
    parser.add_argument("--quick", action="store_true", help="10,000 learners (a smoke run)")
    parser.add_argument("--profile", action="store_true", help="also a cProfile run per database")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--step", choices=("run", "profile"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.learners = args.learners or (10_000 if args.quick else 100_000)
    args.lookups = args.lookups or (500 if args.quick else 2000)
    db_arg = "postgres" if args.db == "postgresql" else args.db
    if args.step:  # a child: one database, freshly created
        common._install_signal_handlers()
        result = run_once(db_arg, args) if args.step == "run" else profile_once(db_arg, args)
        args.json.write_text(json.dumps(result, indent=2, default=str))
        return 0
    dbs = common.DATABASES if db_arg == "both" else (db_arg,)
    results: dict[str, Any] = {}
    profiles: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rollbook-bench-certificates-") as tmp:
        for db in dbs:
            steps = (
                [("run", results), ("profile", profiles)] if args.profile else [("run", results)]
            )
            for step, into in steps:
                into[db] = _child(db, args, Path(tmp), step)
                if args.json:  # keep what is done so far
                    args.json.write_text(
                        json.dumps({**results, "profiles": profiles}, indent=2, default=str)
                    )
    print(table(results))
    for db, r in results.items():
        print(describe(db, r))
    for db, p in profiles.items():
        for label, entry in p.items():
            print(f"\n==== {DB_TITLES[db]}, {label} under cProfile ({entry['seconds_profiled']} s)")
            print(entry["tottime"])
            print(entry["cumulative"])
    passed = all(
        r["status_inprocess"]["all"]["p95"] <= TARGET_STATUS_MS
        and r["status_http"]["p95"] <= TARGET_STATUS_MS
        and (db != "postgres" or r["first"]["seconds"] <= TARGET_GENERATE_S)
        for db, r in results.items()
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
