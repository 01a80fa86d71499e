"""Person names: rollbook stores one full name; standards that want its parts get them here."""

from __future__ import annotations


def split_full_name(name: str) -> tuple[str, str]:
    """(given, family) from a full name: the last word is the family name, the words before
    it the given name; one word is a given name alone; blank gives ("", "")."""
    words = name.split()
    if not words:
        return "", ""
    if len(words) == 1:
        return words[0], ""
    return " ".join(words[:-1]), words[-1]
