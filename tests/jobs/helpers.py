"""Job kinds for tests: a handler that counts its runs, and one that fails."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from rollbook.jobs import api as jobs

COUNTING = "test.counting"
FAILING = "test.failing"


@dataclass
class Runs:
    params: list[dict[str, Any]] = field(default_factory=list)


def counting_handler(runs: Runs) -> jobs.JobHandler:
    def handler(context: jobs.JobContext) -> dict[str, Any]:
        runs.params.append(context.params)
        context.count("done", 2)
        for record in context.params.get("refuse", []):
            context.error(record, "refused", f"{record} was refused")
        return {"echo": context.params.get("echo")}

    return handler


def failing_handler(context: jobs.JobContext) -> None:
    context.count("done")
    context.error("r1", "refused", "refused before the failure")
    raise ValueError("boom")


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Runs]:
    """Registers the test job kinds for one test; answers the counting kind's runs."""
    recorded = Runs()
    monkeypatch.setitem(jobs._HANDLERS, COUNTING, counting_handler(recorded))
    monkeypatch.setitem(jobs._HANDLERS, FAILING, failing_handler)
    return recorded
