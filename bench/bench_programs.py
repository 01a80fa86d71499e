"""Program enrollments: linking keys to accounts, the validation pass, and the CSV upload.

    .venv/bin/python bench/bench_programs.py [--db sqlite|postgres|both] [--keys 10000]
        [--repeat 1] [--profile] [--pg-set NAME=VALUE] [--json PATH]

Targets (the programs issue), for 10,000 keys each with 2 waiting program course enrollments:

1. `programs.api.link_program_enrollments(program, {key: username}, actor=...)` (per-key
   rollback) in at most 30 s on PostgreSQL and 15 s on SQLite, with a constant number of
   queries per key and no table scan per key;
2. the read-only pass `programs.api.validate_links` in at most 5 s;
3. writing 10,000 program enrollments through the CSV path (`api.read_csv` on a generated
   file, then the job body `api.run_enroll_job` through `jobs.api.start_job(...,
   dispatch=False)` and `jobs.api.run_job`) in at most 10 s.

Each run is a child process on a fresh, migrated database (SQLite: a file in a temporary
ROLLBOOK_DATA_DIR; PostgreSQL: the database `rollbook_bench_programs`, dropped afterwards).
Setup, not timed: 2 courses with the modes audit, verified and masters; one program with one
curriculum of both; --keys users (`people.api.create_users`) and as many waiting program
enrollments, each with an active program course enrollment in both courses (written through
`write_program_enrollments` / `write_course_enrollments` in chunks of 1,000); then
`VACUUM ANALYZE` on PostgreSQL, a WAL checkpoint on SQLite (common.settle).

Then, in this order: validate_links over all keys (5 times: the first and the median are
reported); linking all keys in one call (timed: wall and CPU time, the statements by verb and
the time spent in the driver and in COMMIT; on PostgreSQL the `pg_stat_user_tables` and
`pg_stat_user_indexes` deltas); the queries of linking 100 and then 200 further keys
(`CaptureQueriesContext`; queries per key is the difference divided by 100), each statement
that repeats per key explained (EXPLAIN on PostgreSQL, EXPLAIN QUERY PLAN on SQLite; nothing
executed); then the CSV upload of --keys new keys (timed per part). With --profile, one more
run per database on a fresh database profiles (cProfile) the three steps instead.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import json
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import common

PG_DATABASE = "rollbook_bench_programs"
LINK_TARGET_S = {"sqlite": 15.0, "postgres": 30.0}
VALIDATE_TARGET_S = 5.0
CSV_TARGET_S = 10.0
COURSES = ("course-v1:BenchU+M101+2026", "course-v1:BenchU+M102+2026")
MODES = ["audit", "verified", "masters"]
PROGRAM = uuid.UUID("00000000-0000-4000-8000-000000000001")
CURRICULUM = uuid.UUID("00000000-0000-4000-8000-000000000002")
CHUNK = 1000
QUERY_RUNS = (100, 200)  # keys linked under CaptureQueriesContext (after the timed run)
VALIDATE_REPEATS = 5
DB_TITLES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def key_of(n: int) -> str:
    return f"STU-{n:06d}"


def username_of(n: int) -> str:
    return f"learner{n:06d}"


# ---------------------------------------------------------------- setup (not timed)


def setup(total: int) -> dict[str, Any]:
    """Courses, the program, `total` users and as many waiting enrollments (2 courses each)."""
    from rollbook.audit.data import Actor
    from rollbook.catalog import api as catalog
    from rollbook.people import api as people
    from rollbook.programs import api as programs

    actor = Actor.system("bench")
    watch = common.Stopwatch()
    for key in COURSES:
        catalog.put_course(key, actor=actor, title=key, modes=MODES, default_mode="audit")
    programs.put_program(
        PROGRAM,
        title="MSc Bench",
        org="BenchU",
        type="Masters",
        curricula=[programs.CurriculumSpec(CURRICULUM, COURSES)],
        actor=actor,
    )
    for start in range(0, total, CHUNK):
        numbers = range(start, min(start + CHUNK, total))
        people.create_users(
            [
                people.NewUser(username_of(n), email=f"{username_of(n)}@example.com")
                for n in numbers
            ],
            actor=actor,
        )
        keys = [key_of(n) for n in numbers]
        written = programs.write_program_enrollments(
            PROGRAM,
            [programs.EnrollmentRequest(key, "enrolled", CURRICULUM) for key in keys],
            create=True,
            update=False,
            actor=actor,
        )
        assert set(written.values()) == {"enrolled"}, Counter(written.values())
        for course in COURSES:
            written = programs.write_course_enrollments(
                PROGRAM,
                course,
                [programs.CourseEnrollmentRequest(key, "active") for key in keys],
                create=True,
                update=False,
                actor=actor,
            )
            assert set(written.values()) == {"active"}, Counter(written.values())
    common.settle()
    return {"setup_s": round(watch(), 1)}


def row_counts() -> dict[str, int]:
    from rollbook.audit.models import AuditEvent
    from rollbook.enrollments.models import CourseEnrollment
    from rollbook.people.models import User
    from rollbook.programs.models import ProgramCourseEnrollment, ProgramEnrollment

    return {
        "users": User.objects.count(),
        "program_enrollments": ProgramEnrollment.objects.count(),
        "program_enrollments_linked": ProgramEnrollment.objects.filter(user__isnull=False).count(),
        "program_course_enrollments": ProgramCourseEnrollment.objects.count(),
        "course_enrollments": CourseEnrollment.objects.count(),
        "course_enrollments_masters_active": CourseEnrollment.objects.filter(
            mode="masters", is_active=True
        ).count(),
        "audit_events": AuditEvent.objects.count(),
    }


# ---------------------------------------------------------------- PostgreSQL table statistics


def table_stats() -> dict[str, dict[str, Any]]:
    """seq_scan, seq_tup_read, idx_scan and n_live_tup of every table, and idx_scan of each of
    its indexes (PostgreSQL only). Flushes this backend's pending counters first, so that what
    it just ran is included."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    time.sleep(0.2)  # the backend flushes when it goes idle
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0), n_live_tup, "
            "autoanalyze_count FROM pg_stat_user_tables"
        )
        tables: dict[str, dict[str, Any]] = {
            name: {
                "seq_scan": s,
                "seq_tup_read": r,
                "idx_scan": i,
                "rows": n,
                "autoanalyze": a,
                "indexes": {},
            }
            for name, s, r, i, n, a in cursor.fetchall()
        }
        cursor.execute("SELECT relname, indexrelname, idx_scan FROM pg_stat_user_indexes")
        for table_name, index, scans in cursor.fetchall():
            tables[table_name]["indexes"][index] = scans
    return tables


def stats_delta(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Tables that were scanned or looked up in between, with the differences (and the
    indexes used)."""
    out = {}
    for name, now in after.items():
        then = before.get(name, {})
        delta = {
            k: now[k] - then.get(k, 0)
            for k in ("seq_scan", "seq_tup_read", "idx_scan", "autoanalyze")
        }
        if delta["seq_scan"] or delta["idx_scan"]:
            indexes = {
                index: n - then.get("indexes", {}).get(index, 0)
                for index, n in now["indexes"].items()
            }
            out[name] = {
                **delta,
                "rows": now["rows"],
                "indexes": {index: n for index, n in indexes.items() if n},
            }
    return dict(sorted(out.items()))


@contextmanager
def scans(out: dict[str, Any]) -> Iterator[None]:
    before = table_stats()
    yield
    if before:
        out["table_scans"] = stats_delta(before, table_stats())


# ---------------------------------------------------------------- queries and plans

_PLACEHOLDER_RE = re.compile(r"\b\d+\b")


class Recorder:
    """Every statement with its parameters (connection.execute_wrapper)."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Any]] = []

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.statements.append((sql, params))
        return execute(sql, params, many, context)


class DbTime:
    """Statements by verb and the time spent in the driver executing them, and the commits
    and their time (on PostgreSQL a COMMIT also runs the deferred foreign-key checks). The
    rest of a step's time is Python (Django and rollbook). A benchmark-side wrapper: about a
    microsecond a statement."""

    def __init__(self) -> None:
        self.count: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        verb = sql.lstrip().split(None, 1)[0].upper()
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count[verb] += 1
            self.seconds[verb] += time.perf_counter() - start

    @contextmanager
    def installed(self) -> Iterator[DbTime]:
        from django.db import connection

        commit = connection.commit

        def timed_commit() -> None:
            start = time.perf_counter()
            try:
                commit()
            finally:
                self.count["COMMIT"] += 1
                self.seconds["COMMIT"] += time.perf_counter() - start

        connection.commit = timed_commit  # type: ignore[method-assign]
        try:
            with connection.execute_wrapper(self):
                yield self
        finally:
            del connection.commit  # back to the class's method

    def report(self, total: float) -> dict[str, Any]:
        in_db = sum(self.seconds.values())
        return {
            "statements": dict(self.count),
            "db_seconds": {verb: round(t, 2) for verb, t in self.seconds.items()},
            "db_s": round(in_db, 2),
            "python_s": round(total - in_db, 2),
        }


def shape(sql: str) -> str:
    """A statement without its literals (savepoint names), to group the same statement."""
    return _PLACEHOLDER_RE.sub("N", re.sub(r'"s\d+_x\d+"', "SP", sql))


def plan_of(sql: str, params: Any) -> str:
    """EXPLAIN (COSTS OFF) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite; nothing is executed."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN (COSTS OFF) " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(row[3] for row in cursor.fetchall())


def full_scans(plan: str) -> list[str]:
    """The lines of a plan that read a whole table."""
    lines = []
    for line in plan.splitlines():
        text = line.strip().lstrip("->").strip()
        if text.startswith("Seq Scan") or (
            text.startswith("SCAN ") and not text.startswith("SCAN CONSTANT")
        ):
            lines.append(text)
    return lines


def measure_queries(start: int) -> dict[str, Any]:
    """Link QUERY_RUNS[0] keys, then QUERY_RUNS[1] more, counting their queries; explain each
    statement of the second run that repeats per key."""
    from django.db import DatabaseError, connection, transaction
    from django.test.utils import CaptureQueriesContext

    from rollbook.audit.data import Actor
    from rollbook.programs import api as programs

    actor = Actor.system("bench")
    counts = {}
    recorder = Recorder()
    for size in QUERY_RUNS:
        mapping = {key_of(n): username_of(n) for n in range(start, start + size)}
        start += size
        with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(recorder):
            if size == QUERY_RUNS[-1]:
                recorder.statements.clear()
            result = programs.link_program_enrollments(PROGRAM, mapping, actor=actor)
        assert not result.errors, result.errors
        assert len(result.linked) == size
        counts[size] = len(captured)
    small, big = QUERY_RUNS
    per_key = (counts[big] - counts[small]) / (big - small)
    fixed = counts[small] - per_key * small
    by_shape: dict[str, list[Any]] = {}
    for sql, params in recorder.statements:
        by_shape.setdefault(shape(sql), [sql, params, 0])[2] += 1
    statements = []
    for sql, params, n in by_shape.values():
        entry: dict[str, Any] = {"sql": sql, "count": n, "per_key": round(n / big, 2)}
        verb = sql.lstrip().split(None, 1)[0].upper()
        if verb in ("SELECT", "UPDATE", "INSERT", "DELETE"):
            one = params[0] if params and isinstance(params[0], (list, tuple)) else params
            try:  # an executemany: the plan of one row; a bulk form may not explain
                with transaction.atomic():
                    entry["plan"] = plan_of(sql, one)
            except DatabaseError as exc:
                entry["plan"] = f"(not explained: {exc})"
            entry["full_scans"] = full_scans(entry["plan"])
        statements.append(entry)
    return {
        "queries": {str(k): v for k, v in counts.items()},
        "queries_per_key": per_key,
        "fixed_queries": fixed,
        "statements": statements,
        "per_key_statements_with_full_scan": [
            s["sql"] for s in statements if s["count"] >= big and s.get("full_scans")
        ],
    }


# ---------------------------------------------------------------- the measured steps


def step_validate(total: int, out: dict[str, Any]) -> None:
    from rollbook.programs import api as programs

    mapping = {key_of(n): username_of(n) for n in range(total)}
    samples = []
    cpu = []
    with scans(out):
        for _ in range(VALIDATE_REPEATS):
            start, start_cpu = time.perf_counter(), time.process_time()
            errors = programs.validate_links(PROGRAM, mapping)
            samples.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            assert errors == {}, list(errors.items())[:3]
    out["seconds"] = [round(s, 3) for s in samples]
    out["cpu_s"] = [round(s, 3) for s in cpu]
    out["first_s"] = round(samples[0], 3)
    out["median_s"] = round(statistics.median(samples), 3)


def step_link(total: int, out: dict[str, Any]) -> None:
    from rollbook.audit.data import Actor
    from rollbook.programs import api as programs

    mapping = {key_of(n): username_of(n) for n in range(total)}
    actor = Actor.system("bench")
    db_time = DbTime()
    with scans(out), db_time.installed():
        start, start_cpu = time.perf_counter(), time.process_time()
        result = programs.link_program_enrollments(PROGRAM, mapping, actor=actor)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - start_cpu
    assert not result.errors, list(result.errors.items())[:3]
    assert len(result.linked) == total
    out["keys"] = total
    out["seconds"] = round(seconds, 2)
    out["cpu_s"] = round(cpu, 2)
    out.update(db_time.report(seconds))
    out["ms_per_key"] = round(seconds / total * 1e3, 3)


def write_csv(path: Path, first: int, total: int) -> None:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["student_key", "status", "curriculum_uuid"])
        for n in range(first, first + total):
            writer.writerow([f"NEW-{n:06d}", "enrolled", str(CURRICULUM)])


def step_csv(total: int, path: Path, out: dict[str, Any]) -> None:
    from rollbook.audit.data import Actor
    from rollbook.jobs import api as jobs
    from rollbook.programs import api as programs
    from rollbook.programs.jobs import ENROLL_JOB_KIND

    actor = Actor.system("bench")
    db_time = DbTime()
    with scans(out), db_time.installed():
        start, start_cpu = time.perf_counter(), time.process_time()
        with path.open(newline="") as stream:
            rows = programs.read_csv(stream, name=path.name, columns=programs.ENROLL_COLUMNS)
        read = time.perf_counter()
        job = jobs.start_job(
            ENROLL_JOB_KIND,
            {"program_uuid": str(PROGRAM), "rows": rows},
            actor=actor,
            dispatch=False,
        )
        started = time.perf_counter()
        done = jobs.run_job(job.uuid)
        end, cpu = time.perf_counter(), time.process_time() - start_cpu
    assert done.state == "succeeded", (done.state, done.message)
    assert done.counts == {"enrolled": total}, done.counts
    out["read_csv_s"] = round(read - start, 3)
    out["start_job_s"] = round(started - read, 3)
    out["run_job_s"] = round(end - started, 3)
    out["seconds"] = round(end - start, 2)
    out["cpu_s"] = round(cpu, 2)
    out.update(db_time.report(end - start))


# ---------------------------------------------------------------- child processes


def pg_set(settings: list[str]) -> None:
    """`SET name = value` on this connection (PostgreSQL; a what-if, see --pg-set)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for setting in settings:
            name, value = setting.split("=", 1)
            if not re.fullmatch(r"[a-z_.]+", name):
                raise SystemExit(f"--pg-set: not a setting name: {name}")
            cursor.execute(f"SET {name} = %s", [value])


def run_once(db: str, keys: int, tmp: Path, settings: list[str]) -> dict[str, Any]:
    common.PG_DATABASE = PG_DATABASE  # common.django_on creates and drops this database
    result: dict[str, Any] = {"machine": common.machine(), "pg_set": settings}
    with common.django_on(db):
        result["database"] = common.database_version()
        common.log(f"[programs/{db}] setup: {keys:,} keys ({result['database']})")
        extra = sum(QUERY_RUNS)
        result["setup"] = setup(keys + extra)
        result["setup"]["rows"] = row_counts()
        pg_set(settings)
        common.log(f"[programs/{db}] setup done in {result['setup']['setup_s']} s")
        result["validate"] = {}
        step_validate(keys, result["validate"])
        common.log(f"[programs/{db}] validate_links: {result['validate']['seconds']} s")
        result["link"] = {}
        step_link(keys, result["link"])
        common.log(f"[programs/{db}] link: {result['link']['seconds']} s")
        result["queries"] = measure_queries(keys)
        common.log(
            f"[programs/{db}] queries: {result['queries']['queries']}, "
            f"{result['queries']['queries_per_key']:g} per key"
        )
        path = tmp / "enroll.csv"
        write_csv(path, 0, keys)
        result["csv"] = {"bytes": path.stat().st_size}
        step_csv(keys, path, result["csv"])
        common.log(f"[programs/{db}] CSV upload: {result['csv']['seconds']} s")
        result["rows_after"] = row_counts()
    return result


def profile_once(
    db: str, keys: int, tmp: Path, settings: list[str], top: int = 35
) -> dict[str, Any]:
    """The three steps under cProfile, on a fresh database of the same size."""
    common.PG_DATABASE = PG_DATABASE
    out: dict[str, Any] = {}
    with common.django_on(db):
        setup(keys)
        pg_set(settings)
        path = tmp / "enroll-profile.csv"
        write_csv(path, 0, keys)
        steps: dict[str, Callable[[], None]] = {
            "validate": lambda: step_validate(keys, {}),
            "link": lambda: step_link(keys, {}),
            "csv": lambda: step_csv(keys, path, {}),
        }
        for name, fn in steps.items():
            profiler = cProfile.Profile()
            start = time.perf_counter()
            profiler.runcall(fn)
            entry: dict[str, Any] = {"seconds_profiled": round(time.perf_counter() - start, 2)}
            for sort in ("tottime", "cumulative"):
                text = io.StringIO()
                stats = pstats.Stats(profiler, stream=text)
                stats.strip_dirs().sort_stats(sort).print_stats(top)
                entry[sort] = text.getvalue()
            out[name] = entry
            common.log(f"[programs/{db}] profiled {name}: {entry['seconds_profiled']} s")
    return out


def _child(db: str, args: argparse.Namespace, tmp: Path, step: str, n: int) -> dict[str, Any]:
    out = tmp / f"{step}-{db}-{n}.json"
    command = [sys.executable, __file__, "--step", step, "--db", db, "--keys", str(args.keys)]
    command += ["--json", str(out)]
    command += [f"--pg-set={setting}" for setting in args.pg_set]
    subprocess.run(command, check=True)  # noqa: S603 (our own script)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# ---------------------------------------------------------------- summary


def summarize(db: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    link = [r["link"]["seconds"] for r in runs]
    validate = [r["validate"]["median_s"] for r in runs]
    csv_s = [r["csv"]["seconds"] for r in runs]
    per_key = [r["queries"]["queries_per_key"] for r in runs]
    return {
        "link_s": med(link),
        "link_all_s": link,
        "link_passed": max(link) <= LINK_TARGET_S[db],
        "validate_s": med(validate),
        "validate_first_s": [r["validate"]["first_s"] for r in runs],
        "validate_passed": max(r["validate"]["first_s"] for r in runs) <= VALIDATE_TARGET_S,
        "csv_s": med(csv_s),
        "csv_all_s": csv_s,
        "csv_passed": max(csv_s) <= CSV_TARGET_S,
        "queries_per_key": per_key,
        "constant_queries": len(set(per_key)) == 1 and float(per_key[0]).is_integer(),
        "per_key_full_scans": sorted(
            {s for r in runs for s in r["queries"]["per_key_statements_with_full_scan"]}
        ),
        "seq_scans_per_key": per_key_seq_scans(runs),
    }


def per_key_seq_scans(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]] | None:
    """PostgreSQL: the tables linking scanned sequentially at least once per two keys, with
    scans per key and rows read per scan (worst run); None on SQLite (no such counters)."""
    found: dict[str, dict[str, float]] = {}
    for run in runs:
        if "table_scans" not in run["link"]:
            return None
        keys = run["link"]["keys"]
        for table_name, d in run["link"]["table_scans"].items():
            if d["seq_scan"] * 2 >= keys:
                per_key = round(d["seq_scan"] / keys, 2)
                rows_per_scan = round(d["seq_tup_read"] / d["seq_scan"], 1)
                if per_key >= found.get(table_name, {}).get("per_key", 0):
                    found[table_name] = {"per_key": per_key, "rows_per_scan": rows_per_scan}
    return found


def table(results: dict[str, Any]) -> str:
    lines = [
        "| Target | Bound | " + " | ".join(DB_TITLES[db] for db in results) + " | Result |",
        "|---|---|" + "---:|" * len(results) + "---|",
    ]

    def row(name: str, bound: str, values: list[str], passed: list[bool]) -> None:
        verdict = "**pass**" if all(passed) else "**FAIL**"
        lines.append(f"| {name} | {bound} | " + " | ".join(values) + f" | {verdict} |")

    summaries = {db: r["summary"] for db, r in results.items()}
    keys = next(iter(results.values()))["keys"]
    row(
        f"Link {keys:,} keys (2 courses each), one call",
        " / ".join(f"{DB_TITLES[db]} ≤ {LINK_TARGET_S[db]:g} s" for db in results),
        [f"{s['link_s']:.2f} s" for s in summaries.values()],
        [s["link_passed"] for s in summaries.values()],
    )
    row(
        f"validate_links, {keys:,} keys (first call; median of {VALIDATE_REPEATS})",
        f"≤ {VALIDATE_TARGET_S:g} s",
        [
            f"{max(s['validate_first_s']):.2f} s ({s['validate_s']:.2f} s)"
            for s in summaries.values()
        ],
        [s["validate_passed"] for s in summaries.values()],
    )
    row(
        f"CSV upload of {keys:,} program enrollments (read_csv + start_job + run_job)",
        f"≤ {CSV_TARGET_S:g} s",
        [f"{s['csv_s']:.2f} s" for s in summaries.values()],
        [s["csv_passed"] for s in summaries.values()],
    )
    row(
        "Queries per key when linking",
        "constant",
        [
            ", ".join(f"{q:g}" for q in sorted(set(s["queries_per_key"])))
            for s in summaries.values()
        ],
        [s["constant_queries"] for s in summaries.values()],
    )
    row(
        "Per-key statements whose plan (EXPLAIN) reads a whole table",
        "none",
        [str(len(s["per_key_full_scans"])) for s in summaries.values()],
        [not s["per_key_full_scans"] for s in summaries.values()],
    )
    scans = {db: s["seq_scans_per_key"] for db, s in summaries.items()}
    if any(found is not None for found in scans.values()):
        row(
            f"Tables of {SMALL_TABLE_ROWS:,}+ rows scanned per key while linking "
            "(pg_stat_user_tables)",
            "none",
            [describe_scans(found) for found in scans.values()],
            [not big_scans(found) for found in scans.values()],
        )
    return "\n".join(lines)


SMALL_TABLE_ROWS = 100  # a sequential scan of a smaller table (a catalog lookup) is no concern


def big_scans(found: dict[str, dict[str, float]] | None) -> dict[str, dict[str, float]]:
    return {t: d for t, d in (found or {}).items() if d["rows_per_scan"] >= SMALL_TABLE_ROWS}


def describe_scans(found: dict[str, dict[str, float]] | None) -> str:
    if found is None:
        return "n/a"
    big = big_scans(found)
    if not big:
        return "none"
    return "; ".join(
        f"`{t}` {d['per_key']:g}/key, {d['rows_per_scan']:,.0f} rows each" for t, d in big.items()
    )


def describe(title: str, run: dict[str, Any]) -> str:
    link, csv_, queries = run["link"], run["csv"], run["queries"]
    lines = [
        f"{title}: setup {run['setup']['setup_s']} s (not timed)",
        f"  validate_links: {run['validate']['seconds']} s",
        f"  link: {link['seconds']} s wall, {link['cpu_s']} s CPU, {link['ms_per_key']} ms/key; "
        f"in the database {link['db_s']} s {link['db_seconds']}",
        f"  queries: {queries['queries']} -> {queries['queries_per_key']:g} per key + "
        f"{queries['fixed_queries']:g}",
        f"  CSV: {csv_['seconds']} s wall, {csv_['cpu_s']} s CPU (read_csv {csv_['read_csv_s']}, "
        f"start_job {csv_['start_job_s']}, run_job {csv_['run_job_s']}); {csv_['statements']}",
    ]
    for name in ("validate", "link", "csv"):
        scanned = run[name].get("table_scans")
        if scanned is not None:
            seq = {
                t: (d["seq_scan"], d["seq_tup_read"]) for t, d in scanned.items() if d["seq_scan"]
            }
            lines.append(f"  {name}: seq scans (scans, rows read) {seq or 'none'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--db", choices=["sqlite", "postgres", "postgresql", "both"], default="both"
    )
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs, each on a fresh database")
    parser.add_argument("--profile", action="store_true", help="also a cProfile run per database")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument(
        "--pg-set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a what-if: SET this on the PostgreSQL connection after setup (repeatable)",
    )
    parser.add_argument("--step", choices=("run", "profile"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    db_arg = "postgres" if args.db == "postgresql" else args.db
    if args.step:  # a child: one run on one fresh database
        common._install_signal_handlers()
        with tempfile.TemporaryDirectory(prefix="rollbook-bench-programs-") as tmp:
            if args.step == "run":
                result = run_once(db_arg, args.keys, Path(tmp), args.pg_set)
            else:
                result = profile_once(db_arg, args.keys, Path(tmp), args.pg_set)
        args.json.write_text(json.dumps(result, indent=2, default=str))
        return
    dbs = common.DATABASES if db_arg == "both" else (db_arg,)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rollbook-bench-programs-") as tmp:
        for db in dbs:
            runs = [_child(db, args, Path(tmp), "run", n) for n in range(args.repeat)]
            results[db] = {"keys": args.keys, "runs": runs, "summary": summarize(db, runs)}
            if args.profile:
                results[db]["profile"] = _child(db, args, Path(tmp), "profile", 0)
            if args.json:  # keep what is done so far
                args.json.write_text(json.dumps(results, indent=2, default=str))
    print(table(results))
    for db, out in results.items():
        for n, run in enumerate(out["runs"], start=1):
            common.log(describe(f"{DB_TITLES[db]}, run {n}", run))


if __name__ == "__main__":
    main()
