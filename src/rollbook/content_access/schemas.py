from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Schema


class GroupIn(Schema):
    id: int
    name: str = ""
    mode: str | None = Field(None, description="enrollment_track partitions: the mode.")


class PartitionIn(Schema):
    id: int
    name: str = ""
    scheme: Literal["cohort", "enrollment_track", "random"]
    active: bool = True
    groups: list[GroupIn] = Field(default_factory=list)


class BlockIn(Schema):
    id: str
    type: str
    display_name: str = ""
    children: list[str] = Field(default_factory=list)
    group_access: dict[str, list[int] | None] | None = Field(
        None, description="partition id -> allowed group ids; missing, null or [] is none."
    )
    visible_to_staff_only: bool = False
    start: dt.datetime | None = None
    user_partition_id: int | None = Field(None, description="split_test blocks.")
    group_id_to_child: dict[str, str] | None = Field(None, description="split_test blocks.")


class StructureIn(Schema):
    root: str
    blocks: list[BlockIn]
    user_partitions: list[PartitionIn] = Field(default_factory=list)


class StructureOut(Schema):
    course_key: str
    version: int
    blocks: int
    created: dt.datetime
    collected_bytes: int = Field(description="The collected data, compressed.")


class BlockOut(Schema):
    type: str
    display_name: str
    children: list[str]


class BlocksOut(Schema):
    root: str
    blocks: dict[str, BlockOut]


class PartitionCheckOut(Schema):
    partition_id: int
    partition: str
    scheme: str
    user_group: int | None
    user_group_name: str
    allowed_groups: list[int]
    allows: bool


class AccessOut(Schema):
    block_id: str
    username: str
    visible: bool
    reasons: list[str]
    partitions: list[PartitionCheckOut]
    path: list[str] = Field(description="Visible blocks from the root that reach the block.")
    staff_only: bool
    course_staff: bool
    start: str | None
    started: bool
    version: int


class CohortIn(Schema):
    partition_id: int
    group_id: int
    is_default: bool = False


class CohortOut(Schema):
    course_key: str
    name: str
    partition_id: int
    group_id: int
    is_default: bool
    members: int


class MemberOut(Schema):
    course_key: str
    cohort: str
    username: str
    changed: bool
