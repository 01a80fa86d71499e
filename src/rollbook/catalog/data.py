from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class Mode(StrEnum):
    """Enrollment modes (tracks), as Open edX names them."""

    AUDIT = "audit"
    HONOR = "honor"
    VERIFIED = "verified"
    PROFESSIONAL = "professional"
    NO_ID_PROFESSIONAL = "no-id-professional"
    MASTERS = "masters"


KNOWN_MODES: tuple[str, ...] = tuple(mode.value for mode in Mode)
DEFAULT_MODES: tuple[str, ...] = (Mode.AUDIT.value,)
# Modes whose learners may earn a certificate (Open edX: audit never does).
CERTIFICATE_ELIGIBLE_MODES: frozenset[str] = frozenset(KNOWN_MODES) - {Mode.AUDIT.value}


@dataclass(frozen=True, slots=True)
class CourseData:
    id: int
    key: str
    org: str
    title: str
    start: dt.datetime | None
    end: dt.datetime | None
    modes: tuple[str, ...]
    default_mode: str
    sis_id: str
    enrollment_open: bool
    days_early_for_beta: int | None
    passing_grade: float


@dataclass(frozen=True, slots=True)
class LibraryData:
    id: int
    key: str
    org: str
    title: str
