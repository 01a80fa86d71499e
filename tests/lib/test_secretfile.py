"""A secret file is written once, whole, readable only by its owner, however many race."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from rollbook.lib import secretfile


def test_the_first_secret_stays_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secret"
    assert secretfile.read_secret(path) is None
    assert secretfile.create_once(path, "first") == "first"
    assert secretfile.create_once(path, "second") == "first"
    assert secretfile.read_secret(path) == "first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret"]  # no temporary file left


def test_racing_writers_all_end_with_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    results: list[str] = []
    start = threading.Barrier(8)

    def write(n: int) -> None:
        start.wait()
        results.append(secretfile.create_once(path, f"secret-{n}"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert set(results) == {secretfile.read_secret(path)}
