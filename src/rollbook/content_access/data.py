from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StructureVersion:
    course_key: str
    version: int
    blocks: int
    created: dt.datetime
    collected_bytes: int


@dataclass(frozen=True, slots=True)
class CohortData:
    course_key: str
    name: str
    partition_id: int
    group_id: int
    is_default: bool
    members: int
