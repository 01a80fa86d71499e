from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rollbook.lib.names import split_full_name


def test_split_full_name() -> None:
    assert split_full_name("Mary Ann Smith") == ("Mary Ann", "Smith")
    assert split_full_name("  Bob   Jones ") == ("Bob", "Jones")
    assert split_full_name("Cher") == ("Cher", "")
    assert split_full_name("   ") == ("", "")


@given(st.lists(st.text(alphabet="abcXYZé-'", min_size=1), max_size=6))
def test_parts_rejoin_to_the_words(words: list[str]) -> None:
    given_name, family = split_full_name(" ".join(words))
    assert " ".join(part for part in (given_name, family) if part) == " ".join(words)
    assert " " not in family
