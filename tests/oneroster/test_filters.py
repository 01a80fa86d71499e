"""OneRoster query parameters: filter, sort/orderBy and fields."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollbook.oneroster.filters import (
    MAX_FILTER_LENGTH,
    MAX_PREDICATES,
    And,
    Comparison,
    Expression,
    FilterError,
    Or,
    Predicate,
    QueryErrorCode,
    SortKey,
    fields_of,
    format_filter,
    parse_fields,
    parse_filter,
    parse_sort,
)


def test_one_predicate_of_each_comparison() -> None:
    for comparison in Comparison:
        text = f"familyName{comparison.value}'Sjov'"
        assert parse_filter(text) == Predicate("familyName", comparison, "Sjov")


def test_white_space_around_the_comparison_and_a_nested_field() -> None:
    assert parse_filter("  org.sourcedId >= '2026-01-01T00:00:00Z' ") == Predicate(
        "org.sourcedId", Comparison.GE, "2026-01-01T00:00:00Z"
    )


def test_and_binds_tighter_than_or() -> None:
    a = Predicate("a", Comparison.EQ, "1")
    b = Predicate("b", Comparison.NE, "2")
    c = Predicate("c", Comparison.CONTAINS, "3")
    assert parse_filter("a='1' AND b!='2'") == And((a, b))
    assert parse_filter("a='1' OR b!='2'") == Or((a, b))
    assert parse_filter("a='1' AND b!='2' OR c~'3'") == Or((And((a, b)), c))
    assert parse_filter("c~'3' OR a='1' AND b!='2'") == Or((c, And((a, b))))


def test_a_quote_written_twice_is_one_quote_and_operators_inside_values_are_text() -> None:
    assert parse_filter("familyName='O''Brien'") == Predicate(
        "familyName", Comparison.EQ, "O'Brien"
    )
    assert parse_filter("title='A AND B OR C'") == Predicate("title", Comparison.EQ, "A AND B OR C")
    assert parse_filter("title=''") == Predicate("title", Comparison.EQ, "")


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("", None, "empty"),
        ("   ", None, "empty"),
        ("='x'", 1, "field name"),
        ("1abc='x'", 1, "field name"),
        ("name 'x'", 6, "comparison"),
        ("name==x", 6, "single quotes"),
        ("name=x", 6, "single quotes"),
        ("name='x", 6, "no closing quote"),
        ("name='x' and b='y'", 10, "AND"),
        ("name='x'AND b='y'", 9, "AND"),
        ("name='x' AND", 10, "AND"),
        ("name='x' AND b=", 16, "single quotes"),
        ("name='x' b='y'", 10, "AND"),
    ],
)
def test_what_cannot_be_read_is_named_with_its_position(
    text: str, position: int | None, words: str
) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    assert caught.value.code == QueryErrorCode.INVALID_FILTER_FIELD
    assert words in caught.value.message
    if position is not None:
        assert f"position {position}" in caught.value.message
        assert caught.value.position == position - 1


def test_limits() -> None:
    with pytest.raises(FilterError, match="longer than"):
        parse_filter("a='" + "x" * MAX_FILTER_LENGTH + "'")
    many = " AND ".join(f"f{n}='v'" for n in range(MAX_PREDICATES + 1))
    with pytest.raises(FilterError, match="more than"):
        parse_filter(many)
    enough = " AND ".join(f"f{n}='v'" for n in range(MAX_PREDICATES))
    assert len(fields_of(parse_filter(enough))) == MAX_PREDICATES


# ---------------------------------------------------------------- properties

NAME = r"[A-Za-z_][A-Za-z0-9_]{0,8}"
names = st.from_regex(rf"{NAME}(\.{NAME}){{0,2}}", fullmatch=True)
predicates = st.builds(
    Predicate,
    names,
    st.sampled_from(list(Comparison)),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
)
conjunctions = st.lists(predicates, min_size=1, max_size=4).map(
    lambda parts: parts[0] if len(parts) == 1 else And(tuple(parts))
)
expressions = st.lists(conjunctions, min_size=1, max_size=4).map(
    lambda parts: parts[0] if len(parts) == 1 else Or(tuple(parts))
)


@given(expressions)
def test_parsing_what_was_formatted_gives_the_expression_back(expression: Expression) -> None:
    assert parse_filter(format_filter(expression)) == expression


@given(st.text(max_size=80))
def test_any_text_parses_or_raises_a_filter_error(text: str) -> None:
    expression: Expression | FilterError
    try:
        expression = parse_filter(text)
    except FilterError as error:
        expression = error
    if isinstance(expression, FilterError):
        assert expression.code == QueryErrorCode.INVALID_FILTER_FIELD
        assert expression.message
    else:
        # What was read is what it says: formatting it and reading again is stable.
        assert parse_filter(format_filter(expression)) == expression


# ---------------------------------------------------------------- sort and fields


def test_sort_with_order_by_and_per_field_direction() -> None:
    assert parse_sort(None) == ()
    assert parse_sort(" ") == ()
    assert parse_sort("familyName") == (SortKey("familyName"),)
    assert parse_sort("familyName, givenName", "desc") == (
        SortKey("familyName", descending=True),
        SortKey("givenName", descending=True),
    )
    assert parse_sort("familyName,-dateLastModified", "asc") == (
        SortKey("familyName"),
        SortKey("dateLastModified", descending=True),
    )
    with pytest.raises(FilterError) as caught:
        parse_sort("family name")
    assert caught.value.code == QueryErrorCode.INVALID_SORT_FIELD


def test_fields_keep_their_order_without_repeats() -> None:
    assert parse_fields(None) is None
    assert parse_fields("sourcedId, givenName,sourcedId") == ("sourcedId", "givenName")
    with pytest.raises(FilterError) as caught:
        parse_fields(" , ")
    assert caught.value.code == QueryErrorCode.INVALID_BLANK_SELECTION_FIELD
    with pytest.raises(FilterError) as caught:
        parse_fields("sourcedId,given-name")
    assert caught.value.code == QueryErrorCode.INVALID_SELECTION_FIELD
