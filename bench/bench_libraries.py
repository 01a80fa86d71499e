"""GET /api/v1/users/{username}/libraries: the libraries a user may see, first page and total.

Target (docs/decisions/0004): at most 100 ms p95 on the server for a user with 10,000 grants
among 100,000 libraries, on SQLite and on PostgreSQL; doubling the libraries or the grants at
most doubles the time; at least 100x faster than the O(libraries x grants) scan that Open edX
did (for each library, scan all of the user's grants for one that matches it).

Data: 1,000 orgs with 100 libraries each (100,000), then 100 more per org (200,000, so an
org-level grant shows twice as many libraries). Users u10k and u20k hold 10,000 and 20,000
grants (library, course, org-level and global ones); 100 other users hold 500 each.

    .venv/bin/python bench/bench_libraries.py [--db sqlite|postgres|both] [--json PATH]
        [--quick] [--naive-budget SECONDS]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

import common

TARGET_P95_MS = 100.0
TARGET_SCALING = 2.0
TARGET_NAIVE_RATIO = 100.0
ORGS = 1000
LIBRARIES_PER_ORG = 100
PAGE_SIZE = 100
NAIVE_SAMPLE = 2000
ORG_LIBRARY_ROLES = ("staff", "instructor", "library_user")  # as rollbook.roles.data


def expected_keys(grants: common.GrantSet, slugs_per_org: int) -> list[str]:
    """The visible library keys, from the generated data (not from the database)."""
    keys = {key for _role, _org, key in grants.library}
    for role, org, _key in grants.org:
        if role in ORG_LIBRARY_ROLES:
            org_index = int(org.removeprefix("Org"))
            keys.update(common.library_key(org_index, slug) for slug in range(slugs_per_org))
    return sorted(keys)


def naive_scan(
    libraries: list[tuple[int, str, str, str]], grants: list[tuple[str, str, str]]
) -> list[tuple[int, str, str, str]]:
    """Open edX's way, as tight as plain Python makes it: for every library, look through the
    user's grants for one on the library's key, or an org-level staff/instructor/library_user
    grant in its org."""
    visible = []
    for library in libraries:
        key = library[1]
        org = library[2]
        for role, grant_org, grant_key in grants:
            if grant_key == key or (
                not grant_key and grant_org == org and role in ORG_LIBRARY_ROLES
            ):
                visible.append(library)
                break
    return visible


class Bench:
    def __init__(self, db: str, args: argparse.Namespace) -> None:
        from django.test import Client

        self.db = db
        self.requests = 20 if args.quick else 100
        self.warmup = 3 if args.quick else 5
        self.naive_budget = args.naive_budget
        self.client = Client()

    # ------------------------------------------------ measurements

    def timings(self, user: Any, token: str) -> tuple[dict[str, float], dict[str, float], Any]:
        """p50/p95 of the whole request through Django's handler (auth, view, serialization)
        and of `visible_libraries` alone, interleaved (one of each per round) so that drift
        in the machine's speed touches both alike. Answers them and the last response body."""
        from rollbook.lib.pagination import PageRequest
        from rollbook.roles import api as roles

        url = f"/api/v1/users/{user.username}/libraries?page=1&page_size={PAGE_SIZE}"
        headers = {"Authorization": f"Bearer {token}"}
        page = PageRequest(1, PAGE_SIZE)
        endpoint, direct = [], []
        response = None
        for i in range(self.warmup + self.requests):
            start = time.perf_counter_ns()
            response = self.client.get(url, headers=headers)
            elapsed = time.perf_counter_ns() - start
            assert response.status_code == 200, response.content[:500]
            start = time.perf_counter_ns()
            roles.visible_libraries(user, page=page)
            direct_elapsed = time.perf_counter_ns() - start
            if i >= self.warmup:
                endpoint.append(elapsed)
                direct.append(direct_elapsed)
        assert response is not None
        return (
            common.summarize_ms(endpoint),
            common.summarize_ms(direct),
            json.loads(response.content),
        )

    def endpoint_fresh_connection(self, username: str, token: str) -> dict[str, float]:
        """The endpoint when each request opens its database connection, as on SQLite in a
        deployment (CONN_MAX_AGE=0); the test client otherwise keeps it open."""
        from django.db import connection

        url = f"/api/v1/users/{username}/libraries?page=1&page_size={PAGE_SIZE}"
        headers = {"Authorization": f"Bearer {token}"}
        samples = []
        for i in range(self.warmup + self.requests):
            connection.close()
            start = time.perf_counter_ns()
            response = self.client.get(url, headers=headers)
            elapsed = time.perf_counter_ns() - start
            assert response.status_code == 200
            if i >= self.warmup:
                samples.append(elapsed)
        return common.summarize_ms(samples)

    def staff_listing(self, username: str, token: str, expected: int) -> dict[str, float]:
        url = f"/api/v1/users/{username}/libraries?page=1&page_size={PAGE_SIZE}"
        headers = {"Authorization": f"Bearer {token}"}
        samples = []
        for i in range(self.warmup + self.requests):
            start = time.perf_counter_ns()
            response = self.client.get(url, headers=headers)
            elapsed = time.perf_counter_ns() - start
            assert response.status_code == 200
            if i >= self.warmup:
                samples.append(elapsed)
        assert json.loads(response.content)["count"] == expected
        return common.summarize_ms(samples)

    def plans(self, user: Any) -> list[dict[str, str]]:
        """The SQL that visible_libraries runs, and each statement's plan."""
        from django.db import connection

        from rollbook.lib.pagination import PageRequest
        from rollbook.roles import api as roles

        captured: list[tuple[str, Any]] = []

        def capture(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            captured.append((sql, params))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(capture):
            roles.visible_libraries(user, page=PageRequest(1, PAGE_SIZE))
        return [
            {"sql": sql % tuple(_literal(p) for p in params), "plan": common.explain(sql, params)}
            for sql, params in captured
        ]

    def naive(self, user: Any, *, full_allowed: bool) -> dict[str, Any]:
        """The O(libraries x grants) scan on the same data: fetch every library and the user's
        grants, scan, count and take the first page. Timed in full when it fits the budget;
        otherwise on a random sample of libraries and extrapolated linearly."""
        from rollbook.catalog.models import Library
        from rollbook.roles.models import RoleGrant

        def fetch() -> tuple[list[Any], list[Any]]:
            libraries = list(
                Library.objects.order_by("key").values_list("id", "key", "org", "title")
            )
            grants = list(
                RoleGrant.objects.filter(user_id=user.id).values_list("role", "org", "course_key")
            )
            return libraries, grants

        fetch_ms = common.summarize_ms(common.time_calls(fetch, repeats=3, warmup=1))["p50"]
        libraries, grants = fetch()
        sample = random.Random(3).sample(libraries, min(NAIVE_SAMPLE, len(libraries)))
        start = time.perf_counter()
        naive_scan(sample, grants)
        sample_s = time.perf_counter() - start
        estimate_s = sample_s * len(libraries) / len(sample)
        result: dict[str, Any] = {
            "libraries": len(libraries),
            "grants": len(grants),
            "fetch_ms": fetch_ms,
            "sample_libraries": len(sample),
            "sample_scan_s": sample_s,
            "extrapolated_scan_s": estimate_s,
        }
        if full_allowed and estimate_s <= self.naive_budget:
            common.log(f"[libraries/{self.db}] naive scan in full (about {estimate_s:.0f} s)")
            start = time.perf_counter()
            visible = naive_scan(libraries, grants)
            result["scan_s"] = time.perf_counter() - start
            result["method"] = "full run"
            result["count"] = len(visible)
            result["first_page"] = [row[1] for row in visible[:PAGE_SIZE]]
        else:
            result["scan_s"] = estimate_s
            result["method"] = (
                f"extrapolated: {len(sample):,} random libraries scanned in {sample_s:.2f} s, "
                f"x {len(libraries):,}/{len(sample):,}"
            )
        result["total_ms"] = fetch_ms + result["scan_s"] * 1000
        return result

    # ------------------------------------------------ one data point

    def point(
        self,
        label: str,
        user: Any,
        token: str,
        grants: common.GrantSet,
        slugs_per_org: int,
        *,
        fresh_connection: bool,
    ) -> dict[str, Any]:
        from rollbook.lib.pagination import PageRequest
        from rollbook.roles import api as roles

        expected = expected_keys(grants, slugs_per_org)
        page = roles.visible_libraries(user, page=PageRequest(1, PAGE_SIZE))
        assert page.count == len(expected), (page.count, len(expected))
        assert [lib.key for lib in page.items] == expected[:PAGE_SIZE]
        endpoint, direct, body = self.timings(user, token)
        assert body["count"] == len(expected)
        assert [item["key"] for item in body["items"]] == expected[:PAGE_SIZE]
        result = {
            "label": label,
            "grants": len(grants.all),
            "visible": len(expected),
            "endpoint": endpoint,
            "visible_libraries": direct,
        }
        if fresh_connection:
            result["endpoint_fresh_connection"] = self.endpoint_fresh_connection(
                user.username, token
            )
        common.log(
            f"[libraries/{self.db}] {label}: endpoint p50 {endpoint['p50']:.1f} ms, p95 "
            f"{endpoint['p95']:.1f} ms; visible_libraries p50 "
            f"{result['visible_libraries']['p50']:.1f} ms ({len(expected):,} visible)"
        )
        return result


def _literal(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def main(db: str, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"machine": common.machine()}
    with common.django_on(db):
        from rollbook.catalog.models import Library

        bench = Bench(db, args)
        result["database"] = common.database_version()
        sqlite = db == "sqlite"
        common.log(f"[libraries/{db}] loading 100,000 libraries ({result['database']})")
        watch = common.Stopwatch()
        common.load_orgs(0, ORGS)
        common.load_libraries(ORGS, range(LIBRARIES_PER_ORG))
        common.load_background_users(100, 500, orgs=ORGS, libraries_per_org=LIBRARIES_PER_ORG)
        users, tokens, grant_sets = {}, {}, {}
        for total in (10_000, 20_000):
            users[total] = common.create_user(f"u{total // 1000}k")
            tokens[total] = common.token_for(users[total].username)
            grant_sets[total] = common.make_grants(
                total, orgs=ORGS, libraries_per_org=LIBRARIES_PER_ORG, seed=total
            )
            common.load_grants(users[total].id, grant_sets[total].all)
        common.create_user("staff", staff=True)
        staff_token = common.token_for("staff")
        common.settle()
        common.log(f"[libraries/{db}] loaded in {watch():.1f}s")
        result["data"] = {
            "orgs": ORGS,
            "user_grants": {str(k): g.describe() for k, g in grant_sets.items()},
            "background_grants": 100 * 500,
        }

        points: dict[str, Any] = {}
        points["1L1G"] = bench.point(
            "100,000 libraries, 10,000 grants",
            users[10_000],
            tokens[10_000],
            grant_sets[10_000],
            LIBRARIES_PER_ORG,
            fresh_connection=sqlite,
        )
        points["1L2G"] = bench.point(
            "100,000 libraries, 20,000 grants",
            users[20_000],
            tokens[20_000],
            grant_sets[20_000],
            LIBRARIES_PER_ORG,
            fresh_connection=False,
        )
        result["plans"] = bench.plans(users[10_000])
        staff_endpoint = bench.staff_listing("staff", staff_token, ORGS * LIBRARIES_PER_ORG)
        result["staff_100k"] = staff_endpoint
        common.log(f"[libraries/{db}] global staff (all 100,000): p95 {staff_endpoint['p95']:.1f}")
        naive = {"1L1G": bench.naive(users[10_000], full_allowed=True)}
        common.log(
            f"[libraries/{db}] naive scan: {naive['1L1G']['total_ms'] / 1000:.1f} s "
            f"({naive['1L1G']['method']})"
        )
        if "count" in naive["1L1G"]:
            expected = expected_keys(grant_sets[10_000], LIBRARIES_PER_ORG)
            assert naive["1L1G"]["count"] == len(expected)
            assert naive["1L1G"]["first_page"] == expected[:PAGE_SIZE]

        common.log(f"[libraries/{db}] loading 100,000 more libraries (100 more per org)")
        common.load_libraries(ORGS, range(LIBRARIES_PER_ORG, 2 * LIBRARIES_PER_ORG))
        common.settle()
        assert Library.objects.count() == 2 * ORGS * LIBRARIES_PER_ORG
        points["2L1G"] = bench.point(
            "200,000 libraries, 10,000 grants",
            users[10_000],
            tokens[10_000],
            grant_sets[10_000],
            2 * LIBRARIES_PER_ORG,
            fresh_connection=sqlite,
        )
        points["2L2G"] = bench.point(
            "200,000 libraries, 20,000 grants",
            users[20_000],
            tokens[20_000],
            grant_sets[20_000],
            2 * LIBRARIES_PER_ORG,
            fresh_connection=False,
        )
        result["plans_200k"] = bench.plans(users[10_000])
        naive["2L2G"] = bench.naive(users[20_000], full_allowed=False)
        result["points"] = points
        result["naive"] = naive

        base = points["1L1G"]
        result["target"] = {
            "p95_ms": TARGET_P95_MS,
            "passed": base["endpoint"]["p95"] <= TARGET_P95_MS,
        }
        scaling = {}
        for key in ("2L1G", "1L2G", "2L2G"):
            scaling[key] = {
                f"{what}_{stat}": points[key][what][stat] / base[what][stat]
                for what in ("endpoint", "visible_libraries")
                for stat in ("p50", "p95")
            }
        result["scaling"] = scaling
        naive_total = naive["1L1G"]["total_ms"]
        result["naive_ratio"] = {
            "vs_visible_libraries_p50": naive_total / base["visible_libraries"]["p50"],
            "vs_endpoint_p95": naive_total / base["endpoint"]["p95"],
            "target": TARGET_NAIVE_RATIO,
        }
        result["naive_ratio"]["passed"] = (
            result["naive_ratio"]["vs_endpoint_p95"] >= TARGET_NAIVE_RATIO
        )
        common.log(
            f"[libraries/{db}] scaling (p50): "
            + ", ".join(f"{k} {v['endpoint_p50']:.2f}x" for k, v in scaling.items())
            + f"; naive ratio {result['naive_ratio']['vs_endpoint_p95']:.0f}x"
        )
    return result


if __name__ == "__main__":
    common.run(main, __doc__ or "")
