"""Page-numbered lists: `{"items": [...], "count": N, "page": P, "page_size": S}`.

`api.py` functions take a `PageRequest` and return a `Page` of frozen dataclasses; REST views
take `PageQuery` from the query string and answer `PageOut[ItemSchema]`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ninja import Field, Schema

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

T = TypeVar("T")
M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    count: int
    page: int
    page_size: int


def paginate(queryset: Any, request: PageRequest, convert: Callable[[M], T]) -> Page[T]:
    """One COUNT and one page query; `convert` turns each row into its boundary dataclass."""
    count = queryset.count()
    rows = queryset[request.offset : request.offset + request.page_size]
    return Page([convert(row) for row in rows], count, request.page, request.page_size)


class PageQuery(Schema):
    page: int = Field(1, ge=1, description="Page number, from 1.")
    page_size: int = Field(
        DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Items per page (1 to 1000)."
    )

    def request(self) -> PageRequest:
        return PageRequest(self.page, self.page_size)


class PageOut(Schema, Generic[T]):
    items: list[T]
    count: int
    page: int
    page_size: int
