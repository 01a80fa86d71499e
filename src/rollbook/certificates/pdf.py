"""The printable certificate: one landscape A4 page with a QR code to its verify page.

fpdf2 lays out the page in the 14 core PDF fonts (nothing embedded, nothing fetched); the QR
code is qrcode's module matrix drawn as one filled square per dark module, so no image
library is involved. The same inputs give the same bytes: the creation date is the issue
date, the file id is fpdf2's hash of the content, and nothing else varies between runs.

The core fonts speak Windows-1252 only (fpdf2 declares them WinAnsiEncoding). Text outside
it is folded (`pdf_text`): accents that have no precomposed form there are dropped
("Ő" -> "O"), and what has no Latin reading at all ("李雷") becomes "?". The document title
in the PDF metadata keeps the exact Unicode name. Pure: no Django models, no I/O.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

import qrcode
from fpdf import FPDF
from qrcode.constants import ERROR_CORRECT_M

PRODUCER = "rollbook"
PAGE_FORMAT = "A4"
PAGE_WIDTH = 297.0  # mm, landscape A4
PAGE_HEIGHT = 210.0
MARGIN = 20.0
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN
CORE_FONT_ENCODING = "cp1252"  # what fpdf2's WinAnsiEncoding core fonts can show
UNPRINTABLE = "?"
INVISIBLE_CATEGORIES = ("Cc", "Cf")  # control and format characters (e.g. zero-width joiner)
# Letters with a stroke or without a dot have no Unicode decomposition to fold them by.
STROKED_LETTERS = {
    "Ł": "L",
    "ł": "l",
    "Đ": "D",
    "đ": "d",
    "Ħ": "H",
    "ħ": "h",
    "Ŧ": "T",
    "ŧ": "t",
    "\u0131": "i",  # dotless i
}
QR_BORDER = 4  # modules of quiet zone, the minimum the QR specification asks for
QR_SIZE = 36.0  # mm, quiet zone included
QR_X = PAGE_WIDTH - MARGIN - QR_SIZE
QR_Y = PAGE_HEIGHT - MARGIN - QR_SIZE - 6.0
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

HEADING = "CERTIFICATE OF COMPLETION"
TEXT_CERTIFIES = "This is to certify that"
TEXT_COMPLETED = "has successfully completed"
TEXT_OFFERED_BY = "offered by {org}"
TEXT_ISSUED = "Issued on {date}"
TEXT_CERTIFICATE_ID = "Certificate ID: {certificate_id}"
TEXT_VERIFY_AT = "Verify this certificate at:"
TEXT_SCAN = "Scan to verify"
DOCUMENT_TITLE = "Certificate: {course_title} - {learner_name}"
DOCUMENT_SUBJECT = "Certificate of completion of {course_title}, issued by {org}"


@dataclass(frozen=True, slots=True)
class Rect:
    """A filled rectangle in mm from the page's top-left corner."""

    x: float
    y: float
    w: float
    h: float


def qr_matrix(data: str) -> list[list[bool]]:
    """qrcode's module matrix for `data` (error correction M), quiet zone included;
    True is a dark module."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QR_BORDER)
    code.add_data(data)
    code.make(fit=True)
    return [[bool(module) for module in row] for row in code.get_matrix()]


def qr_rectangles(
    data: str, *, x: float = QR_X, y: float = QR_Y, size: float = QR_SIZE
) -> list[Rect]:
    """One square per dark module of `data`'s QR code, filling `size` mm from (x, y);
    row by row, left to right: exactly what `certificate_pdf` draws."""
    matrix = qr_matrix(data)
    module = size / len(matrix)
    return [
        Rect(x + column * module, y + row * module, module, module)
        for row, modules in enumerate(matrix)
        for column, dark in enumerate(modules)
        if dark
    ]


def pdf_text(text: str) -> str:
    """`text` in what the core fonts can show: whitespace runs become one space, control and
    format characters go, and a character outside Windows-1252 is replaced by its
    decomposition's encodable part (accents dropped; "Ł" and its kin by their base letter),
    or by "?" when none is left."""
    folded: list[str] = []
    for char in " ".join(text.split()):
        if unicodedata.category(char) in INVISIBLE_CATEGORIES:
            continue
        if _encodable(char):
            folded.append(char)
            continue
        if char in STROKED_LETTERS:
            folded.append(STROKED_LETTERS[char])
            continue
        base = "".join(
            part
            for part in unicodedata.normalize("NFKD", char)
            if not unicodedata.combining(part) and _encodable(part)
        )
        folded.append(base or UNPRINTABLE)
    return "".join(folded)


def _encodable(char: str) -> bool:
    try:
        char.encode(CORE_FONT_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def format_date(day: dt.date) -> str:
    """'1 March 2025', the same whatever the process locale."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def certificate_pdf(
    *,
    learner_name: str,
    course_title: str,
    org: str,
    issued: dt.date,
    verify_url: str,
    certificate_id: str,
) -> bytes:
    """The certificate as PDF bytes; the same arguments always give the same bytes."""
    pdf = FPDF(orientation="landscape", unit="mm", format=PAGE_FORMAT)
    pdf.core_fonts_encoding = CORE_FONT_ENCODING
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_title(DOCUMENT_TITLE.format(course_title=course_title, learner_name=learner_name))
    pdf.set_subject(DOCUMENT_SUBJECT.format(course_title=course_title, org=org))
    pdf.set_author(org)
    pdf.set_creator(PRODUCER)
    pdf.set_producer(PRODUCER)
    pdf.set_lang("en")
    pdf.set_creation_date(dt.datetime.combine(issued, dt.time(0), tzinfo=dt.UTC))
    pdf.add_page()

    pdf.set_draw_color(40, 60, 100)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, PAGE_WIDTH - 20, PAGE_HEIGHT - 20, style="D")
    pdf.set_line_width(0.3)
    pdf.rect(13, 13, PAGE_WIDTH - 26, PAGE_HEIGHT - 26, style="D")

    pdf.set_text_color(40, 60, 100)
    pdf.set_y(30)
    _centered(pdf, HEADING, "helvetica", "B", 26, 16, 12)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(8)
    _centered(pdf, TEXT_CERTIFIES, "helvetica", "", 14, 14, 8)
    pdf.ln(3)
    _centered(pdf, pdf_text(learner_name), "times", "BI", 36, 18, 16)
    pdf.ln(3)
    _centered(pdf, TEXT_COMPLETED, "helvetica", "", 14, 14, 8)
    pdf.ln(3)
    _centered(pdf, pdf_text(course_title), "helvetica", "B", 22, 12, 11)
    pdf.ln(2)
    _centered(pdf, pdf_text(TEXT_OFFERED_BY.format(org=org)), "helvetica", "", 14, 10, 8)
    pdf.ln(2)
    _centered(pdf, TEXT_ISSUED.format(date=format_date(issued)), "helvetica", "", 12, 10, 7)

    block_width = QR_X - MARGIN - 8
    pdf.set_xy(MARGIN, QR_Y + 4)
    pdf.set_font("helvetica", "", 9)
    pdf.multi_cell(
        block_width,
        5,
        pdf_text(TEXT_CERTIFICATE_ID.format(certificate_id=certificate_id)),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    pdf.cell(block_width, 5, TEXT_VERIFY_AT, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("courier", "", 9)
    pdf.set_text_color(20, 40, 160)
    pdf.multi_cell(
        block_width, 4.5, pdf_text(verify_url), link=verify_url, new_x="LMARGIN", new_y="NEXT"
    )

    pdf.set_fill_color(0, 0, 0)
    for rect in qr_rectangles(verify_url):
        pdf.rect(rect.x, rect.y, rect.w, rect.h, style="F")
    pdf.link(QR_X, QR_Y, QR_SIZE, QR_SIZE, verify_url)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("helvetica", "", 8)
    pdf.set_xy(QR_X, QR_Y + QR_SIZE)
    pdf.cell(QR_SIZE, 4, TEXT_SCAN, align="C")

    return bytes(pdf.output())


def _centered(
    pdf: FPDF,
    text: str,
    family: str,
    style: str,
    size: float,
    min_size: float,
    line_height: float,
) -> None:
    """`text` centred on the page at the largest size from `size` down to `min_size` that
    fits one line; wrapped over several lines if even `min_size` does not fit."""
    pdf.set_font(family, style, size)
    while size > min_size and pdf.get_string_width(text) > TEXT_WIDTH:
        size -= 1
        pdf.set_font(family, style, size)
    pdf.set_x(MARGIN)
    pdf.multi_cell(TEXT_WIDTH, line_height, text, align="C", new_x="LMARGIN", new_y="NEXT")
