"""Run every benchmark on SQLite and PostgreSQL and write bench/RESULTS.md (`make bench`).

    .venv/bin/python bench/run_all.py [--db sqlite|postgres|both] [--quick]
        [--naive-budget SECONDS] [--results PATH] [--raw PATH]

Each benchmark runs in its own process per database, on its own throwaway database. The
tables between the `generated` markers of RESULTS.md are replaced; text outside them (the
findings written by hand) is kept.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import common

SCRIPTS = ("bench_roles.py", "bench_libraries.py")
START = "<!-- generated:start (bench/run_all.py replaces this part) -->"
END = "<!-- generated:end -->"
DB_TITLES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=[*common.DATABASES, "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--naive-budget", type=float, default=180.0)
    parser.add_argument("--results", type=Path, default=common.BENCH_DIR / "RESULTS.md")
    parser.add_argument("--raw", type=Path, help="also keep the raw results here as JSON")
    args = parser.parse_args()

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rollbook-bench-") as tmp:
        for script in SCRIPTS:
            out = Path(tmp) / (script + ".json")
            command = [sys.executable, str(common.BENCH_DIR / script), "--db", args.db]
            command += ["--json", str(out), "--naive-budget", str(args.naive_budget)]
            if args.quick:
                command.append("--quick")
            common.log(f"==> {script} --db {args.db}")
            subprocess.run(command, check=True)  # noqa: S603 (our own scripts)
            results[script.removesuffix(".py").removeprefix("bench_")] = json.loads(out.read_text())
    if args.raw:
        args.raw.write_text(json.dumps(results, indent=2))
    markdown = render(results, quick=args.quick)
    write_results(args.results, markdown)
    common.log(f"==> wrote {args.results}")
    print(summary_table(results))
    return 0 if all_passed(results) else 1


def write_results(path: Path, generated: str) -> None:
    block = f"{START}\n{generated.strip()}\n{END}"
    text = path.read_text() if path.exists() else ""
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + block + after
    else:
        text = "# Benchmark results\n\n" + block + "\n"
    path.write_text(text)


# ---------------------------------------------------------------- rendering


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def _ns(value: float) -> str:
    return f"{value:.0f} ns"


def _verdict(passed: bool) -> str:
    return "**pass**" if passed else "**FAIL**"


def _dbs(results: dict[str, Any]) -> list[str]:
    return [db for db in common.DATABASES if db in results.get("libraries", {})] or [
        db for db in common.DATABASES if db in results.get("roles", {})
    ]


def _targets(results: dict[str, Any]) -> list[tuple[str, str, dict[str, str], bool]]:
    """(target, bound, value per database, passed) rows of the summary."""
    rows: list[tuple[str, str, dict[str, str], bool]] = []
    roles = results.get("roles", {})
    libraries = results.get("libraries", {})
    dbs = _dbs(results)
    if roles:
        rows.append(
            (
                "Role check on a built cache (`RoleCache.has_role`, slowest case, median)",
                "≤ 2 µs",
                {db: _ns(roles[db]["checks"]["worst_median_ns"]) for db in dbs if db in roles},
                all(roles[db]["checks"]["passed"] for db in dbs if db in roles),
            )
        )
        rows.append(
            (
                "Build the cache, 10,000 grants (`roles.api.role_cache`, median)",
                "≤ 50 ms",
                {
                    db: _ms(roles[db]["cache_build"]["10000"]["role_cache"]["p50"])
                    for db in dbs
                    if db in roles
                },
                all(roles[db]["cache_build"]["passed"] for db in dbs if db in roles),
            )
        )
    if libraries:
        rows.append(
            (
                "`GET /api/v1/users/{u}/libraries`, 10,000 grants, 100,000 libraries, p95",
                "≤ 100 ms",
                {db: _ms(libraries[db]["points"]["1L1G"]["endpoint"]["p95"]) for db in dbs},
                all(libraries[db]["target"]["passed"] for db in dbs),
            )
        )
        for key, label, bound in (
            ("2L1G", "Doubling the libraries (time ratio, p50)", 2.0),
            ("1L2G", "Doubling the grants (time ratio, p50)", 2.0),
            ("2L2G", "Doubling both (time ratio, p50)", 4.0),
        ):
            rows.append(
                (
                    label,
                    f"≤ {bound:.0f}x",
                    {db: f"{libraries[db]['scaling'][key]['endpoint_p50']:.2f}x" for db in dbs},
                    all(libraries[db]["scaling"][key]["endpoint_p50"] <= bound for db in dbs),
                )
            )
        rows.append(
            (
                "O(libraries x grants) scan / endpoint p95, same data",
                "≥ 100x",
                {db: f"{libraries[db]['naive_ratio']['vs_endpoint_p95']:,.0f}x" for db in dbs},
                all(libraries[db]["naive_ratio"]["passed"] for db in dbs),
            )
        )
    return rows


def all_passed(results: dict[str, Any]) -> bool:
    return all(passed for *_rest, passed in _targets(results))


def summary_table(results: dict[str, Any]) -> str:
    dbs = _dbs(results)
    lines = [
        "| Target | Bound | " + " | ".join(DB_TITLES[db] for db in dbs) + " | Result |",
        "|---|---|" + "---:|" * len(dbs) + "---|",
    ]
    for target, bound, values, passed in _targets(results):
        cells = " | ".join(values.get(db, "-") for db in dbs)
        lines.append(f"| {target} | {bound} | {cells} | {_verdict(passed)} |")
    return "\n".join(lines)


def render(results: dict[str, Any], *, quick: bool) -> str:
    dbs = _dbs(results)
    any_db = next(iter(results.get("libraries") or results["roles"]))
    machine = (results.get("libraries") or results["roles"])[any_db]["machine"]
    versions = ", ".join(
        (results.get("libraries") or results["roles"])[db]["database"] for db in dbs
    )
    loads = "; ".join(
        f"{name}/{db}: "
        + ", ".join(f"{x:.2f}" for x in results[name][db]["machine"]["loadavg_at_start"])
        for name in results
        for db in dbs
        if db in results[name]
    )
    out = [
        f"Measured {machine['date']} by `make bench` (`bench/run_all.py`)"
        + (" with `--quick` (a smoke run: fewer repeats)" if quick else "")
        + ".",
        "",
        f"- Machine: {machine['cpu']}, **{machine['cores']} cores**, {machine['memory']} RAM, "
        f"{machine['os']} (a VM); Python {machine['python']}, Django {machine['django']}.",
        f"- Databases: {versions}. SQLite is a file in WAL mode (the default settings); "
        "PostgreSQL is local, over TCP, default server configuration.",
        f"- Load average when each run started: {loads}.",
        "",
        "## Summary",
        "",
        summary_table(results),
        "",
    ]
    if "roles" in results:
        out += _render_roles(results["roles"], dbs)
    if "libraries" in results:
        out += _render_libraries(results["libraries"], dbs)
    return "\n".join(out)


def _render_roles(roles: dict[str, Any], dbs: list[str]) -> list[str]:
    dbs = [db for db in dbs if db in roles]
    first = roles[dbs[0]]
    out = [
        "## 1. Role checks on a built cache (target ≤ 2 µs)",
        "",
        f"User with {first['data']['user_grants']['10000']}; the grants table holds "
        f"{first['data']['grant_rows']:,} rows (other users included). `timeit` over "
        f"{first['checks']['cases']['hit: course/library grant']['checks']:,} checks per case "
        "(garbage collection off, as `timeit` does), cycling through 10,000 varied keys; best "
        "and median of the repeats. The times include the Python loop around the call "
        f"(about {_ns(first['checks']['loop_overhead_ns'])} with a no-op function).",
        "",
        "| Case | "
        + " | ".join(f"{DB_TITLES[db]} best | {DB_TITLES[db]} median" for db in dbs)
        + " |",
        "|---|" + "---:|---:|" * len(dbs),
    ]
    for case in first["checks"]["cases"]:
        cells = " | ".join(
            f"{_ns(roles[db]['checks']['cases'][case]['best_ns'])} | "
            f"{_ns(roles[db]['checks']['cases'][case]['median_ns'])}"
            for db in dbs
        )
        out.append(f"| {case} | {cells} |")
    out += [
        "",
        "The check itself does not touch the database; the two columns are two runs. "
        "`check_role` (marked info) is the API entry point: it also validates the role name "
        "and parses the key with a regular expression before the same look-up.",
        "",
        "## 2. Building the role cache (target ≤ 50 ms for 10,000 grants)",
        "",
        "`roles.api.role_cache(user)`: one query fetching `(role, org, course_key)` tuples, "
        "then `RoleCache(...)`. Split into the fetch alone and the construction alone (from "
        "already fetched rows). Garbage collection on, as in a server.",
        "",
        "| Grants | Database | role_cache p50 | p95 | max | fetch p50 | construct p50 | Result |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for db in dbs:
        build = roles[db]["cache_build"]
        for grants in ("10000", "20000"):
            row = build[grants]
            passed = row["role_cache"]["p50"] <= build["target_ms"]
            verdict = _verdict(passed) if grants == "10000" else "(info)"
            out.append(
                f"| {int(grants):,} | {DB_TITLES[db]} | {_ms(row['role_cache']['p50'])} | "
                f"{_ms(row['role_cache']['p95'])} | {_ms(row['role_cache']['max'])} | "
                f"{_ms(row['fetch_only']['p50'])} | {_ms(row['construct_only']['p50'])} | "
                f"{verdict} |"
            )
    n = first["cache_build"]["10000"]["role_cache"]["n"]
    out += ["", f"{n} timed builds per row after 3 warm-up builds.", ""]
    return out


def _render_libraries(libraries: dict[str, Any], dbs: list[str]) -> list[str]:
    first = libraries[dbs[0]]
    base = first["points"]["1L1G"]
    out = [
        "## 3. `GET /api/v1/users/{username}/libraries` (target ≤ 100 ms p95)",
        "",
        f"Data: {first['data']['orgs']:,} orgs with 100 libraries each (100,000), then 100 "
        "more per org (200,000: an org-level grant then shows 200 libraries). User u10k: "
        f"{first['data']['user_grants']['10000']}. User u20k: "
        f"{first['data']['user_grants']['20000']}. 100 other users hold "
        f"{first['data']['background_grants']:,} grants between them.",
        "",
        f"Endpoint: the whole request through Django's handler with `django.test.Client` and a "
        f"real bearer token (authentication, the view, serialization), first page of 100 with "
        f"the total; {base['endpoint']['n']} requests after warm-up; p50/p95 nearest-rank. "
        "`visible_libraries`: the API function alone (the COUNT and the page query). Each "
        "response was checked against the visible set computed from the generated data.",
        "",
        "| Database | Data | Visible | Endpoint p50 | Endpoint p95 | visible_libraries p50 "
        "| visible_libraries p95 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for db in dbs:
        for point in libraries[db]["points"].values():
            out.append(
                f"| {DB_TITLES[db]} | {point['label']} | {point['visible']:,} | "
                f"{_ms(point['endpoint']['p50'])} | {_ms(point['endpoint']['p95'])} | "
                f"{_ms(point['visible_libraries']['p50'])} | "
                f"{_ms(point['visible_libraries']['p95'])} |"
            )
    out.append("")
    for db in dbs:
        fresh = libraries[db]["points"]["1L1G"].get("endpoint_fresh_connection")
        if fresh:
            out.append(
                f"{DB_TITLES[db]} with a new database connection per request (what "
                "`CONN_MAX_AGE=0` does in a deployment; the test client otherwise keeps it "
                f"open), 10,000 grants / 100,000 libraries: p50 {_ms(fresh['p50'])}, p95 "
                f"{_ms(fresh['p95'])}."
            )
        staff = libraries[db]["staff_100k"]
        out.append(
            f"{DB_TITLES[db]}, global staff (all 100,000 libraries, info): p50 "
            f"{_ms(staff['p50'])}, p95 {_ms(staff['p95'])}."
        )
        out.append("")
    out += [
        "## 4. Scaling: doubling libraries or grants (target: at most doubles the time)",
        "",
        "Ratios of the times against 100,000 libraries / 10,000 grants on the same database. "
        f"Judged on the endpoint's p50 (a p95 of {base['endpoint']['n']} samples on a shared "
        "2-core VM is noisier); both doubled is judged against 4x (each doubling at most "
        "doubles). The visible set grows too: an org-level grant shows 200 libraries instead "
        "of 100 once the libraries double.",
        "",
        "| Database | Doubled | Visible (vs 1x) | Endpoint p50 | Endpoint p95 "
        "| visible_libraries p50 | visible_libraries p95 | Result |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    names = {"2L1G": "libraries", "1L2G": "grants", "2L2G": "both"}
    for db in dbs:
        for key, ratio in libraries[db]["scaling"].items():
            visible = libraries[db]["points"][key]["visible"]
            base_visible = libraries[db]["points"]["1L1G"]["visible"]
            bound = 4.0 if key == "2L2G" else 2.0
            out.append(
                f"| {DB_TITLES[db]} | {names[key]} | {visible:,} "
                f"({visible / base_visible:.2f}x) | {ratio['endpoint_p50']:.2f}x | "
                f"{ratio['endpoint_p95']:.2f}x | {ratio['visible_libraries_p50']:.2f}x | "
                f"{ratio['visible_libraries_p95']:.2f}x | "
                f"{_verdict(ratio['endpoint_p50'] <= bound)} |"
            )
    out += [
        "",
        "## 5. Against the O(libraries x grants) scan (target ≥ 100x)",
        "",
        "The old Open edX way, on the same data: fetch every library (by key) and the user's "
        "grants, then for each library scan the grants for one on its key or an org-level "
        "staff/instructor/library_user grant in its org (a plain loop that stops at the first "
        "match), count, take the first page. The scan is timed in full when a sample says it "
        "fits the budget (`--naive-budget`, 180 s); otherwise it is timed on 2,000 random "
        "libraries and **extrapolated linearly** to all of them, as marked.",
        "",
        "| Database | Data | Fetch | Scan | Total | How | Ratio vs endpoint p95 "
        "| Ratio vs visible_libraries p50 |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for db in dbs:
        naive = libraries[db]["naive"]
        for key, run in naive.items():
            if key == "1L1G":
                ratio = libraries[db]["naive_ratio"]
                ratios = (
                    f"**{ratio['vs_endpoint_p95']:,.0f}x** | "
                    f"{ratio['vs_visible_libraries_p50']:,.0f}x"
                )
            else:
                point = libraries[db]["points"][key]
                ratios = (
                    f"{run['total_ms'] / point['endpoint']['p95']:,.0f}x (info) | "
                    f"{run['total_ms'] / point['visible_libraries']['p50']:,.0f}x (info)"
                )
            out.append(
                f"| {DB_TITLES[db]} | {run['libraries']:,} libraries, {run['grants']:,} grants "
                f"| {_ms(run['fetch_ms'])} | {run['scan_s']:.1f} s | "
                f"{run['total_ms'] / 1000:.1f} s | {run['method']} | {ratios} |"
            )
    out += ["", "## 6. Query plans", ""]
    out.append(
        "What `visible_libraries` runs for u10k (100,000 libraries), then each statement's "
        "plan: `EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN (ANALYZE, BUFFERS)` on PostgreSQL "
        "(after `VACUUM ANALYZE`; SQLite is not analyzed, as rollbook never does it)."
    )
    out.append("")
    for db in dbs:
        for i, plan in enumerate(libraries[db]["plans"], 1):
            out += [
                f"**{DB_TITLES[db]}, statement {i}**",
                "",
                "```sql",
                plan["sql"],
                "```",
                "",
                "```",
                plan["plan"],
                "```",
                "",
            ]
    return out


if __name__ == "__main__":
    sys.exit(main())
