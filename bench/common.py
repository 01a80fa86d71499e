"""What every benchmark shares: a throwaway database, Django set up on it, data loaders,
timing helpers and a description of the machine.

A benchmark script calls `run(main, description)`: it parses `--db sqlite|postgres|both` and
`--json PATH`, runs `main(db, args)` once per database (each in its own process, since Django
is set up once per process and the settings read the database from the environment), and
writes the results as JSON for `run_all.py` to turn into RESULTS.md.

Databases: SQLite is a file in a temporary ROLLBOOK_DATA_DIR; PostgreSQL is a database
`rollbook_bench` created on postgresql://postgres@127.0.0.1:5432 and dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
PG_DATABASE = "rollbook_bench"
DATABASES = ("sqlite", "postgres")
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

# Roles as the generator hands them out (all registered in rollbook.roles.data).
LIBRARY_ROLES = ("staff", "limited_staff", "instructor", "library_user")
COURSE_ROLES = ("staff", "limited_staff", "instructor", "beta_testers", "data_researcher")
ORG_VISIBLE_ROLES = ("staff", "instructor", "library_user")  # see every library of the org
ORG_OTHER_ROLES = ("org_course_creator_group", "data_researcher")  # do not
GLOBAL_ROLES = ("support", "course_creator_group")


# ---------------------------------------------------------------- command line


def run(main: Callable[[str, argparse.Namespace], dict[str, Any]], description: str) -> None:
    """Parse the options; run `main(db, args)` for each database asked for."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--db", choices=[*DATABASES, "both"], default="both")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument(
        "--naive-budget",
        type=float,
        default=180.0,
        help="seconds the naive scan may run in full; past that it is timed on a sample of "
        "libraries and extrapolated (default 180)",
    )
    args = parser.parse_args()
    if args.db == "both":
        results = {}
        for db in DATABASES:
            results.update(_run_child(db, args))
    else:
        _install_signal_handlers()
        results = {args.db: main(args.db, args)}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


def _run_child(db: str, args: argparse.Namespace) -> dict[str, Any]:
    """One database in a fresh process (Django settings read the database at import)."""
    with tempfile.TemporaryDirectory(prefix="rollbook-bench-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, sys.argv[0], "--db", db, "--json", str(out)]
        command += ["--naive-budget", str(args.naive_budget)]
        if args.quick:
            command.append("--quick")
        subprocess.run(command, check=True)  # noqa: S603 (our own script)
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def _install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit so that the `finally` blocks drop the database."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)


# ---------------------------------------------------------------- database and Django


def _pg_admin(sql: str) -> None:
    import psycopg

    try:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(sql)
    except psycopg.OperationalError as exc:
        raise SystemExit(
            f"PostgreSQL at {PG_SERVER} is not reachable ({exc}); start it, or run with "
            "--db sqlite."
        ) from exc


@contextmanager
def django_on(db: str) -> Iterator[None]:
    """Django set up on a new, migrated, throwaway database; removed on the way out."""
    data_dir = tempfile.mkdtemp(prefix="rollbook-bench-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "rollbook.settings"
    os.environ["ROLLBOOK_DATA_DIR"] = data_dir
    os.environ["ROLLBOOK_SECRET_KEY"] = "bench-not-secret"  # noqa: S105
    os.environ["ROLLBOOK_ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ["ROLLBOOK_LOG_LEVEL"] = "ERROR"
    for name in ("ROLLBOOK_DEBUG", "ROLLBOOK_REDIS_URL", "ROLLBOOK_DATABASE_URL"):
        os.environ.pop(name, None)
    created_pg = False
    try:
        if db == "postgres":
            _pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            _pg_admin(f"CREATE DATABASE {PG_DATABASE}")
            created_pg = True
            os.environ["ROLLBOOK_DATABASE_URL"] = f"{PG_SERVER}/{PG_DATABASE}"
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
        yield
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception as exc:  # the database goes anyway
            print(f"closing connections: {exc}", file=sys.stderr)
        if created_pg:
            _pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        shutil.rmtree(data_dir, ignore_errors=True)


def settle() -> None:
    """After a bulk load: fresh planner statistics on PostgreSQL (what autovacuum would soon
    do) and a checkpoint, so that the load's writes are not flushed during the timings. SQLite
    gets a WAL checkpoint but no ANALYZE, as a rollbook deployment leaves it (rollbook never
    runs ANALYZE there)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("CHECKPOINT")
        else:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def explain(sql: str, params: Sequence[Any]) -> str:
    """The plan of a query: EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        rows = cursor.fetchall()
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + detail)
    return "\n".join(lines)


def database_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"


# ---------------------------------------------------------------- data


def org_name(index: int) -> str:
    return f"Org{index:04d}"


def library_key(org_index: int, slug_index: int) -> str:
    return f"lib:{org_name(org_index)}:lib{slug_index:04d}"


@dataclass
class GrantSet:
    """One user's generated grants, as (role, org, course_key) tuples, by kind."""

    global_: list[tuple[str, str, str]] = field(default_factory=list)
    org: list[tuple[str, str, str]] = field(default_factory=list)
    library: list[tuple[str, str, str]] = field(default_factory=list)
    course: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def all(self) -> list[tuple[str, str, str]]:
        return self.global_ + self.org + self.library + self.course

    def describe(self) -> str:
        return (
            f"{len(self.all):,} grants: {len(self.library):,} library, {len(self.course):,} "
            f"course, {len(self.org)} org-level ({self.visible_org_count} of them "
            f"staff/instructor/library_user), {len(self.global_)} global"
        )

    @property
    def visible_org_count(self) -> int:
        return sum(1 for role, _org, _key in self.org if role in ORG_VISIBLE_ROLES)


def make_grants(
    total: int, *, orgs: int, libraries_per_org: int, seed: int, org_level: int = 0
) -> GrantSet:
    """`total` distinct grants: 2 global, `org_level` org-level ones (a bit over half of them
    staff/instructor/library_user, which show every library of the org), and the rest split
    evenly between library grants (on random existing libraries) and course grants."""
    rng = random.Random(seed)
    grants = GrantSet()
    grants.global_ = [(role, "", "") for role in GLOBAL_ROLES]
    org_level = org_level or max(2, total // 250)
    chosen_orgs = rng.sample(range(orgs), org_level)
    visible = (org_level + 1) // 2 + 1
    for i, org_index in enumerate(chosen_orgs):
        roles = ORG_VISIBLE_ROLES if i < visible else ORG_OTHER_ROLES
        grants.org.append((roles[i % len(roles)], org_name(org_index), ""))
    rest = total - len(grants.global_) - len(grants.org)
    n_library = rest // 2
    for n in rng.sample(range(orgs * libraries_per_org), n_library):
        org_index, slug = divmod(n, libraries_per_org)
        role = LIBRARY_ROLES[n % len(LIBRARY_ROLES)]
        grants.library.append((role, org_name(org_index), library_key(org_index, slug)))
    for n in rng.sample(range(orgs * 1000), rest - n_library):
        org_index, number = divmod(n, 1000)
        key = f"course-v1:{org_name(org_index)}+C{number:03d}+2026"
        grants.course.append((COURSE_ROLES[n % len(COURSE_ROLES)], org_name(org_index), key))
    assert len(grants.all) == total == len(set(grants.all))
    return grants


def load_orgs(start: int, stop: int) -> None:
    from rollbook.catalog.models import Org

    Org.objects.bulk_create(
        [Org(short_name=org_name(i), created=NOW) for i in range(start, stop)], batch_size=5000
    )


def load_libraries(orgs: int, slugs: range) -> int:
    """Libraries lib:OrgNNNN:libSSSS for every org below `orgs` and every slug in `slugs`."""
    from django.db import transaction

    from rollbook.catalog.models import Library

    batch: list[Library] = []
    count = 0
    with transaction.atomic():
        for org_index in range(orgs):
            for slug in slugs:
                key = library_key(org_index, slug)
                batch.append(
                    Library(
                        key=key,
                        org_id=org_name(org_index),
                        title=f"Library {slug} of {org_name(org_index)}",
                        created=NOW,
                        modified=NOW,
                    )
                )
                if len(batch) == 5000:
                    Library.objects.bulk_create(batch)
                    count += len(batch)
                    batch = []
        Library.objects.bulk_create(batch)
        count += len(batch)
    return count


def create_user(username: str, *, staff: bool = False) -> Any:
    """A user through the people API (as a deployment would have it); answers its UserRef."""
    from rollbook.audit.data import Actor
    from rollbook.people import api as people

    people.ensure_user(username, actor=Actor.system("bench"), is_staff=staff)
    return people.get_user_ref(username)


def token_for(username: str) -> str:
    from rollbook.audit.data import Actor
    from rollbook.people import api as people

    return people.create_token(username, actor=Actor.system("bench"))


def load_grants(user_id: int, grants: Sequence[tuple[str, str, str]]) -> None:
    from django.db import transaction

    from rollbook.roles.models import RoleGrant

    with transaction.atomic():
        RoleGrant.objects.bulk_create(
            [
                RoleGrant(user_id=user_id, role=role, org=org, course_key=key, created=NOW)
                for role, org, key in grants
            ],
            batch_size=5000,
        )


def load_background_users(
    count: int, grants_each: int, *, orgs: int, libraries_per_org: int
) -> int:
    """Other users with grants of their own, so that the user's grants are a slice of a
    bigger table (as in a deployment), not the whole of it."""
    from rollbook.people.models import User

    users = User.objects.bulk_create(
        [
            User(username=f"other{i:04d}", email=f"other{i:04d}@example.com", password="!")  # noqa: S106 (unusable)
            for i in range(count)
        ]
    )
    for user in users:
        grants = make_grants(
            grants_each,
            orgs=orgs,
            libraries_per_org=libraries_per_org,
            seed=1000 + user.id,
            org_level=4,
        )
        load_grants(user.id, grants.all)
    return count * grants_each


# ---------------------------------------------------------------- timing


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize_ms(samples_ns: Sequence[int]) -> dict[str, float]:
    ms = [s / 1e6 for s in samples_ns]
    return {
        "n": len(ms),
        "min": min(ms),
        "p50": statistics.median(ms),
        "p95": percentile(ms, 95),
        "max": max(ms),
        "mean": statistics.fmean(ms),
    }


def time_calls(fn: Callable[[], Any], *, repeats: int, warmup: int) -> list[int]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return samples


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start


def log(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------- the machine


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        memory = "?"
    import django

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "loadavg_at_start": os.getloadavg(),
    }
