"""The certificate PDF: structure, determinism, its text, and the QR code it draws.

The page's content stream is read with `tests.certificates.pdfread`; fpdf2 writes each filled
rectangle as `x y w h re f`, in points from the bottom-left corner.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import qrcode
from qrcode.constants import ERROR_CORRECT_M

from rollbook.certificates.pdf import (
    PAGE_HEIGHT,
    QR_SIZE,
    QR_X,
    QR_Y,
    certificate_pdf,
    format_date,
    pdf_text,
    qr_matrix,
    qr_rectangles,
)
from tests.certificates import pdfread

POINTS_PER_MM = 72 / 25.4
CERTIFICATE_ID = "0f8e1c2a-1234-4bcd-9f00-aabbccddeeff"
VERIFY_URL = f"https://rollbook.example/certificates/{CERTIFICATE_ID}"
FILLED_RECT = re.compile(rb"^([\d.-]+) ([\d.-]+) ([\d.-]+) ([\d.-]+) re f$", re.M)


def _arguments(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "learner_name": "Ada Lovelace",
        "course_title": "Analytical Engines (Part 1)",
        "org": "RollbookX",
        "issued": dt.date(2025, 3, 1),
        "verify_url": VERIFY_URL,
        "certificate_id": CERTIFICATE_ID,
    }
    arguments.update(overrides)
    return arguments


def _dark_modules(data: str) -> set[tuple[int, int]]:
    """(row, column) of the dark modules, straight from qrcode."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    return {
        (row, column)
        for row, modules in enumerate(code.get_matrix())
        for column, dark in enumerate(modules)
        if dark
    }


def test_output_is_one_complete_pdf() -> None:
    pdf = certificate_pdf(**_arguments())
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 1
    assert b"/MediaBox [0 0 841.89 595.28]" in pdf  # A4, landscape


def test_same_inputs_give_the_same_bytes() -> None:
    assert certificate_pdf(**_arguments()) == certificate_pdf(**_arguments())
    assert certificate_pdf(**_arguments()) != certificate_pdf(
        **_arguments(issued=dt.date(2025, 3, 2))
    )


def test_metadata_names_the_document_its_date_and_producer() -> None:
    pdf = certificate_pdf(**_arguments())
    assert b"/Producer (rollbook)" in pdf
    assert b"/CreationDate (D:20250301000000Z)" in pdf
    assert b"/Title (Certificate: Analytical Engines \\(Part 1\\) - Ada Lovelace)" in pdf


def test_the_page_shows_every_field() -> None:
    texts = pdfread.texts(certificate_pdf(**_arguments()))
    for expected in (
        "Ada Lovelace",
        "Analytical Engines (Part 1)",
        "offered by RollbookX",
        "Issued on 1 March 2025",
        f"Certificate ID: {CERTIFICATE_ID}",
        VERIFY_URL,
    ):
        assert expected in texts


def test_the_verify_url_is_a_link() -> None:
    pdf = certificate_pdf(**_arguments())
    assert pdf.count(f"/URI ({VERIFY_URL})".encode()) == 2  # the URL text and the QR code


def test_the_qr_code_drawn_is_qrcodes_matrix_for_the_url() -> None:
    pdf = certificate_pdf(**_arguments())
    expected = _dark_modules(VERIFY_URL)
    size = len(qr_matrix(VERIFY_URL))
    module = QR_SIZE / size
    drawn = set()
    for match in FILLED_RECT.finditer(pdfread.page_content(pdf)):
        x, y, width, height = (float(value) / POINTS_PER_MM for value in match.groups())
        assert width == pytest.approx(module, abs=0.01)
        assert height == pytest.approx(-module, abs=0.01)  # drawn downwards from the top
        column = round((x - QR_X) / module)
        row = round((PAGE_HEIGHT - y - QR_Y) / module)
        drawn.add((row, column))
    assert len(FILLED_RECT.findall(pdfread.page_content(pdf))) == len(expected)
    assert drawn == expected


def test_qr_rectangles_are_one_square_per_dark_module() -> None:
    for data in (VERIFY_URL, "https://x.example/c/1", VERIFY_URL + "?" + "a" * 200):
        rectangles = qr_rectangles(data, x=0, y=0, size=100)
        dark = _dark_modules(data)
        assert len(rectangles) == len(dark)
        module = 100 / len(qr_matrix(data))
        assert {(round(r.y / module), round(r.x / module)) for r in rectangles} == dark
        assert all(r.w == r.h == pytest.approx(module) for r in rectangles)


def test_the_quiet_zone_stays_empty() -> None:
    matrix = qr_matrix(VERIFY_URL)
    for edge in range(4):
        assert not any(matrix[edge])
        assert not any(matrix[-1 - edge])
        assert not any(row[edge] or row[-1 - edge] for row in matrix)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Zoë Ångström", "Zoë Ångström"),  # in Windows-1252: kept as it is
        ("Łukasz Żółć", "Lukasz Zólc"),  # ó is in Windows-1252, the others fold
        ("Đorđe Őry", "Dorde Ory"),
        ("Šárka Žák", "Šárka Žák"),  # Š and Ž are in Windows-1252 (not in Latin-1)
        ("李雷", "??"),
        ("Renée  O'Brien\n", "Renée O'Brien"),
        ("Ana\u200bMaria\x07", "AnaMaria"),  # zero-width space, a control character
    ],
)
def test_names_outside_the_core_fonts_do_not_crash(name: str, shown: str) -> None:
    assert pdf_text(name) == shown
    pdf = certificate_pdf(**_arguments(learner_name=name))
    assert pdf.startswith(b"%PDF-")
    assert shown in pdfread.texts(pdf)


def test_the_metadata_title_keeps_the_exact_unicode_name() -> None:
    pdf = certificate_pdf(**_arguments(learner_name="李雷"))
    title = re.search(rb"/Title <feff([0-9a-f]+)>", pdf)
    assert title is not None
    assert bytes.fromhex(title.group(1).decode()).decode("utf-16-be").endswith("李雷")


def test_long_names_and_titles_are_shrunk_or_wrapped_not_lost() -> None:
    name = "Maria " + "Anna " * 20 + "Smith"
    title = "A Very Long Course Title About Many Things " * 4
    pdf = certificate_pdf(**_arguments(learner_name=name, course_title=title.strip()))
    shown = " ".join(pdfread.texts(pdf))
    assert "Maria" in shown
    assert "Smith" in shown
    assert shown.count("Many Things") == 4


def test_dates_are_written_in_english_whatever_the_locale() -> None:
    assert format_date(dt.date(2024, 12, 31)) == "31 December 2024"
    assert format_date(dt.date(2025, 1, 5)) == "5 January 2025"
