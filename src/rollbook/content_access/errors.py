from __future__ import annotations

from enum import StrEnum


class ContentErrorCode(StrEnum):
    NO_STRUCTURE = "no_structure"
    UNKNOWN_BLOCK = "unknown_block"
    COHORT_NOT_FOUND = "cohort_not_found"
    NOT_A_COHORT_GROUP = "not_a_cohort_group"
    # Structure validation (the blocks module's StructureError codes).
    INVALID_STRUCTURE = "invalid_structure"


MSG_NO_STRUCTURE = "Course {course_key} has no structure yet: PUT .../structure first."
MSG_UNKNOWN_BLOCK = "Course {course_key} has no block {block_id}."
MSG_COHORT_NOT_FOUND = "Course {course_key} has no cohort {name!r}."
MSG_NOT_A_COHORT_GROUP = (
    "Partition {partition_id} of course {course_key} is not a cohort partition with group "
    "{group_id}."
)
