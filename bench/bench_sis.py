"""The SIS import (IMS Enterprise from Banner) on SQLite and PostgreSQL: parse, stage, apply.

    .venv/bin/python bench/bench_sis.py [--db sqlite|postgres|both] [--scale 1.0]
        [--apply-budget 900] [--profile-scale 0.05] [--json PATH]

Generates a feed with gen_banner_feed.py (100,000 persons, 5,000 sections and 500,000
memberships at --scale 1.0, about 200 MB, seed 1) into a temporary directory, removed at the
end. Then, each step in a fresh process (so that its peak RSS is its own) on a freshly
migrated throwaway database (see common.py):

1. parse only: `parser.iter_records` over the file, counting records (no database);
2. parse + stage: `iter_records` into `staging.Stager` and `flush()`, counting the SQL
   statements issued (a round trip per row would show as about one per record);
3. the whole import: `sis_import.api.start_import(..., foreground=True)` and
   `jobs.api.run_job`, timed per phase (validate, stage, apply persons / groups /
   memberships), with the statements of each phase counted;
4. the same file again with `force=True`: its time, and every INSERT/UPDATE/DELETE outside
   the job's own bookkeeping (the job row, its `sis_import_feed` row, audit rows about the
   job), which must be none;
5. the ratio of the whole import to the parse-only pass.

The whole import is first run on a feed at a tenth of --scale; when the linear extrapolation
of that run to --scale exceeds --apply-budget seconds, the full-size import is not run and
the results carry the measured tenth and the extrapolation, marked as such. With
--profile-scale, apply is also profiled (cProfile) on a small feed, on SQLite.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import common

PERSONS, SECTIONS, MEMBERSHIPS = 100_000, 5_000, 500_000
SEED = 1
PARSE_STAGE_SECONDS = 30.0
PARSE_STAGE_MIB = 300.0
APPLY_SECONDS = 600.0
RERUN_SECONDS = 60.0
BOOKKEEPING = ("jobs_job", "sis_import_feed", "audit_auditevent")
_WRITE = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


# ---------------------------------------------------------------- helpers


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def sizes(scale: float) -> dict[str, int]:
    return {
        "persons": max(1, round(PERSONS * scale)),
        "sections": max(1, round(SECTIONS * scale)),
        "memberships": max(1, round(MEMBERSHIPS * scale)),
    }


def generate(out: Path, scale: float) -> dict[str, Any]:
    """The feed, written by gen_banner_feed.py in its own process."""
    n = sizes(scale)
    started = time.perf_counter()
    command = [sys.executable, str(common.BENCH_DIR / "gen_banner_feed.py")]
    command += [f"--{name}={value}" for name, value in n.items()]
    command += [f"--seed={SEED}", f"--out={out}"]
    subprocess.run(command, check=True)  # noqa: S603 (our own script)
    return {
        **n,
        "scale": scale,
        "bytes": out.stat().st_size,
        "generate_s": round(time.perf_counter() - started, 1),
    }


class Statements:
    """Counts the SQL the connection runs (connection.execute_wrapper), by phase: statements,
    rows passed to executemany, and writes by table."""

    def __init__(self) -> None:
        self.phase = "setup"
        self.by_phase: Counter[str] = Counter()
        self.many_rows: Counter[str] = Counter()
        self.copies: Counter[str] = Counter()
        self.writes: dict[str, Counter[str]] = {}
        self.audit_params: list[Any] = []

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.by_phase[self.phase] += 1
        if many:
            self.many_rows[self.phase] += len(params)
        match = _WRITE.match(sql)
        if match:
            verb = match.group(1).split()[0].upper()
            table = match.group(2)
            self.writes.setdefault(self.phase, Counter())[f"{verb} {table}"] += 1
            if table == "audit_auditevent":
                self.audit_params.append(params)
        return execute(sql, params, many, context)

    @contextmanager
    def installed(self) -> Iterator[Statements]:
        """Counts what goes through Django's cursor and, on PostgreSQL, the COPYs staging
        runs on psycopg's cursor directly (which execute_wrapper does not see)."""
        from django.db import connection

        patched = None
        if connection.vendor == "postgresql":
            import psycopg

            patched = psycopg.Cursor.copy

            def copy(cursor: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
                self.by_phase[self.phase] += 1
                self.copies[self.phase] += 1
                match = re.match(r'COPY\s+"?(\w+)"?', str(statement))
                table = match.group(1) if match else "?"
                self.writes.setdefault(self.phase, Counter())[f"COPY {table}"] += 1
                return patched(cursor, statement, *args, **kwargs)

            psycopg.Cursor.copy = copy  # type: ignore[method-assign,assignment]
        try:
            with connection.execute_wrapper(self):
                yield self
        finally:
            if patched is not None:
                import psycopg

                psycopg.Cursor.copy = patched  # type: ignore[method-assign]


def _phase_timer(phases: dict[str, float], stats: Statements | None) -> Callable[..., Any]:
    """Wraps a method so that its time is added to `phases[name]` (and its statements are
    counted under that name): a benchmark-side patch, the code under test is unchanged."""

    def wrap(cls: type, method: str, name: str) -> None:
        original = getattr(cls, method)

        def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            previous = stats.phase if stats else ""
            if stats:
                stats.phase = name
            start = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - start
                if stats:
                    stats.phase = previous

        setattr(cls, method, timed)

    return wrap


# ---------------------------------------------------------------- steps (child processes)


def step_parse(path: Path) -> dict[str, Any]:
    from rollbook.sis_import.data import MembershipRecord
    from rollbook.sis_import.parser import iter_records

    counts: Counter[str] = Counter()
    members = 0
    start = time.perf_counter()
    with path.open("rb") as stream:
        for record in iter_records(stream):
            counts[type(record).__name__] += 1
            if isinstance(record, MembershipRecord):
                members += len(record.members)
    seconds = time.perf_counter() - start
    return {
        "seconds": round(seconds, 2),
        "records": sum(counts.values()),
        "by_type": dict(counts),
        "member_entries": members,
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def step_stage(db: str, path: Path) -> dict[str, Any]:
    with common.django_on(db):
        from django.utils import timezone

        from rollbook.sis_import.parser import iter_records
        from rollbook.sis_import.staging import Stager

        rss_before = peak_rss_mib()
        stats = Statements()
        stager = Stager(changed_by="bench", now=timezone.now())
        start = time.perf_counter()
        with stats.installed(), path.open("rb") as stream:
            stats.phase = "stage"
            for record in iter_records(stream):
                stager.add(record)
            stager.flush()
        seconds = time.perf_counter() - start
        result = stager.result
        return {
            "database": common.database_version(),
            "machine": common.machine(),
            "seconds": round(seconds, 2),
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "peak_rss_mib_before": round(rss_before, 1),
            "records": result.records,
            "counts": {kind: c.as_dict() for kind, c in result.counts.items()},
            "errors": len(result.errors),
            "statements": stats.by_phase["stage"],
            "executemany_rows": stats.many_rows["stage"],
            "copies": stats.copies["stage"],
            "writes": dict(stats.writes.get("stage", {})),
        }


def _import(path: Path, *, force: bool, stats: Statements) -> tuple[Any, dict[str, float]]:
    from rollbook.audit.data import Actor
    from rollbook.jobs import api as jobs
    from rollbook.sis_import import api as sis
    from rollbook.sis_import.apply import Applier
    from rollbook.sis_import.staging import Stager

    phases: dict[str, float] = {}
    wrap = _phase_timer(phases, stats)
    originals = {
        (cls, name): getattr(cls, name)
        for cls, name in (
            (Stager, "flush"),
            (Applier, "apply_persons"),
            (Applier, "apply_groups"),
            (Applier, "apply_memberships"),
        )
    }
    wrap(Stager, "flush", "stage.final_flush")
    for kind in ("persons", "groups", "memberships"):
        wrap(Applier, f"apply_{kind}", f"apply.{kind}")
    marks: dict[str, float] = {}

    def observer(event: str, data: dict[str, Any]) -> None:
        now = time.perf_counter()
        marks.setdefault(f"first.{event}", now)
        marks[f"last.{event}"] = now
        if event in ("validate", "stage", "records"):
            stats.phase = "validate" if event == "validate" else "stage"
        if event == "apply" and data.get("kind") == "membership":
            stats.phase = "finish"

    try:
        start = time.perf_counter()
        stats.phase = "start_import"
        with path.open("rb") as stream:
            started = sis.start_import(
                stream,
                filename=path.name,
                actor=Actor.system("bench"),
                options=sis.ImportOptions(force=force),
                foreground=True,
            )
        assert started.job is not None
        phases["start_import"] = time.perf_counter() - start
        stats.phase = "validate"
        job = jobs.run_job(started.job.uuid, observer=observer)
        total = time.perf_counter() - start
        stats.phase = "after"
    finally:
        for (cls, name), original in originals.items():
            setattr(cls, name, original)
    if "first.stage" in marks and "first.validate" in marks:
        phases["validate"] = marks["first.stage"] - marks["first.validate"]
        stage_end = marks.get("last.stage", marks["first.stage"])
        phases["stage.parse_and_batches"] = max(
            0.0, stage_end - marks["first.stage"] - phases.get("stage.final_flush", 0.0)
        )
    phases["total"] = total
    return job, {name: round(value, 2) for name, value in phases.items()}


def step_import(db: str, path: Path, *, rerun: bool) -> dict[str, Any]:
    with common.django_on(db):
        from rollbook.audit.models import AuditEvent
        from rollbook.sis_import.models import (
            StagedGroup,
            StagedMembership,
            StagedPerson,
        )

        stats = Statements()
        with stats.installed():
            job, phases = _import(path, force=False, stats=stats)
        first = {
            "state": job.state,
            "message": job.message,
            "phases_s": phases,
            "statements": dict(stats.by_phase),
            "executemany_rows": dict(stats.many_rows),
            "copies": dict(stats.copies),
            "counts": job.counts,
            "staged_rows": {
                "person": StagedPerson.objects.count(),
                "group": StagedGroup.objects.count(),
                "membership": StagedMembership.objects.count(),
            },
            "peak_rss_mib": round(peak_rss_mib(), 1),
        }
        per_record: dict[str, float] = {}
        applied = {
            "persons": first["staged_rows"]["person"],
            "groups": first["staged_rows"]["group"],
            "memberships": first["staged_rows"]["membership"],
        }
        for kind, n in applied.items():
            seconds = phases.get(f"apply.{kind}", 0.0)
            if n:
                per_record[kind] = round(seconds / n * 1e3, 3)
        first["apply_ms_per_row"] = per_record
        first["apply_statements_per_row"] = {
            kind: round(stats.by_phase.get(f"apply.{kind}", 0) / n, 1)
            for kind, n in applied.items()
            if n
        }
        result: dict[str, Any] = {
            "database": common.database_version(),
            "machine": common.machine(),
            "first": first,
        }
        if rerun:
            common.settle()
            last_audit = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
            again = Statements()
            with again.installed():
                job2, phases2 = _import(path, force=True, stats=again)
            writes: Counter[str] = Counter()
            for counter in again.writes.values():
                writes.update(counter)
            subject = f"job:{job2.uuid}"
            foreign_audit = list(
                AuditEvent.objects.filter(id__gt=last_audit or 0)
                .exclude(subject=subject)
                .values_list("event", "subject")[:20]
            )
            outside = {key: n for key, n in writes.items() if key.split()[1] not in BOOKKEEPING}
            result["rerun"] = {
                "state": job2.state,
                "message": job2.message,
                "phases_s": phases2,
                "statements": dict(again.by_phase),
                "writes": dict(writes),
                "writes_outside_bookkeeping": outside,
                "audit_rows_not_about_the_job": foreign_audit,
                "writes_outside_total": sum(outside.values()) + len(foreign_audit),
                "counts": job2.counts,
            }
        return result


def step_profile(db: str, path: Path, top: int = 30) -> dict[str, Any]:
    """cProfile of apply alone (staging done first, not profiled)."""
    with common.django_on(db):
        from django.utils import timezone

        from rollbook.audit.data import Actor
        from rollbook.sis_import.apply import Applier
        from rollbook.sis_import.config import SisConfig
        from rollbook.sis_import.parser import iter_records, read_ahead
        from rollbook.sis_import.staging import Stager

        stager = Stager(changed_by="bench", now=timezone.now())
        with path.open("rb") as stream:
            stager.add_all(read_ahead(iter_records(stream)))  # as the import does
        applier = Applier(config=SisConfig.load(), actor=Actor.system("bench"))
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.runcall(applier.apply_all)
        seconds = time.perf_counter() - start
        out: dict[str, Any] = {"seconds_profiled": round(seconds, 2)}
        for sort in ("tottime", "cumulative"):
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text)
            stats.strip_dirs().sort_stats(sort).print_stats(top)
            out[sort] = text.getvalue()
        return out


# ---------------------------------------------------------------- the driver


def _child(step: str, db: str, path: Path, tmp: Path, *extra: str) -> dict[str, Any]:
    out = tmp / f"{step}-{db}-{path.stem}.json"
    command = [sys.executable, __file__, "--step", step, "--db", db, "--file", str(path)]
    command += ["--json", str(out), *extra]
    common.log(f"  -> {step} on {db}, {path.name}")
    subprocess.run(command, check=True)  # noqa: S603 (our own script)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def run_database(db: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    feed = tmp / "feed.xml"
    small = tmp / "feed-tenth.xml"
    out: dict[str, Any] = {"data": generate(feed, args.scale)}
    common.log(f"[{db}] feed: {out['data']['bytes'] / 1e6:.1f} MB, {out['data']}")
    out["parse"] = _child("parse", db, feed, tmp)
    common.log(f"[{db}] parse only: {out['parse']['seconds']} s")
    out["stage"] = _child("stage", db, feed, tmp)
    common.log(f"[{db}] parse + stage: {out['stage']['seconds']} s")
    out["stage"]["passed"] = (
        out["stage"]["seconds"] <= PARSE_STAGE_SECONDS
        and out["stage"]["peak_rss_mib"] <= PARSE_STAGE_MIB
    )
    # The whole import at a tenth, to see whether the full size fits the budget.
    out["data_tenth"] = generate(small, args.scale / 10)
    out["parse_tenth"] = _child("parse", db, small, tmp)
    tenth = _child("import", db, small, tmp, "--rerun")
    out["import_tenth"] = tenth
    estimate = tenth["first"]["phases_s"]["total"] * 10
    out["import_estimate_s"] = round(estimate, 1)
    common.log(f"[{db}] whole import at a tenth: {tenth['first']['phases_s']['total']} s")
    if estimate <= args.apply_budget:
        out["import"] = _child("import", db, feed, tmp, "--rerun")
        out["import_method"] = "measured"
        whole = out["import"]["first"]["phases_s"]["total"]
        rerun = out["import"]["rerun"]
        out["ratio_import_to_parse"] = round(whole / out["parse"]["seconds"], 1)
    else:
        out["import_method"] = (
            f"extrapolated: measured at scale {args.scale / 10:g} "
            f"({tenth['first']['phases_s']['total']} s) x 10"
        )
        whole = estimate
        rerun = tenth["rerun"]
        out["ratio_import_to_parse"] = round(
            tenth["first"]["phases_s"]["total"] / out["parse_tenth"]["seconds"], 1
        )
    out["import_passed"] = whole <= APPLY_SECONDS
    out["rerun_passed"] = rerun["writes_outside_total"] == 0 and (
        rerun["phases_s"]["total"] * (1 if out["import_method"] == "measured" else 10)
        <= RERUN_SECONDS
    )
    small.unlink(missing_ok=True)
    if args.profile_scale and db == "sqlite":
        prof = tmp / "feed-profile.xml"
        out["data_profile"] = generate(prof, args.profile_scale)
        out["profile"] = _child("profile", db, prof, tmp)
        prof.unlink(missing_ok=True)
    feed.unlink(missing_ok=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=[*common.DATABASES, "both"], default="both")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--apply-budget", type=float, default=900.0)
    parser.add_argument("--profile-scale", type=float, default=0.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--step", choices=("parse", "stage", "import", "profile"))
    parser.add_argument("--file", type=Path)
    parser.add_argument("--rerun", action="store_true")
    args = parser.parse_args()
    if args.step:  # a child process: one step on one database
        common._install_signal_handlers()
        if args.step == "parse":
            result = step_parse(args.file)
        elif args.step == "stage":
            result = step_stage(args.db, args.file)
        elif args.step == "import":
            result = step_import(args.db, args.file, rerun=args.rerun)
        else:
            result = step_profile(args.db, args.file)
        args.json.write_text(json.dumps(result, indent=2, default=str))
        return
    dbs = common.DATABASES if args.db == "both" else (args.db,)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rollbook-bench-sis-") as tmp:
        for db in dbs:
            results[db] = run_database(db, args, Path(tmp))
            if args.json:  # keep what is done so far
                args.json.write_text(json.dumps(results, indent=2, default=str))
    for db, out in results.items():
        common.log(summary(db, out))


def summary(db: str, out: dict[str, Any]) -> str:
    stage = out["stage"]
    lines = [
        f"== {db}: {out['data']['bytes'] / 1e6:.1f} MB feed",
        f"parse only: {out['parse']['seconds']} s, peak RSS {out['parse']['peak_rss_mib']} MiB",
        f"parse + stage: {stage['seconds']} s, peak RSS {stage['peak_rss_mib']} MiB "
        f"({stage['statements']} statements for {stage['records']} records) "
        f"-> {'pass' if stage['passed'] else 'FAIL'}",
        f"whole import ({out['import_method']}): "
        + (
            f"{out['import']['first']['phases_s']}"
            if "import" in out
            else f"~{out['import_estimate_s']} s; tenth: {out['import_tenth']['first']['phases_s']}"
        )
        + f" -> {'pass' if out['import_passed'] else 'FAIL'}",
        f"re-run --force: {(out.get('import') or out['import_tenth'])['rerun']['phases_s']} "
        f"-> {'pass' if out['rerun_passed'] else 'FAIL'}",
        f"ratio whole import / parse only: {out['ratio_import_to_parse']}x",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
