"""Role checks and role-cache construction.

Targets (docs/decisions/0004): a check on a built cache in at most 2 µs; building the cache of
a user with 10,000 grants (`roles.api.role_cache`: one query fetching tuples, then the
indexing) in at most 50 ms.

    .venv/bin/python bench/bench_roles.py [--db sqlite|postgres|both] [--json PATH] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import timeit
from typing import Any

import common

CHECK_TARGET_NS = 2000
BUILD_TARGET_MS = 50.0
ORGS = 1000
LIBRARIES_PER_ORG = 100
CHECKS = 1_000_000
ARGS_PER_LOOP = 10_000


def _time_checks(
    fn: Any, args: list[tuple[Any, ...]], repeats: int, call: str = "fn(*a)"
) -> dict[str, float]:
    """ns per call over CHECKS calls, cycling through `args` (varied keys, so that the
    look-ups are not all of one warm entry). Includes the loop's own overhead."""
    assert len(args) == ARGS_PER_LOOP
    loops = CHECKS // ARGS_PER_LOOP
    timer = timeit.Timer(f"for a in args: {call}", globals={"args": args, "fn": fn})
    runs = [t / CHECKS * 1e9 for t in timer.repeat(repeat=repeats, number=loops)]
    return {"checks": CHECKS, "best_ns": min(runs), "median_ns": statistics.median(runs)}


def _loop_overhead(args: list[tuple[Any, ...]], repeats: int) -> float:
    def noop(*_a: Any) -> None:
        return None

    return _time_checks(noop, args, repeats)["best_ns"]


def main(db: str, args: argparse.Namespace) -> dict[str, Any]:
    repeats = 3 if args.quick else 7
    build_repeats = 7 if args.quick else 31
    result: dict[str, Any] = {"machine": common.machine()}
    with common.django_on(db):
        from rollbook.roles import api as roles
        from rollbook.roles.cache import RoleCache
        from rollbook.roles.models import RoleGrant

        result["database"] = common.database_version()
        common.log(f"[roles/{db}] loading grants ({result['database']})")
        watch = common.Stopwatch()
        background = common.load_background_users(
            100, 500, orgs=ORGS, libraries_per_org=LIBRARIES_PER_ORG
        )
        users = {}
        grant_sets = {}
        for total in (10_000, 20_000):
            name = f"u{total // 1000}k"
            users[total] = common.create_user(name)
            grant_sets[total] = common.make_grants(
                total, orgs=ORGS, libraries_per_org=LIBRARIES_PER_ORG, seed=total
            )
            common.load_grants(users[total].id, grant_sets[total].all)
        common.settle()
        result["data"] = {
            "user_grants": {str(k): g.describe() for k, g in grant_sets.items()},
            "grant_rows": RoleGrant.objects.count(),
            "background_grants": background,
            "load_seconds": round(watch(), 1),
        }
        common.log(f"[roles/{db}] loaded {result['data']['grant_rows']:,} grants in {watch():.1f}s")

        # ------------------------------------------------ cache build
        builds: dict[str, Any] = {}
        for total, user in users.items():
            samples = common.time_calls(
                lambda user=user: roles.role_cache(user), repeats=build_repeats, warmup=3
            )
            query = RoleGrant.objects.filter(user_id=user.id).values_list(
                "role", "org", "course_key"
            )
            fetch = common.time_calls(
                lambda q=query: list(q.all()), repeats=build_repeats, warmup=3
            )
            rows = list(query)
            construct = common.time_calls(
                lambda rows=rows: RoleCache(rows), repeats=build_repeats, warmup=3
            )
            cache = roles.role_cache(user)
            assert len(cache) == total, (len(cache), total)
            builds[str(total)] = {
                "role_cache": common.summarize_ms(samples),
                "fetch_only": common.summarize_ms(fetch),
                "construct_only": common.summarize_ms(construct),
            }
            common.log(
                f"[roles/{db}] role_cache({total:,} grants): median "
                f"{builds[str(total)]['role_cache']['p50']:.2f} ms (fetch "
                f"{builds[str(total)]['fetch_only']['p50']:.2f} ms, construct "
                f"{builds[str(total)]['construct_only']['p50']:.2f} ms)"
            )
        builds["target_ms"] = BUILD_TARGET_MS
        builds["passed"] = builds["10000"]["role_cache"]["p50"] <= BUILD_TARGET_MS
        result["cache_build"] = builds

        # ------------------------------------------------ checks
        user = users[10_000]
        grants = grant_sets[10_000]
        cache = roles.role_cache(user)
        rng = random.Random(7)

        def pick(pool: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
            return [rng.choice(pool) for _ in range(ARGS_PER_LOOP)]

        cases: dict[str, list[tuple[str, ...]]] = {
            "hit: course/library grant": pick(
                [(role, key, org) for role, org, key in grants.library + grants.course]
            ),
            "hit: by inheritance (limited_staff grant, staff check)": pick(
                [
                    ("staff", key, org)
                    for role, org, key in grants.library + grants.course
                    if role == "limited_staff"
                ]
            ),
            "hit: org-level grant": pick([(role, "", org) for role, org, _ in grants.org]),
            "miss: key not held": pick(
                [("staff", f"course-v1:Nope{i}+C1+2026", f"Nope{i}") for i in range(ARGS_PER_LOOP)]
            ),
            "miss: key held, other role": pick(
                [("finance_admin", key, org) for _role, org, key in grants.course[:ARGS_PER_LOOP]]
            ),
        }
        for name, case_args in cases.items():
            expected = name.startswith("hit")
            assert all(cache.has_role(*a) is expected for a in case_args), name
        checks: dict[str, Any] = {}
        overhead = _loop_overhead(cases["hit: course/library grant"], repeats)
        for name, case_args in cases.items():
            checks[name] = _time_checks(cache.has_role, case_args, repeats)
        checks["hit, strict=True"] = _time_checks(
            cache.has_role, cases["hit: course/library grant"], repeats, "fn(*a, strict=True)"
        )
        # For information: the API entry point, which also validates the role and parses the
        # key (a regular expression) before the same look-up.
        api_args = [(r, k) for r, k, _o in cases["hit: course/library grant"]]
        checks["roles.api.check_role(user, role, course_key=key, cache=cache) (info)"] = (
            _time_checks(
                functools.partial(roles.check_role, user, cache=cache),
                api_args,
                repeats,
                "fn(a[0], course_key=a[1])",
            )
        )
        for name, value in checks.items():
            common.log(f"[roles/{db}] {name}: {value['best_ns']:.0f} ns per check")
        worst = max(v["median_ns"] for k, v in checks.items() if not k.endswith("(info)"))
        result["checks"] = {
            "cases": checks,
            "loop_overhead_ns": overhead,
            "worst_median_ns": worst,
            "target_ns": CHECK_TARGET_NS,
            "passed": worst <= CHECK_TARGET_NS,
        }
    return result


if __name__ == "__main__":
    common.run(main, __doc__ or "")
