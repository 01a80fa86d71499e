"""Building OneRoster 1.2 CSV zips by hand for tests."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from typing import Any

from rollbook.audit.data import Actor
from rollbook.jobs import api as jobs
from rollbook.jobs.data import JobData
from rollbook.lib import onerostercsv as spec
from rollbook.sis_import import api as sis

BINDINGS = {binding.name: binding for binding in spec.FILES}


def table(name: str, *rows: dict[str, str], extra: Sequence[str] = ()) -> str:
    """A data file: the binding's header, then each row (missing columns blank)."""
    binding = BINDINGS[name]
    columns = (*binding.columns, *extra)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return out.getvalue()


def manifest(modes: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(spec.MANIFEST_HEADER)
    modes_typed = {name: spec.Mode(mode) for name, mode in modes.items()}
    writer.writerows(spec.manifest_rows(modes_typed, system_name="test"))
    return out.getvalue()


def build(files: dict[str, str], *, mode: str = "bulk", raw: dict[str, str] | None = None) -> bytes:
    """A zip of the files given (name -> text, without `.csv`) and a manifest naming each
    with `mode`; `raw` adds members as they are (name -> text), no manifest entry."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(spec.MANIFEST, manifest(dict.fromkeys(files, mode)))
        for name, text in files.items():
            archive.writestr(f"{name}.csv", text)
        for name, text in (raw or {}).items():
            archive.writestr(name, text)
    return out.getvalue()


def members(data: bytes) -> dict[str, list[dict[str, str]]]:
    """The data files of a zip as rows by column name (the manifest as one row)."""
    found: dict[str, list[dict[str, str]]] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            text = archive.read(name).decode("utf-8")
            found[name] = list(csv.DictReader(io.StringIO(text)))
    return found


def headers(data: bytes) -> dict[str, list[str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name: next(csv.reader(io.StringIO(archive.read(name).decode("utf-8"))))
            for name in archive.namelist()
        }


def import_feed(data: bytes, name: str = "roster.zip", **options: Any) -> JobData:
    """Import `data` (a OneRoster zip or IMS Enterprise XML) through the SIS pipeline in the
    foreground; the finished job."""
    started = sis.start_import(
        io.BytesIO(data),
        filename=name,
        actor=Actor.system("test"),
        options=sis.ImportOptions(**options),
        foreground=True,
    )
    assert started.job is not None, f"already imported as {started.already_imported_as}"
    return jobs.run_job(started.job.uuid)
