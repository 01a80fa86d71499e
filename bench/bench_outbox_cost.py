"""What the outbox (ADR 0013) costs the bulk paths: the same benches on two checkouts.

    .venv/bin/python bench/bench_outbox_cost.py --before /work/before [--after .] \\
        [--runs 3] [--sis-scale 0.2] [--keys 10000] [--learners 20000] [--json PATH]

Each checkout runs its own bench scripts with its own virtualenv (`make install` there
first), on PostgreSQL (the issue's bound is for PostgreSQL), each run on a freshly created
database:

- SIS apply: `bench_sis.py --step import` on one generated Banner feed (at --sis-scale 0.2:
  20,000 persons, 1,000 sections, 100,000 memberships), the whole import's seconds;
- program linking and the CSV upload: `bench_programs.py --keys N`;
- certificate generation: `bench_certificates.py --learners N`, the first generation run.

Runs alternate (before, after, before, after, ...) so that a slow stretch of the machine
falls on both sides. Prints every run and the change of the means; the issue's bound is 10%.
Run it on a quiet machine: the spread from run to run is about 20% on 2 shared cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BOUND = 0.10
PATHS = ("sis_apply", "link", "csv_upload", "certificates")


def _run(tree: Path, script: str, args: list[str], out: Path) -> dict[str, Any]:
    command = [str(tree / ".venv/bin/python"), str(tree / "bench" / script), *args]
    command += ["--json", str(out)]
    out.unlink(missing_ok=True)
    # bench_certificates exits 1 when a target of its own is missed; its JSON is still whole.
    done = subprocess.run(command, check=False, cwd=tree, stdout=subprocess.DEVNULL)  # noqa: S603
    if done.returncode not in (0, 1) or not out.exists():
        raise SystemExit(f"{script} in {tree} failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def one_round(tree: Path, feed: Path, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    sis = _run(
        tree,
        "bench_sis.py",
        ["--step", "import", "--db", "postgres", "--file", str(feed)],
        tmp / "sis.json",
    )
    programs = _run(
        tree, "bench_programs.py", ["--db", "postgres", "--keys", str(args.keys)], tmp / "p.json"
    )
    run = programs["postgres"]["runs"][0]
    certificates = _run(
        tree,
        "bench_certificates.py",
        ["--db", "postgres", "--learners", str(args.learners), "--lookups", "100"],
        tmp / "c.json",
    )
    return {
        "sis_apply": float(sis["first"]["phases_s"]["total"]),
        "link": float(run["link"]["seconds"]),
        "csv_upload": float(run["csv"]["seconds"]),
        "certificates": float(certificates["postgres"]["first"]["seconds"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout without the outbox")
    parser.add_argument("--after", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sis-scale", type=float, default=0.2)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--learners", type=int, default=20_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="rollbook-bench-outbox-") as name:
        tmp = Path(name)
        feed = tmp / "feed.xml"
        scale = args.sis_scale
        subprocess.run(  # noqa: S603 (our own script)
            [
                sys.executable,
                str(trees["after"] / "bench" / "gen_banner_feed.py"),
                f"--persons={int(100_000 * scale)}",
                f"--sections={int(5_000 * scale)}",
                f"--memberships={int(500_000 * scale)}",
                "--seed=1",
                f"--out={feed}",
            ],
            check=True,
        )
        for n in range(args.runs):
            for side in ("before", "after"):
                result = one_round(trees[side], feed, args, tmp)
                runs[side].append(result)
                load = os.getloadavg()[0]
                print(f"run {n + 1} {side}: {result} (load {load:.2f})", flush=True)
                if args.json:
                    args.json.write_text(json.dumps(runs, indent=2))
    print(f"\n{'path':<14}{'before (s)':<28}{'after (s)':<28}{'change':>8}")
    for path in PATHS:
        before = [r[path] for r in runs["before"]]
        after = [r[path] for r in runs["after"]]
        change = statistics.mean(after) / statistics.mean(before) - 1
        verdict = "pass" if change <= BOUND else "over"
        print(
            f"{path:<14}{', '.join(f'{x:.2f}' for x in before):<28}"
            f"{', '.join(f'{x:.2f}' for x in after):<28}{change:>+8.1%} {verdict}"
        )


if __name__ == "__main__":
    main()
