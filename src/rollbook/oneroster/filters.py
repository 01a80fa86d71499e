"""OneRoster 1.2 query parameters: `filter`, `sort`/`orderBy` and `fields`, parsed.

A filter is one predicate or several joined by logical operators::

    familyName~'Sjov'
    status='active' AND dateLastModified>'2026-01-01T00:00:00Z'
    role='student' OR role='teacher'

- A predicate is a field (letters, digits and `_`, dotted for a nested field such as
  `org.sourcedId`), a comparison (`=`, `!=`, `>`, `>=`, `<`, `<=`, `~` for "contains") and a
  value in single quotes. A quote inside a value is written twice (`'O''Brien'`).
- `AND` and `OR` are upper case with white space around them. OneRoster 1.1 allowed two
  predicates and one kind of operator; rollbook reads any number and both kinds, `AND`
  binding tighter than `OR` (`a AND b OR c` is `(a AND b) OR c`), as SQL does.

What a field means and how its value is compared is the provider's business
(`Predicate.field` is the OneRoster name); this module only reads the text, and names the
position of what it cannot read. Errors carry the OneRoster `codeMinor` a provider answers
with (`invalid_filter_field`, `invalid_sort_field`, `invalid_selection_field`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "And",
    "Comparison",
    "Expression",
    "FilterError",
    "Or",
    "Predicate",
    "QueryErrorCode",
    "SortKey",
    "fields_of",
    "format_filter",
    "parse_fields",
    "parse_filter",
    "parse_sort",
]

MAX_FILTER_LENGTH = 2_000
MAX_PREDICATES = 20


class QueryErrorCode(StrEnum):
    """OneRoster's codeMinor values for query parameters that cannot be used."""

    INVALID_FILTER_FIELD = "invalid_filter_field"
    INVALID_SORT_FIELD = "invalid_sort_field"
    INVALID_SELECTION_FIELD = "invalid_selection_field"
    INVALID_BLANK_SELECTION_FIELD = "invalid_blank_selection_field"


class Comparison(StrEnum):
    EQ = "="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    CONTAINS = "~"


MSG_EMPTY = "The filter is empty."
MSG_TOO_LONG = "The filter is longer than {limit:,} characters."
MSG_TOO_MANY = "The filter has more than {limit} predicates."
MSG_EXPECTED_FIELD = "A field name was expected at position {position}."
MSG_EXPECTED_COMPARISON = (
    "A comparison (=, !=, >, >=, <, <=, ~) was expected after {field!r} at position {position}."
)
MSG_EXPECTED_VALUE = "A value in single quotes was expected at position {position}."
MSG_UNCLOSED_VALUE = "The value that starts at position {position} has no closing quote."
MSG_EXPECTED_OPERATOR = (
    "' AND ' or ' OR ' (upper case, with spaces around) was expected at position {position}."
)
MSG_BAD_SORT = "The sort field {field!r} is not a field name."
MSG_BAD_SELECTION = "The field {field!r} in 'fields' is not a field name."
MSG_BLANK_SELECTION = "'fields' names no field."


class FilterError(ValueError):
    """A query parameter that cannot be read: `code` (OneRoster codeMinor), `message`."""

    def __init__(self, code: QueryErrorCode, message: str, *, position: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Predicate:
    field: str
    comparison: Comparison
    value: str


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Expression, ...]


Expression = Predicate | And | Or

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# Longest first: ">=" before ">".
_COMPARISON = re.compile(r"!=|>=|<=|=|>|<|~")
_SPACE = re.compile(r"\s*")


def _skip(text: str, position: int) -> int:
    """The position after any white space at `position`."""
    found = _SPACE.match(text, position)
    return found.end() if found else position


_OPERATOR = re.compile(r"\s+(AND|OR)\s+")


def parse_filter(text: str) -> Expression:
    """The filter's expression; raises FilterError naming the position it cannot read."""
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(
            QueryErrorCode.INVALID_FILTER_FIELD, MSG_TOO_LONG.format(limit=MAX_FILTER_LENGTH)
        )
    if not text.strip():
        raise FilterError(QueryErrorCode.INVALID_FILTER_FIELD, MSG_EMPTY)
    position = _skip(text, 0)
    groups: list[list[Predicate]] = [[]]  # OR of ANDs
    count = 0
    while True:
        predicate, position = _predicate(text, position)
        count += 1
        if count > MAX_PREDICATES:
            raise FilterError(
                QueryErrorCode.INVALID_FILTER_FIELD, MSG_TOO_MANY.format(limit=MAX_PREDICATES)
            )
        groups[-1].append(predicate)
        rest = _skip(text, position)
        if rest == len(text):
            break
        operator = _OPERATOR.match(text, position)
        if operator is None:
            raise _error(MSG_EXPECTED_OPERATOR, position=rest)
        if operator[1] == "OR":
            groups.append([])
        position = operator.end()
    ands = [group[0] if len(group) == 1 else And(tuple(group)) for group in groups]
    return ands[0] if len(ands) == 1 else Or(tuple(ands))


def _error(template: str, *, position: int, **values: str) -> FilterError:
    message = template.format(position=position + 1, **values)  # 1-based for people
    return FilterError(QueryErrorCode.INVALID_FILTER_FIELD, message, position=position)


def _predicate(text: str, position: int) -> tuple[Predicate, int]:
    field = _FIELD.match(text, position)
    if field is None:
        raise _error(MSG_EXPECTED_FIELD, position=position)
    position = _skip(text, field.end())
    comparison = _COMPARISON.match(text, position)
    if comparison is None:
        raise _error(MSG_EXPECTED_COMPARISON, position=position, field=field[0])
    position = _skip(text, comparison.end())
    value, position = _quoted(text, position)
    return Predicate(field[0], Comparison(comparison[0]), value), position


def _quoted(text: str, position: int) -> tuple[str, int]:
    if position >= len(text) or text[position] != "'":
        raise _error(MSG_EXPECTED_VALUE, position=position)
    start = position
    position += 1
    chars: list[str] = []
    while True:
        end = text.find("'", position)
        if end < 0:
            raise _error(MSG_UNCLOSED_VALUE, position=start)
        chars.append(text[position:end])
        if text.startswith("''", end):  # a quote written twice is one quote
            chars.append("'")
            position = end + 2
            continue
        return "".join(chars), end + 1


def format_filter(expression: Expression) -> str:
    """The filter text of an expression (what `parse_filter` reads back as the same)."""
    if isinstance(expression, Predicate):
        value = expression.value.replace("'", "''")
        return f"{expression.field}{expression.comparison.value}'{value}'"
    joiner = " AND " if isinstance(expression, And) else " OR "
    return joiner.join(format_filter(part) for part in expression.parts)


@dataclass(frozen=True, slots=True)
class SortKey:
    field: str
    descending: bool = False


def parse_sort(sort: str | None, order_by: str | None = None) -> tuple[SortKey, ...]:
    """`sort=familyName,givenName` with `orderBy=asc|desc` (OneRoster's one direction for
    all), or the same list with a `-` before a field sorted descending. Empty: no sort."""
    if not sort or not sort.strip():
        return ()
    descending = (order_by or "asc").strip().lower() == "desc"
    keys: list[SortKey] = []
    for raw in sort.split(","):
        name = raw.strip()
        flip = name.startswith("-")
        name = name.removeprefix("-")
        if not _FIELD.fullmatch(name):
            raise FilterError(QueryErrorCode.INVALID_SORT_FIELD, MSG_BAD_SORT.format(field=raw))
        keys.append(SortKey(name, descending != flip))
    return tuple(keys)


def parse_fields(fields: str | None) -> tuple[str, ...] | None:
    """`fields=sourcedId,givenName`: the fields to answer, in order, without repeats; None
    when the parameter is absent (every field)."""
    if fields is None:
        return None
    names: list[str] = []
    for raw in fields.split(","):
        name = raw.strip()
        if not name:
            continue
        if not _FIELD.fullmatch(name):
            raise FilterError(
                QueryErrorCode.INVALID_SELECTION_FIELD, MSG_BAD_SELECTION.format(field=raw)
            )
        if name not in names:
            names.append(name)
    if not names:
        raise FilterError(QueryErrorCode.INVALID_BLANK_SELECTION_FIELD, MSG_BLANK_SELECTION)
    return tuple(names)


def fields_of(expression: Expression) -> Sequence[str]:
    """Every field the expression names, in order (for checking them against a resource)."""
    if isinstance(expression, Predicate):
        return [expression.field]
    return [field for part in expression.parts for field in fields_of(part)]
