"""Parsing ahead on a thread: same records in the same order, errors in their place."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import pytest

from rollbook.sis_import import parser
from rollbook.sis_import.data import PersonRecord, Record
from rollbook.sis_import.errors import FeedError


def _persons(n: int) -> bytes:
    return "".join(
        f"<person><sourcedid><id>P{i}</id></sourcedid><email>p{i}@example.edu</email></person>"
        for i in range(n)
    ).encode()


def test_the_same_records_in_the_same_order() -> None:
    data = _persons(1000)
    direct = list(parser.iter_records(io.BytesIO(data)))
    ahead = list(parser.read_ahead(parser.iter_records(io.BytesIO(data))))
    assert ahead == direct
    assert len(ahead) == 1000


def test_a_feed_error_comes_after_the_records_before_it() -> None:
    data = _persons(600) + b"<person><sourcedid><id>broken</person>"
    seen: list[Record] = []

    def consume() -> None:
        seen.extend(parser.read_ahead(parser.iter_records(io.BytesIO(data))))

    with pytest.raises(FeedError) as error:
        consume()
    assert error.value.code == "malformed_xml"
    assert len(seen) == 600


def test_stopping_early_stops_the_thread() -> None:
    produced = threading.Event()

    def endless() -> Iterator[Record]:
        i = 0
        while True:
            produced.set()
            yield PersonRecord("Banner", f"P{i}")
            i += 1

    ahead = parser.read_ahead(endless(), depth=2)
    first = next(iter(ahead))
    assert first.sourcedid == "P0"  # type: ignore[union-attr]
    ahead.close()  # type: ignore[attr-defined]
    assert produced.is_set()
    assert not any(t.name == "sis-parse" and t.is_alive() for t in threading.enumerate())
