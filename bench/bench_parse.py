"""Parse-only speed and memory of the IMS Enterprise parser (`sis_import.parser`).

Times one pass of `iter_records` over a Banner feed, counting records (no database), and
reports MB/s, records/s and the process's peak RSS. Without --file it generates the feed
with gen_banner_feed.py (in its own process, so that the generator's memory is not counted)
into a temporary directory and removes it afterwards.

    .venv/bin/python bench/bench_parse.py                       # full size, about 200 MB
    .venv/bin/python bench/bench_parse.py --persons 10000 --sections 500 --memberships 50000
    .venv/bin/python bench/bench_parse.py --file /tmp/feed.xml [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def parse_pass(path: Path) -> dict[str, Any]:
    from rollbook.sis_import.data import MembershipRecord
    from rollbook.sis_import.parser import iter_records

    counts: Counter[str] = Counter()
    members = 0
    rss_before = peak_rss_mib()
    start = time.perf_counter()
    with path.open("rb") as stream:
        for record in iter_records(stream):
            counts[type(record).__name__] += 1
            if isinstance(record, MembershipRecord):
                members += len(record.members)
    seconds = time.perf_counter() - start
    size = path.stat().st_size
    records = sum(counts.values())
    return {
        "file": str(path),
        "bytes": size,
        "seconds": round(seconds, 2),
        "mb_per_s": round(size / 1e6 / seconds, 1),
        "records": records,
        "records_per_s": round(records / seconds),
        "members": members,
        "member_entries_per_s": round(members / seconds),
        "by_type": dict(counts),
        "peak_rss_mib_before": round(rss_before, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def generate(out: Path, args: argparse.Namespace) -> None:
    command = [
        sys.executable,
        str(BENCH_DIR / "gen_banner_feed.py"),
        f"--persons={args.persons}",
        f"--sections={args.sections}",
        f"--memberships={args.memberships}",
        f"--seed={args.seed}",
        f"--out={out}",
    ]
    if args.no_newlines:
        command.append("--no-newlines")
    subprocess.run(command, check=True)  # noqa: S603 (our own script)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, help="parse this feed instead of generating one")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--sections", type=int, default=5_000)
    parser.add_argument("--memberships", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-newlines", action="store_true")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    if args.file:
        result = parse_pass(args.file)
    else:
        with tempfile.TemporaryDirectory(prefix="rollbook-bench-") as tmp:
            path = Path(tmp) / "feed.xml"
            started = time.perf_counter()
            generate(path, args)
            print(f"generated in {time.perf_counter() - started:.1f}s", flush=True)
            result = parse_pass(path)
    print(
        f"{result['bytes'] / 1e6:.1f} MB in {result['seconds']:.2f}s: "
        f"{result['mb_per_s']} MB/s, {result['records']:,} records "
        f"({result['records_per_s']:,}/s; {result['members']:,} member entries, "
        f"{result['member_entries_per_s']:,}/s), peak RSS {result['peak_rss_mib']} MiB "
        f"(before parsing {result['peak_rss_mib_before']} MiB)"
    )
    print(json.dumps(result["by_type"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
