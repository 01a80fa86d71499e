"""Reading what fpdf2 wrote, for tests (pypdf is not installed).

Each stream is read by its dictionary's `/Length`: deflated data may itself end in `\\r` or
`\\n`, so "everything up to the next endstream" drops a byte now and then. Core-font text is
`(literal) Tj` in the inflated page content.
"""

from __future__ import annotations

import re
import zlib

STREAM = re.compile(rb"/Length (\d+)\s*>>\s*stream\r?\n")
TEXT_SHOW = re.compile(rb"\(((?:[^()\\]|\\.)*)\) Tj")
UNESCAPE = re.compile(rb"\\(.)", re.S)


def streams(pdf: bytes) -> list[bytes]:
    """Every stream's raw bytes, in file order."""
    return [pdf[m.end() : m.end() + int(m.group(1))] for m in STREAM.finditer(pdf)]


def page_content(pdf: bytes) -> bytes:
    """The one inflated content stream that shows text; fails unless there is exactly one."""
    pages = [content for content in _inflated(pdf) if b" Tj" in content]
    assert len(pages) == 1
    return pages[0]


def texts(pdf: bytes) -> list[str]:
    """The strings shown on the page, in drawing order."""
    return [
        UNESCAPE.sub(rb"\1", match.group(1)).decode("cp1252")
        for content in _inflated(pdf)
        for match in TEXT_SHOW.finditer(content)
    ]


def _inflated(pdf: bytes) -> list[bytes]:
    inflated = []
    for data in streams(pdf):
        try:
            inflated.append(zlib.decompress(data))
        except zlib.error:  # not deflated (fpdf2 deflates every stream it writes)
            continue
    return inflated
