"""A secret kept in a file of the data dir, written once however many processes start at once.

The file appears with its whole content or not at all: it is written to a temporary file
(mode 0600, in the same directory) and hard-linked into place, which fails when another
process got there first; every caller then reads that one. Settings import this module, so it
uses nothing of Django.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def read_secret(path: Path) -> str | None:
    """The file's text, stripped, or None when there is no file."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def create_once(path: Path, text: str) -> str:
    """Store `text` at `path` unless a secret is there already; returns the stored secret
    (`text`, or what another process stored first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # Atomic and exclusive: unlike os.replace, an existing secret is never replaced.
            os.link(temp_name, path)
        except FileExistsError:
            return read_secret(path) or ""
        _fsync_directory(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
    return text.strip()


def _fsync_directory(directory: Path) -> None:
    """Make the new directory entry durable (where the platform allows opening a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on a directory
        pass
    finally:
        os.close(fd)
