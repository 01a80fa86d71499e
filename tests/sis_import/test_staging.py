"""Staging costs a constant number of statements per batch, and nothing for what is known."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rollbook.sis_import.data import PersonRecord
from rollbook.sis_import.models import StagedPerson
from rollbook.sis_import.staging import Stager

pytestmark = pytest.mark.django_db


def _stage(n: int, *, email: str = "x") -> tuple[int, Stager]:
    stager = Stager(changed_by="test", now=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        stager.add_all(
            PersonRecord("Banner", f"P{i}", email=f"{email}{i}@example.edu") for i in range(n)
        )
    return len(queries.captured_queries), stager


def test_new_records_cost_the_same_statements_for_10_or_800() -> None:
    small, _ = _stage(10)
    StagedPerson.objects.all().delete()
    large, stager = _stage(800)  # one read chunk (900 keys) and one batch either way
    assert large == small
    assert stager.result.counts["person"].created == 800


def test_known_records_cost_one_read_and_no_write() -> None:
    _stage(500)
    queries, stager = _stage(500)
    assert queries == 1  # the batch's digests
    assert stager.result.counts["person"].unchanged == 500


def test_changed_records_are_updated_and_counted() -> None:
    _stage(20)
    _, stager = _stage(20, email="y")
    assert stager.result.counts["person"].updated == 20
    assert StagedPerson.objects.get(sourcedid="P3").data["email"] == "y3@example.edu"
