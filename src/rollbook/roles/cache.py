"""The role cache: a user's grants indexed by course key, for O(1) checks.

Grants without a course (org and global) sit under one shared key, "". Each key maps to a
set of (role, org) pairs. The expanded table also holds, for every grant, the roles it
satisfies by inheritance, so a non-strict check is one dict look-up and one set look-up,
whatever the number of grants; the strict table holds only what was granted.
"""

from __future__ import annotations

from collections.abc import Iterable

from rollbook.roles.data import satisfied_by

_EMPTY: frozenset[tuple[str, str]] = frozenset()
# Inheritance expansion of each role, memoised: grants repeat a handful of role names.
_SATISFIES: dict[str, tuple[str, ...]] = {}


class RoleCache:
    __slots__ = ("_expanded", "_strict")

    def __init__(self, grants: Iterable[tuple[str, str, str]] = ()) -> None:
        """`grants`: (role, org, course_key) tuples, as fetched from the database."""
        strict: dict[str, set[tuple[str, str]]] = {}
        expanded: dict[str, set[tuple[str, str]]] = {}
        for role, org, course_key in grants:
            strict.setdefault(course_key, set()).add((role, org))
            roles = _SATISFIES.get(role)
            if roles is None:
                roles = _SATISFIES.setdefault(role, satisfied_by(role))
            bucket = expanded.setdefault(course_key, set())
            for satisfied in roles:
                bucket.add((satisfied, org))
        self._strict = strict
        self._expanded = expanded

    def has_role(
        self, role: str, course_key: str = "", org: str = "", *, strict: bool = False
    ) -> bool:
        """Course role: pass the course (or library) key and its org. Org role: the org alone.
        Global role: neither."""
        table = self._strict if strict else self._expanded
        return (role, org) in table.get(course_key, _EMPTY)

    def has_any(self, roles: Iterable[str], course_key: str = "", org: str = "") -> bool:
        bucket = self._expanded.get(course_key, _EMPTY)
        return any((role, org) in bucket for role in roles)

    def course_keys(self) -> list[str]:
        """Every course or library key the user holds a grant on."""
        return [key for key in self._strict if key]

    def org_roles(self) -> set[tuple[str, str]]:
        """(role, org) of the org-level and global grants (global ones have org "")."""
        return set(self._strict.get("", _EMPTY))

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._strict.values())
