from __future__ import annotations

from enum import StrEnum


class JobErrorCode(StrEnum):
    JOB_NOT_FOUND = "job_not_found"
    UNKNOWN_JOB_KIND = "unknown_job_kind"
    INVALID_JOB_STATE = "invalid_job_state"


MSG_JOB_NOT_FOUND = "No job {job_id}."
MSG_UNKNOWN_JOB_KIND = "No job kind '{kind}' is registered."
MSG_INVALID_JOB_STATE = "Job {job_id} is {state}; this needs it to be {expected}."
# Errors kept on a job row, at most: the counts say how many there were in all.
MAX_STORED_ERRORS = 1000
