"""lib.onerostercsv: value formats round-trip, headers are checked, the zip is read warily."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollbook.lib import onerostercsv as spec

_TYPE = st.text(
    alphabet=st.characters(blacklist_characters="{}:,", blacklist_categories=("Cs", "Zs", "Cc")),
    min_size=1,
    max_size=12,
)
_ID = st.text(
    alphabet=st.characters(blacklist_characters="{},", blacklist_categories=("Cs", "Zs", "Cc")),
    max_size=12,
)
_ITEM = st.text(
    alphabet=st.characters(blacklist_characters=",", blacklist_categories=("Cs", "Zs", "Cc")),
    min_size=1,
    max_size=12,
)


@given(st.lists(st.tuples(_TYPE, _ID), max_size=5))
def test_user_ids_read_back_as_written(pairs: list[tuple[str, str]]) -> None:
    assert spec.read_user_ids(spec.write_user_ids(pairs)) == pairs


@given(st.lists(_ITEM, max_size=6))
def test_lists_read_back_as_written(items: list[str]) -> None:
    assert spec.read_list(spec.write_list(items)) == items


@pytest.mark.parametrize("text", ["{SIS}", "SIS:1", "{a:b}{c:d", "{:x}"])
def test_malformed_user_ids_are_refused(text: str) -> None:
    with pytest.raises(spec.BadValue):
        spec.read_user_ids(text)


def test_booleans_dates_and_datetimes() -> None:
    assert spec.read_bool("true") is True
    assert spec.read_bool("false") is False
    assert spec.read_bool("") is None
    with pytest.raises(spec.BadValue):
        spec.read_bool("True")  # values are case-sensitive
    assert spec.read_date("2026-02-28").isoformat() == "2026-02-28"  # type: ignore[union-attr]
    for bad in ("2026-2-28", "2026-02-30", "28/02/2026"):
        with pytest.raises(spec.BadValue):
            spec.read_date(bad)
    moment = spec.read_datetime("2026-02-28T10:00:00.000Z")
    assert moment is not None
    assert moment.utcoffset() is not None
    assert spec.read_enum("ext:mentor", spec.ENROLLMENT_ROLES) == "ext:mentor"
    with pytest.raises(spec.BadValue):
        spec.read_enum("Student", spec.ENROLLMENT_ROLES)


def test_a_header_takes_metadata_columns_after_the_bindings_only() -> None:
    spec.check_header(spec.ORGS, [*spec.ORGS.columns, "metadata.region"])
    with pytest.raises(spec.CsvZipError) as caught:
        spec.check_header(spec.ORGS, [*spec.ORGS.columns, "region"])
    assert (caught.value.line, caught.value.column) == (1, len(spec.ORGS.columns) + 1)
    with pytest.raises(spec.CsvZipError) as caught:
        spec.check_header(spec.ORGS, list(spec.ORGS.columns[:-1]))
    assert caught.value.column == len(spec.ORGS.columns)


def _zip(*names: str) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, "x")
    out.seek(0)
    return out


@pytest.mark.parametrize("name", ["/etc/passwd", "../up.csv", "a/../../b.csv", "C:/x.csv", "\\\\x"])
def test_absolute_and_parent_member_names_are_refused(name: str) -> None:
    with pytest.raises(spec.CsvZipError) as caught:
        spec.CsvZip(_zip("manifest.csv", name))
    assert caught.value.problem is spec.ZipProblem.UNSAFE_NAME


def test_a_bom_is_skipped_and_blank_lines_ignored() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "manifest.csv",
            "\ufeffpropertyName,value\r\nmanifest.version,1.0\r\n\r\noneroster.version,1.2\r\n",
        )
    out.seek(0)
    assert spec.CsvZip(out).manifest() == {"manifest.version": "1.0", "oneroster.version": "1.2"}
